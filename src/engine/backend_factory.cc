#include "engine/backend_factory.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#if SLUICE_WITH_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_devices.h"
#endif

namespace sluice::engine {

namespace {

/// Why `--device cuda` cannot run here, in one sentence.
std::string noGpuReason() {
#if SLUICE_WITH_CUDA
  auto probe = backend::cuda::probeCuda();
  return "no GPU is usable (" + probe.problem + ")";
#else
  return "this build of sluice has no CUDA backend (nvcc and cuDNN were not found when it was built)";
#endif
}

/// "cuda:3" -> 3; "cuda" -> -1; anything else -> -2.
int cudaOrdinal(const std::string& device) {
  if (device == "cuda") return -1;
  if (device.rfind("cuda:", 0) != 0 || device.size() == 5) return -2;
  const std::string digits = device.substr(5);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) || digits.size() > 4) {
    return -2;
  }
  return std::stoi(digits);
}

}  // namespace

std::string cudnnCachePath(const std::string& requested) {
  if (requested == "none") return "";
  if (!requested.empty()) return requested;
  constexpr const char* kFile = "cudnn-algorithms.tsv";
  auto nonEmpty = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
  };
  namespace fs = std::filesystem;
  if (const char* dir = nonEmpty("SLUICE_CACHE_DIR")) return (fs::path(dir) / kFile).string();
  // The XDG base directory rules ignore a relative XDG_CACHE_HOME.
  if (const char* dir = nonEmpty("XDG_CACHE_HOME"); dir && dir[0] == '/') {
    return (fs::path(dir) / "sluice" / kFile).string();
  }
  if (const char* home = nonEmpty("HOME")) return (fs::path(home) / ".cache" / "sluice" / kFile).string();
  return "";
}

int visibleGpus() {
#if SLUICE_WITH_CUDA
  return static_cast<int>(backend::cuda::probeCuda().gpus.size());
#else
  return 0;
#endif
}

std::string resolveDevice(const std::string& device) {
  if (device == "auto") return visibleGpus() > 0 ? "cuda" : "cpu";
  if (cudaOrdinal(device) >= -1) return "cuda";
  return device;
}

Result<std::vector<backend::BackendOptions>> planBackends(const DeviceRequest& request,
                                                          const backend::BackendOptions& base) {
  const std::string device = resolveDevice(request.device);
  if (device != "cpu" && device != "cuda") {
    return Status::InvalidArgument("unknown device '" + request.device + "'; use cpu, cuda, cuda:N or auto");
  }
  if (request.workers < 0) return Status::InvalidArgument("--inference-workers must be at least 1");
  std::string precisionName = request.precision;
  if (precisionName == "auto") precisionName = device == "cuda" ? "fp16" : "fp32";
  SLUICE_ASSIGN_OR_RETURN(backend::Precision precision, backend::parsePrecision(precisionName));

  std::vector<int> gpus;
  if (device == "cpu") {
    if (!request.devices.empty()) {
      return Status::InvalidArgument(request.device == "cpu"
                                         ? std::string("--devices selects GPUs; it needs --device cuda")
                                         : "--devices selects GPUs, but --device auto chose the CPU: " + noGpuReason());
    }
    if (precision != backend::Precision::kFp32) {
      return Status::InvalidArgument("--precision " + precisionName +
                                     " needs a GPU; the CPU backend runs fp32 only (" +
                                     (request.device == "cpu" ? std::string("--device cpu was given")
                                                              : "--device auto chose the CPU: " + noGpuReason()) +
                                     ")");
    }
  } else {
    const int visible = visibleGpus();
    if (visible == 0) {
      return Status::InvalidArgument("--device " + request.device + " cannot run: " + noGpuReason() +
                                     "; use --device cpu (or auto, which falls back to the CPU)");
    }
    gpus = request.devices;
    if (int ordinal = cudaOrdinal(request.device); ordinal >= 0) {
      if (!gpus.empty()) return Status::InvalidArgument("give either --device cuda:N or --devices, not both");
      gpus = {ordinal};
    }
    if (gpus.empty()) {
      for (int gpu = 0; gpu < visible; ++gpu) gpus.push_back(gpu);
    }
    for (int gpu : gpus) {
      if (gpu < 0 || gpu >= visible) {
        return Status::InvalidArgument("GPU " + std::to_string(gpu) + " is not visible; this process sees " +
                                       std::to_string(visible) + " GPU(s), numbered from 0");
      }
    }
  }
  const int workers = request.workers > 0 ? request.workers : std::max<int>(1, static_cast<int>(gpus.size()));
  std::vector<backend::BackendOptions> plans;
  for (int worker = 0; worker < workers; ++worker) {
    backend::BackendOptions options = base;
    options.device = device;
    options.precision = precision;
    if (device == "cuda") options.deviceIndex = gpus[worker % gpus.size()];
    if (device == "cpu" && options.threads == 0 && workers > 1) {
      options.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / workers);
    }
    plans.push_back(std::move(options));
  }
  return plans;
}

std::optional<int64_t> startupMemoryBound([[maybe_unused]] const backend::BackendOptions& options) {
#if SLUICE_WITH_CUDA
  if (options.device == "cuda") {
    std::error_code error;
    const auto modelBytes = std::filesystem::file_size(options.modelPath, error);
    if (error) return std::nullopt;
    return 3 * static_cast<int64_t>(modelBytes) + backend::cuda::CudaBackend::hostMemoryBound(options);
  }
#endif
  return std::nullopt;
}

Result<std::unique_ptr<backend::InferenceBackend>> makeBackend(const backend::BackendOptions& options) {
  if (options.device == "cpu") {
    SLUICE_ASSIGN_OR_RETURN(auto cpu, backend::CpuBackend::Make(options));
    return std::unique_ptr<backend::InferenceBackend>(std::move(cpu));
  }
#if SLUICE_WITH_CUDA
  if (options.device == "cuda") {
    SLUICE_ASSIGN_OR_RETURN(auto gpu, backend::cuda::CudaBackend::Make(options));
    return std::unique_ptr<backend::InferenceBackend>(std::move(gpu));
  }
#endif
  if (options.device == "cuda") return Status::InvalidArgument("--device cuda cannot run: " + noGpuReason());
  return Status::InvalidArgument("unknown device '" + options.device + "'; use cpu, cuda or auto");
}

}  // namespace sluice::engine
