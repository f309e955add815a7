#pragma once
// The device half of GpuJpegDecoder: Pillow's antialiased bilinear Resize fused with CenterCrop,
// for a batch of decoded images at once. The arithmetic is in resize_crop.h.

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/resize_crop.h"

namespace sluice::backend::cuda {

/// Resizes and crops numJobs images (jobs in device memory) into `crops` (numJobs x cropSize x
/// cropSize x 3), with the arithmetic of image::BilinearResampler. The intermediate and
/// coefficient buffers are sized as `plan` (planResizeCrop over the same jobs) says.
cudaError_t launchResizeCrop(const ResizeCropJob* jobs, int numJobs, int cropSize, const ResizeCropPlan& plan,
                             const uint8_t* decoded, uint8_t* intermediate, int32_t* coefficients, uint8_t* crops,
                             cudaStream_t stream);

}  // namespace sluice::backend::cuda
