#include "backend/cuda/model_benchmark.h"

#include <cuda_runtime.h>

#include <chrono>
#include <optional>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_devices.h"
#include "backend/cuda/cuda_executor.h"
#include "model/model_loader.h"

namespace sluice::backend::cuda {

Result<ModelBenchmark> benchmarkModel(const ModelBenchmarkOptions& options) {
  const int deviceIndex = options.deviceIndex, iterations = options.iterations, profileRuns = options.profileRuns;
  const int64_t batchSize = options.batchSize;
  const auto start = std::chrono::steady_clock::now();
  ModelBenchmark result;
  StepClock clock(result.setupSteps);
  const CudaProbe& probe = probeCuda();
  if (deviceIndex < 0 || deviceIndex >= static_cast<int>(probe.gpus.size())) {
    return Status::InvalidArgument("GPU " + std::to_string(deviceIndex) + " is not available" +
                                   (probe.problem.empty() ? "" : ": " + probe.problem));
  }
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(deviceIndex));
  clock.step("CUDA context");
  SLUICE_ASSIGN_OR_RETURN(auto graph, model::loadModel(options.modelPath));
  clock.step("load model");
  std::optional<AlgorithmCache> algorithms = loadAlgorithmCache(
      options.timeAlgorithms, options.algorithmCachePath, probe.gpus[deviceIndex], precisionName(options.precision));
  SLUICE_ASSIGN_OR_RETURN(auto executor,
                          CudaExecutor::Make(graph, {.device = deviceIndex,
                                                     .precision = options.precision,
                                                     .batchSize = batchSize,
                                                     .timeAlgorithms = options.timeAlgorithms,
                                                     .algorithmCache = algorithms ? &*algorithms : nullptr,
                                                     .clock = &clock}));
  const std::string cacheProblem = saveAlgorithmCache(algorithms);
  cudaStream_t stream = nullptr;
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraphExec_t replay = nullptr;
  Status status = [&]() -> Status {
    // The input holds what Make's validation left in the arena: the kernels' speed does not depend
    // on the values. One eager run on this stream first, as CudaBackend does: cuDNN may set up
    // per-stream state on first use, which a capture would refuse.
    SLUICE_RETURN_IF_ERROR(executor->enqueue(stream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    clock.step("first batch");
    cudaGraph_t captured = nullptr;
    if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
      Status enqueued = executor->enqueue(stream);
      bool ended = cudaStreamEndCapture(stream, &captured) == cudaSuccess;
      result.graph = enqueued.ok() && ended && captured && cudaGraphInstantiate(&replay, captured, 0) == cudaSuccess;
      if (captured) cudaGraphDestroy(captured);
    }
    cudaGetLastError();
    clock.step("capture CUDA graph");
    auto runOnce = [&]() -> Status {
      if (result.graph) return cudaStatus(cudaGraphLaunch(replay, stream), "cudaGraphLaunch");
      return executor->enqueue(stream);
    };
    for (int i = 0; i < options.warmup; ++i) SLUICE_RETURN_IF_ERROR(runOnce());
    SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    clock.step("warm-up");
    result.setupSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cudaEvent_t begin = nullptr, end = nullptr;
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreate(&begin));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreate(&end));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(begin, stream));
    for (int i = 0; i < iterations; ++i) SLUICE_RETURN_IF_ERROR(runOnce());
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(end, stream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(end));
    float milliseconds = 0;
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&milliseconds, begin, end));
    cudaEventDestroy(begin);
    cudaEventDestroy(end);
    result.seconds = milliseconds / 1000.0;
    if (profileRuns > 0) {
      result.profile.batchSize = batchSize;
      result.profile.runs = profileRuns;
      result.profile.forwardMilliseconds = milliseconds / iterations;
      Result<std::vector<OpTiming>> ops = executor->profile(stream, profileRuns);
      if (ops.ok()) {
        result.profile.ops = std::move(*ops);
      } else {
        result.profileError = ops.status().message();
        cudaGetLastError();
      }
    }
    return Status::OK();
  }();
  result.device = "cuda:" + std::to_string(deviceIndex) + " (" + probe.gpus[deviceIndex].name + ", " +
                  precisionName(options.precision) + ", " + executor->summary() + cacheProblem + ")";
  if (replay) cudaGraphExecDestroy(replay);
  // The executor's cuDNN handle still names the stream: release it while the stream exists.
  executor.reset();
  cudaStreamDestroy(stream);
  SLUICE_RETURN_IF_ERROR(status);
  return result;
}

}  // namespace sluice::backend::cuda
