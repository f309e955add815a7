#pragma once
// Which backends a job runs: the device ("auto" = CUDA when this build has it and a GPU is visible,
// else CPU), the GPUs, the precision and one backend per inference worker.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/inference_backend.h"

namespace sluice::engine {

/// The device, precision and worker count as the user asked for them.
struct DeviceRequest {
  std::string device = "auto";     // cpu, cuda, cuda:N or auto
  std::vector<int> devices;        // cuda: GPU ordinals; empty = every visible GPU
  std::string precision = "auto";  // fp32, tf32, fp16, bf16; auto = fp16 on GPUs, fp32 on CPU
  int workers = 0;                 // inference workers; 0 = one per GPU, one on CPU
};

/// Where timed cuDNN algorithms are kept (BackendOptions::algorithmCachePath) for a job's
/// cudnnCachePath: a path as given; "" the default, $SLUICE_CACHE_DIR/cudnn-algorithms.tsv, else
/// $XDG_CACHE_HOME/sluice/... (when absolute), else ~/.cache/sluice/... (none without a home);
/// "none" none.
std::string cudnnCachePath(const std::string& requested);

/// The BackendOptions a job's options (JobOptions, BatchPredictorOptions: the same field names)
/// give, before planBackends fills in the device.
template <typename Options>
backend::BackendOptions backendOptionsFor(const Options& options, int64_t batchSize) {
  return {.modelPath = options.modelPath,
          .batchSize = batchSize,
          .cropHeight = options.cropSize,
          .cropWidth = options.cropSize,
          .normalization = options.normalization,
          .topk = options.topk,
          .returnLogits = options.writeLogits,
          .threads = options.threads,
          .timeConvAlgorithms = options.timeConvAlgorithms,
          .algorithmCachePath = cudnnCachePath(options.cudnnCachePath)};
}

/// Number of GPUs this process can use with this build (0 without the CUDA backend or a driver).
int visibleGpus();

/// "cpu" or "cuda": what `device` (cpu, cuda, cuda:N, auto) stands for on this machine.
std::string resolveDevice(const std::string& device);

/// One BackendOptions per inference worker, copied from `base` with device, deviceIndex, precision
/// and (on CPU, when not given) threads filled in; GPUs are dealt to workers round robin.
/// Errors (InvalidArgument, exit 2): cuda without a usable GPU, an ordinal that is not visible,
/// a precision the device cannot run, a worker count below 1.
Result<std::vector<backend::BackendOptions>> planBackends(const DeviceRequest& request,
                                                          const backend::BackendOptions& base);

/// The most host memory a backend made from `options` allocates itself, its start-up included,
/// when that is known before it is made: CUDA's pinned slots plus three times the model file (while
/// it loads, at most two of the file, the graph read from it and the weights gathered for the GPU
/// are held at once). The CUDA and cuDNN libraries' own host memory is in no budget. Unknown
/// (nullopt) on the CPU, whose working memory depends on the model's activations, and when the
/// model file's size cannot be read.
std::optional<int64_t> startupMemoryBound(const backend::BackendOptions& options);

/// Creates the backend for options.device ("cpu" or "cuda"; as planBackends fills it in).
Result<std::unique_ptr<backend::InferenceBackend>> makeBackend(const backend::BackendOptions& options);

}  // namespace sluice::engine
