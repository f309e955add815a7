// `sluice model-run` (a model on a .npy batch) and `sluice model-bench` (model-only throughput).

#include <chrono>
#include <fstream>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "backend/cpu/cpu_executor.h"
#include "backend/op_profile.h"
#include "engine/backend_factory.h"
#ifdef SLUICE_WITH_CUDA
#include "backend/cuda/model_benchmark.h"
#endif
#include "cli/commands.h"
#include "model/model_loader.h"
#include "model/npy_file.h"

namespace sluice::cli {

namespace {

struct ModelRunOptions {
  std::string model;
  std::string input;
  std::string output;
  int threads = 0;
};

struct ModelBenchOptions {
  std::string model;
  int64_t batchSize = 32;
  int iterations = 10;
  int warmup = 2;
  int threads = 0;
  bool json = false;
  std::string device = "cpu";
  std::string precision = "auto";
  std::string cudnnAlgorithms = "heuristic";
  std::string profilePath;
  std::string cudnnCachePath;  // as JobOptions::cudnnCachePath
};

/// Eager passes a profile averages: enough to smooth the events' jitter, few enough to stay quick.
constexpr int kProfileRuns = 5;

nlohmann::json profileJson(const backend::ModelProfile& profile) {
  const double total = profile.totalMilliseconds();
  nlohmann::json kinds = nlohmann::json::array();
  for (const auto& kind : backend::totalsByKind(profile)) {
    kinds.push_back({{"kind", kind.kind},
                     {"ops", kind.ops},
                     {"ms", kind.milliseconds},
                     {"share", total > 0 ? kind.milliseconds / total : 0.0},
                     {"flops", kind.flops},
                     {"bytes", kind.bytes}});
  }
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : profile.ops) {
    ops.push_back({{"node", op.node},
                   {"kind", op.kind},
                   {"shape", op.shape},
                   {"detail", op.detail},
                   {"ms", op.milliseconds},
                   {"flops", op.flops},
                   {"bytes", op.bytes}});
  }
  return {{"batch_size", profile.batchSize},
          {"runs", profile.runs},
          {"forward_ms", profile.forwardMilliseconds},
          {"ops_ms", total},
          {"flops", profile.totalFlops()},
          {"by_kind", kinds},
          {"ops", ops}};
}

std::string joinDimensions(const std::vector<int64_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? "×" : "") + std::to_string(dims[i]);
  return text;
}

Result<std::unique_ptr<backend::CpuExecutor>> loadExecutor(const std::string& path, int threads) {
  SLUICE_ASSIGN_OR_RETURN(model::Graph graph, model::loadModel(path));
  Result<std::unique_ptr<backend::CpuExecutor>> executor =
      backend::CpuExecutor::Make(std::move(graph), backend::CpuExecutorOptions{threads});
  if (!executor.ok()) return executor.status().withContext("model " + path);
  return executor;
}

Status runModel(const ModelRunOptions& options) {
  SLUICE_ASSIGN_OR_RETURN(auto executor, loadExecutor(options.model, options.threads));
  SLUICE_ASSIGN_OR_RETURN(model::NpyArray input, model::readNpyFile(options.input));
  const auto shape = executor->inputShape();
  if (input.shape.size() != 4 || input.shape[1] != shape[0] || input.shape[2] != shape[1] ||
      input.shape[3] != shape[2] || input.shape[0] < 1) {
    return Status::InvalidArgument(
        "input " + options.input + " must have shape N×" + std::to_string(shape[0]) + "×" +
        std::to_string(shape[1]) + "×" + std::to_string(shape[2]) + " for model " + options.model + "; it has " +
        (input.shape.empty() ? std::string("no dimensions") : "shape " + joinDimensions(input.shape)));
  }
  const int64_t batch = input.shape[0];
  std::vector<float> output(batch * executor->outputSize());
  SLUICE_RETURN_IF_ERROR(executor->Run(input.data.data(), batch, output.data()));
  return model::writeNpyFile(options.output, {batch, executor->outputSize()}, output.data());
}

