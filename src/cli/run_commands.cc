// `sluice run`, `sluice preprocess` and `sluice predict`: the pipeline, whole or in two stages.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/progress_printer.h"
#include "core/byte_size.h"
#include "core/system_memory.h"
#include "engine/backend_factory.h"
#include "engine/pipeline.h"

namespace sluice::cli {

namespace {

/// Flag values as typed; turned into JobOptions (with validation) when the command runs.
struct RunFlags {
  engine::JobOptions job;
  std::string imageShape;
  std::string normalization = "imagenet";
  std::string memoryBudget;
  std::string reportPath;
  bool progress = false;
  bool noProgress = false;
  std::string cudnnAlgorithms = "heuristic";
};

void addCommonFlags(CLI::App& command, RunFlags& flags) {
  auto& job = flags.job;
  command.add_option("--input", job.input, "Parquet file, folder, glob or s3://bucket/prefix")->required();
  command.add_option("--output", job.output, "output folder or s3://bucket/prefix (one file per input file)")
      ->required();
  command.add_option("--image-column", job.imageColumn, "column holding the images")->capture_default_str();
  command.add_option("--limit", job.limit, "process only the first N images")->check(wholeNumberAtLeast(0));
  command.add_option("--cpu-workers", job.cpuWorkers, "preprocessing threads (default: one per core)")
      ->check(wholeNumberAtLeast(1));
  command.add_option("--memory-budget", flags.memoryBudget,
                     "memory the job may use, e.g. 2G (default: a quarter of RAM, 1G to 16G)");
  command.add_option("--pass-through", job.passThrough,
                     "input columns copied to the output (a name clashing with an output column gets an "
                     "input_ prefix)")
      ->delimiter(',');
  command.add_option("--report", flags.reportPath,
                     "write a JSON report of the job to this file (also when it fails after its flags were "
                     "checked: status, reason, what was done)");
  auto* progress =
      command.add_flag("--progress", flags.progress, "show progress on stderr even when it is not a terminal");
  command.add_flag("--no-progress", flags.noProgress, "never show progress")->excludes(progress);
  command.add_flag("--skip-bad-files", job.skipBadFiles,
                   "skip unreadable input files (listed in the report) instead of failing the job");
  command.add_flag("--resume", job.resume,
                   "skip input files whose output file already exists with a row for every input row (a file "
                   "cut short by --limit is written again)");
  // Not in --help: the previous way of reading list<uint8> pixels, kept to compare with (bench/).
  command.add_flag("--arrow-pixel-reader", job.arrowPixelReader,
                   "read list<uint8> pixels through Arrow's list arrays instead of streaming the pages")
      ->group("");
  command.add_option("--s3-endpoint", job.storage.s3Endpoint,
                     "S3 endpoint URL, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL, else AWS)");
}

void addImageFlags(CLI::App& command, RunFlags& flags, const std::string& defaultShape) {
  flags.imageShape = defaultShape;
  command.add_option("--image-shape", flags.imageShape, "H,W,C of raw-pixel images")->capture_default_str();
  command.add_option("--crop-size", flags.job.cropSize, "center crop size")
      ->check(wholeNumberAtLeast(1))
      ->capture_default_str();
  command.add_option("--resize-size", flags.job.resizeSize,
                     "encoded (JPEG/PNG) images: resize the short side to this before the center crop, as "
                     "torchvision's Resize (raw-pixel images are only cropped)")
      ->check(wholeNumberAtLeast(1))
      ->capture_default_str();
  command.add_option("--dct-scaling-margin", flags.job.dctScalingMargin,
                     "JPEGs: decode at 1/2, 1/4 or 1/8 scale (much faster) while the decoded short side stays "
                     ">= this times --resize-size; 0 = always decode at full size")
      ->capture_default_str();
}

void addDecodeFlag(CLI::App& command, RunFlags& flags) {
  command.add_option("--decode", flags.job.decode,
                     "where JPEGs are decoded: cpu, gpu (nvJPEG; what it cannot decode goes to the CPU) or auto "
                     "(GPU decoders beside the CPU workers when nvJPEG is built in and a GPU is visible)")
      ->check(CLI::IsMember({"cpu", "gpu", "auto"}))
      ->capture_default_str();
}

void addModelFlags(CLI::App& command, RunFlags& flags) {
  auto& job = flags.job;
  job.device = "auto";
  command.add_option("--model", job.modelPath, "ONNX model file")->required();
  command.add_option("--normalize", flags.normalization,
                     "imagenet: pixels scaled to [0,1] then mean/std; seed: mean/std on 0-255 values, as the "
                     "reference benchmark did")
      ->check(CLI::IsMember({"imagenet", "seed"}))
      ->capture_default_str();
  command.add_option("--topk", job.topk, "classes kept per image")->check(CLI::Range(1, 1000))->capture_default_str();
  command.add_flag("--logits", job.writeLogits, "also write the raw model outputs (column logits)");
  command.add_option("--device", job.device, "cpu, cuda or auto (CUDA when a GPU is visible, else CPU)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  command.add_option("--devices", job.devices, "GPUs to use, e.g. 0,1 (default: every visible GPU)")
      ->delimiter(',')
      ->check(wholeNumberAtLeast(0));
  command.add_option("--precision", job.precision,
                     "fp32 (true FP32), tf32, fp16 or bf16; auto: fp16 on GPUs, fp32 on the CPU")
      ->check(CLI::IsMember({"auto", "fp32", "tf32", "fp16", "bf16"}))
      ->capture_default_str();
  command.add_option("--batch-size", job.batchSize,
                     "images per inference batch (default: 32 on CPU, 256 on GPUs); a short batch (the last, or "
                     "one sent early while preprocessing catches up) runs padded to this size: it costs a full "
                     "batch, and predictions do not depend on how rows fell into batches")
      ->check(wholeNumberAtLeast(1));
  command.add_option("--inference-workers", job.inferenceWorkers,
                     "model instances, each on its own thread (default: one per GPU, one on the CPU)")
      ->check(wholeNumberAtLeast(1));
  command.add_option("--threads", job.threads,
                     "inference threads on CPU (default: the cores, shared among inference workers)")
      ->check(wholeNumberAtLeast(1));
  command.add_option("--cudnn-algorithms", flags.cudnnAlgorithms, kCudnnAlgorithmsHelp)
      ->check(CLI::IsMember({"heuristic", "timed"}))
      ->capture_default_str();
  command.add_option("--cudnn-cache", job.cudnnCachePath, kCudnnCacheHelp);
}

Status finishOptions(RunFlags& flags, const CLI::App& command) {
  auto& job = flags.job;
  SLUICE_ASSIGN_OR_RETURN(job.imageShape, image::parseImageShape(flags.imageShape));
  job.imageShapeGiven = command.count("--image-shape") > 0;
  // A crop larger than the default resize (raw images only need the crop) resizes to the crop.
  if (command.count("--resize-size") == 0 && job.cropSize > job.resizeSize) job.resizeSize = job.cropSize;
  SLUICE_ASSIGN_OR_RETURN(job.normalization, image::parseNormalization(flags.normalization));
  job.timeConvAlgorithms = flags.cudnnAlgorithms == "timed";
  if (!flags.memoryBudget.empty()) {
    SLUICE_ASSIGN_OR_RETURN(job.memoryBudgetBytes, parseByteSize(flags.memoryBudget));
    if (job.memoryBudgetBytes == 0) {
      return Status::InvalidArgument("--memory-budget must be more than 0 (leave it out for the default: a quarter "
                                     "of the memory, between 1 and 16 GiB)");
    }
    if (job.memoryBudgetBytes > physicalMemoryBytes()) {
      std::cerr << "sluice: warning: --memory-budget " << formatByteSize(job.memoryBudgetBytes)
                << " is more than this machine's memory (" << formatByteSize(physicalMemoryBytes()) << ")\n";
    }
  }
  return Status::OK();
}

// SIGINT/SIGTERM during a job: the first asks the pipeline to stop cleanly (temporary files
// removed, complete outputs kept) and puts both signals back to their default, so a second one of
// either ends the process at once. Once the job has stopped, main() re-raises the signal, so a shell
// loop or a service manager sees the process end by it, as without the handler.
std::atomic<bool> stopRequested{false};
volatile std::sig_atomic_t stopSignal = 0;

extern "C" void onStopSignal(int signal) {
  const int savedErrno = errno;
  stopSignal = signal;
  stopRequested.store(true);  // lock-free, so safe in a handler
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  const char message[] = "\nsluice: stopping; interrupt again to quit at once\n";
  [[maybe_unused]] auto written = write(STDERR_FILENO, message, sizeof message - 1);
  errno = savedErrno;
}

/// Handlers for the job's duration. SIGPIPE is ignored meanwhile: Ctrl-C in `sluice run | tee log`
/// also ends tee, and a write to its pipe must not kill sluice before it has cleaned up.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
  }
  ~StopSignals() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGPIPE, SIG_DFL);
  }
};

}  // namespace

