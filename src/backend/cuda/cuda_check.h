#pragma once
// CUDA runtime and cuDNN errors as sluice Statuses, naming the call that failed.

#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "sluice/status.h"

namespace sluice::backend::cuda {

inline Status cudaStatus(cudaError_t error, const char* call) {
  if (error == cudaSuccess) return Status::OK();
  return Status::Internal(std::string("CUDA error in ") + call + ": " + cudaGetErrorString(error));
}

inline Status cudnnStatus(cudnnStatus_t status, const char* call) {
  if (status == CUDNN_STATUS_SUCCESS) return Status::OK();
  std::string message = std::string("cuDNN error in ") + call + ": " + cudnnGetErrorString(status);
  // cuDNN 9 says why in a sub-code (3001 shape, 3004 layout, ...) of the "not supported" category.
  if (CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED) return Status::Unsupported(message);
  return Status::Internal(message);
}

}  // namespace sluice::backend::cuda

#define SLUICE_CUDA_RETURN_IF_ERROR(call) SLUICE_RETURN_IF_ERROR(::sluice::backend::cuda::cudaStatus((call), #call))
#define SLUICE_CUDNN_RETURN_IF_ERROR(call) SLUICE_RETURN_IF_ERROR(::sluice::backend::cuda::cudnnStatus((call), #call))