Result<double> benchCpu(const ModelBenchOptions& options);

/// Model-only images/s: the CPU executor on random input, or the CUDA executor (input on the device).
Status benchModel(const ModelBenchOptions& options) {
  engine::DeviceRequest request;
  request.device = options.device;
  request.precision = options.precision;
  SLUICE_ASSIGN_OR_RETURN(auto plans, engine::planBackends(request, {.modelPath = options.model}));
  const auto& plan = plans.front();
  const bool profiling = !options.profilePath.empty();
  if (profiling && plan.device != "cuda") {
    return Status::InvalidArgument("--profile times the CUDA executor's ops; this run is on the CPU (--device " +
                                   options.device + "): give --device cuda on a machine with a GPU");
  }
  if (profiling) SLUICE_RETURN_IF_ERROR(checkWritableFile("--profile", options.profilePath));
  double seconds = 0, setupSeconds = 0;
  StepSeconds setupSteps;
  std::string device = "cpu";
  backend::ModelProfile profile;
  std::string profileError;
  if (plan.device == "cuda") {
#ifdef SLUICE_WITH_CUDA
    SLUICE_ASSIGN_OR_RETURN(auto measured,
                            backend::cuda::benchmarkModel({.modelPath = options.model,
                                                           .deviceIndex = plan.deviceIndex,
                                                           .precision = plan.precision,
                                                           .batchSize = options.batchSize,
                                                           .warmup = options.warmup,
                                                           .iterations = options.iterations,
                                                           .timeAlgorithms = options.cudnnAlgorithms == "timed",
                                                           .algorithmCachePath =
                                                               engine::cudnnCachePath(options.cudnnCachePath),
                                                           .profileRuns = profiling ? kProfileRuns : 0}));
    seconds = measured.seconds;
    setupSeconds = measured.setupSeconds;
    setupSteps = measured.setupSteps;
    device = measured.device + (measured.graph ? ", CUDA graph" : ", eager");
    profile = std::move(measured.profile);
    profileError = std::move(measured.profileError);
#endif
  } else {
    const auto setupStart = std::chrono::steady_clock::now();
    SLUICE_ASSIGN_OR_RETURN(seconds, benchCpu(options));
    setupSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - setupStart).count() - seconds;
    device = "cpu (oneDNN, fp32)";
  }
  const double imagesPerSecond = options.batchSize * options.iterations / seconds;
  if (options.json) {
    nlohmann::json line = {{"model", options.model},
                           {"device", device},
                           {"precision", backend::precisionName(plan.precision)},
                           {"cudnn_algorithms", plan.device == "cuda" ? options.cudnnAlgorithms : "-"},
                           {"batch_size", options.batchSize},
                           {"iterations", options.iterations},
                           {"setup_seconds", setupSeconds},
                           {"setup_steps", setupSteps},
                           {"seconds", seconds},
                           {"images_per_second", imagesPerSecond}};
    if (profiling && profileError.empty()) {
      // The totals by kind ride along, for reports built from these lines; every op is in the file.
      nlohmann::json summary = profileJson(profile);
      summary.erase("ops");
      summary["file"] = options.profilePath;
      line["profile"] = summary;
    }
    if (!profileError.empty()) line["profile_error"] = profileError;
    std::cout << line.dump() << "\n";
  } else {
    std::cout << options.model << " on " << device << ": " << imagesPerSecond << " images/s (batch "
              << options.batchSize << ", " << options.iterations << " iterations in " << seconds << " s)\n";
  }
  if (!profiling) return Status::OK();
  if (!profileError.empty()) return Status::Internal("the profile failed: " + profileError);
  nlohmann::json written = profileJson(profile);
  written["model"] = options.model;
  written["device"] = device;
  written["precision"] = backend::precisionName(plan.precision);
  std::ofstream profileFile(options.profilePath);
  profileFile << written.dump(2) << "\n";
  profileFile.close();
  if (!profileFile) return Status::IoError("cannot write the profile to " + options.profilePath);
  // With --json, stdout carries the one line; the table goes to stderr.
  (options.json ? std::cerr : std::cout) << "\n" << backend::formatProfile(profile);
  return Status::OK();
}

