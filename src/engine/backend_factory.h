#pragma once
#include <memory>
#include <string>

#include "backend/inference_backend.h"

namespace sluice::engine {

/// The device "auto" stands for on this machine ("cpu" until a CUDA backend is built in);
/// other names are returned unchanged.
std::string resolveDevice(const std::string& device);

/// Creates the backend for options.device: "cpu", or "auto" (CUDA when this build has it and a GPU
/// is present, else CPU). "cuda" in a build without the CUDA backend is a usage error.
Result<std::unique_ptr<backend::InferenceBackend>> makeBackend(const backend::BackendOptions& options);

}  // namespace sluice::engine
