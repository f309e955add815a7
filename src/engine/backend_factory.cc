#include "engine/backend_factory.h"

#include "backend/cpu/cpu_backend.h"

namespace sluice::engine {

std::string resolveDevice(const std::string& device) { return device == "auto" ? "cpu" : device; }

Result<std::unique_ptr<backend::InferenceBackend>> makeBackend(const backend::BackendOptions& options) {
  if (options.device == "cpu" || options.device == "auto") {
    SLUICE_ASSIGN_OR_RETURN(auto cpu, backend::CpuBackend::Make(options));
    return std::unique_ptr<backend::InferenceBackend>(std::move(cpu));
  }
  if (options.device == "cuda") {
    return Status::InvalidArgument("--device cuda: this build of sluice has no CUDA backend yet; use --device cpu");
  }
  return Status::InvalidArgument("unknown device '" + options.device + "'; use cpu, cuda or auto");
}

}  // namespace sluice::engine