/// Seconds for options.iterations timed batches of the CPU executor, after the warm-up.
Result<double> benchCpu(const ModelBenchOptions& options) {
  SLUICE_ASSIGN_OR_RETURN(auto executor, loadExecutor(options.model, options.threads));
  const auto shape = executor->inputShape();
  std::vector<float> input(options.batchSize * shape[0] * shape[1] * shape[2]);
  std::mt19937 random(42);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& value : input) value = normal(random);
  std::vector<float> output(options.batchSize * executor->outputSize());
  for (int i = 0; i < options.warmup; ++i) {
    SLUICE_RETURN_IF_ERROR(executor->Run(input.data(), options.batchSize, output.data()));
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iterations; ++i) {
    SLUICE_RETURN_IF_ERROR(executor->Run(input.data(), options.batchSize, output.data()));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void addModelCommands(CLI::App& root, int& exitCode) {
  auto runOptions = std::make_shared<ModelRunOptions>();
  CLI::App* run = root.add_subcommand("model-run", "Run a model on a float32 N×C×H×W .npy batch");
  run->add_option("--model", runOptions->model, "ONNX model file")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--input", runOptions->input, "float32 C-order .npy of shape N×C×H×W")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--output", runOptions->output, "where to write the N×outputs float32 .npy")
      ->required();
  run->add_option("--threads", runOptions->threads, "compute threads (0 = all cores)")
      ->capture_default_str()
      ->check(wholeNumberAtLeast(0));
  run->callback([runOptions, &exitCode] { exitCode = reportStatus(runModel(*runOptions)); });

  auto benchOptions = std::make_shared<ModelBenchOptions>();
  CLI::App* bench =
      root.add_subcommand("model-bench", "Measure model-only throughput on random input");
  bench->add_option("--model", benchOptions->model, "ONNX model file")
      ->required()
      ->check(CLI::ExistingFile);
  bench->add_option("--batch-size", benchOptions->batchSize, "images per batch")
      ->capture_default_str()
      ->check(wholeNumberAtLeast(1));
  bench->add_option("--iterations", benchOptions->iterations, "timed batches")
      ->capture_default_str()
      ->check(wholeNumberAtLeast(1));
  bench->add_option("--warmup", benchOptions->warmup, "untimed batches first")
      ->capture_default_str()
      ->check(wholeNumberAtLeast(0));
  bench->add_option("--threads", benchOptions->threads, "compute threads (0 = all cores)")
      ->capture_default_str()
      ->check(wholeNumberAtLeast(0));
  bench->add_flag("--json", benchOptions->json, "print one JSON line");
  bench->add_option("--device", benchOptions->device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  bench->add_option("--precision", benchOptions->precision, "GPU: fp32, tf32, fp16, bf16 (auto: fp16)")
      ->check(CLI::IsMember({"auto", "fp32", "tf32", "fp16", "bf16"}))
      ->capture_default_str();
  bench->add_option("--cudnn-algorithms", benchOptions->cudnnAlgorithms, kCudnnAlgorithmsHelp)
      ->check(CLI::IsMember({"heuristic", "timed"}))
      ->capture_default_str();
  bench->add_option("--cudnn-cache", benchOptions->cudnnCachePath, kCudnnCacheHelp);
  bench->add_option("--profile", benchOptions->profilePath,
                    "GPU: after the timed batches, time every op over 5 eager passes; write them to this JSON "
                    "file and print the totals by kind and the slowest ops");
  bench->callback([benchOptions, &exitCode] {
    exitCode = reportStatus(benchModel(*benchOptions));
  });
}

}  // namespace

SLUICE_REGISTER_COMMAND(addModelCommands);

}  // namespace sluice::cli