int pendingStopSignal() { return stopSignal; }

namespace {

Status writeReport(const engine::JobReport& report, const std::string& path) {
  std::ofstream out(path);
  if (!out) return Status::IoError("cannot write the report to " + path + " (" + std::strerror(errno) + ")");
  out << report.toJson().dump(2) << "\n";
  out.close();
  if (!out) return Status::IoError("cannot write the report to " + path + " (" + std::strerror(errno) + ")");
  return Status::OK();
}

int runJobCommand(RunFlags& flags, const CLI::App& command) {
  Status status = finishOptions(flags, command);
  if (status.ok() && !flags.reportPath.empty()) status = checkWritableFile("--report", flags.reportPath);
  if (!status.ok()) return reportStatus(status);
  flags.job.stopRequested = &stopRequested;
  // Default: progress when stderr is a terminal.
  ProgressPrinter progress(flags.progress || (!flags.noProgress && isatty(STDERR_FILENO)));
  engine::JobCallbacks callbacks;
  callbacks.onProgress = [&](const engine::JobProgress& state) { progress.update(state); };
  // Files in --output this job does not write: only the CLI asks, Spark tasks share an output folder
  // by design. Said before any work, so that a wrong --output can be stopped early.
  callbacks.onNote = [&](const std::string& note) { progress.note(note); };
  engine::JobResult result;
  {
    StopSignals stopSignals;
    result = engine::runJob(flags.job, engine::makeBackend, callbacks);
  }
  progress.finish();
  // A failed job's report says what was done before it failed: files committed, time, stages.
  Status reportWritten = flags.reportPath.empty() ? Status::OK() : writeReport(result.report, flags.reportPath);
  if (!result.status.ok()) {
    const int exitCode = reportStatus(result.status);
    reportStatus(reportWritten);  // the job's failure decides the exit code; a lost report is said too
    return exitCode;
  }
  std::cout << result.report.summary();
  if (!reportWritten.ok()) return reportStatus(reportWritten);
  return 0;
}

void addRunCommands(CLI::App& root, int& exitCode) {
  struct JobCommand {
    const char* name;
    const char* description;
    engine::JobMode mode;
    const char* defaultImageShape;
    bool usesModel;
  };
  static const JobCommand kCommands[] = {
      {"run", "read images, preprocess and predict in one pass; write predictions", engine::JobMode::kRun,
       "256,256,3", true},
      {"preprocess", "stage 1 of 2: read images, write center-cropped uint8 crops to Parquet (no model)",
       engine::JobMode::kPreprocess, "256,256,3", false},
      {"predict", "stage 2 of 2: read crops written by `sluice preprocess` and predict", engine::JobMode::kPredict,
       "224,224,3", true},
  };
  // The flag structs live as long as the app: CLI11 writes into them while parsing.
  static RunFlags flags[std::size(kCommands)];
  for (size_t i = 0; i < std::size(kCommands); ++i) {
    const JobCommand& spec = kCommands[i];
    RunFlags& commandFlags = flags[i];
    auto* command = root.add_subcommand(spec.name, spec.description);
    addCommonFlags(*command, commandFlags);
    addImageFlags(*command, commandFlags, spec.defaultImageShape);
    if (spec.mode != engine::JobMode::kPredict) addDecodeFlag(*command, commandFlags);
    if (spec.usesModel) addModelFlags(*command, commandFlags);
    command->callback([command, &commandFlags, &spec, &exitCode] {
      commandFlags.job.mode = spec.mode;
      exitCode = runJobCommand(commandFlags, *command);
    });
  }
}

}  // namespace

SLUICE_REGISTER_COMMAND(addRunCommands);

}  // namespace sluice::cli
