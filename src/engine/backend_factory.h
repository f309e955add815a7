#pragma once
#include <memory>

#include "backend/inference_backend.h"

namespace sluice::engine {

/// Creates the backend for options.device: "cpu", or "auto" (CUDA when this build has it and a GPU
/// is present, else CPU). "cuda" in a build without the CUDA backend is a usage error.
Result<std::unique_ptr<backend::InferenceBackend>> makeBackend(const backend::BackendOptions& options);

}  // namespace sluice::engine
