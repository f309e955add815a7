#pragma once
// The device half of GpuJpegDecoder: Pillow's antialiased bilinear Resize fused with CenterCrop,
// for a batch of decoded images at once.

#include <cuda_runtime.h>

#include <cstdint>

namespace sluice::backend::cuda {

/// One decoded image and where its crop comes from. Plain data, copied to the device as is.
struct ResizeCropJob {
  int64_t sourceOffset = 0;        // first byte of the decoded RGB image in the decoded arena
  int64_t intermediateOffset = 0;  // first byte of this image's first-pass output
  int sourceWidth = 0;
  int sourceHeight = 0;
  int resizedWidth = 0;            // torchvision's Resize size
  int resizedHeight = 0;
  int cropLeft = 0;                // the center crop's corner in the resized image
  int cropTop = 0;
  int verticalFirst = 0;           // Pillow's pass order for this resize
};

/// Fixed-point weights per image for both axes: cropSize entries of (first input, taps) and
/// cropSize x tapStride weights, per axis.
inline int64_t resizeCoefficientCount(int cropSize, int tapStride) {
  return 2 * int64_t{cropSize} * (2 + tapStride);
}

/// Pillow's filter width for a resize of inputSize to outputSize pixels: 2 * ceil(support) + 1.
int resizeTapStride(int inputSize, int outputSize);

/// Resizes and crops numJobs images (jobs in device memory) into `crops` (numJobs x cropSize x
/// cropSize x 3), with the arithmetic of image::BilinearResampler. The intermediate and
/// coefficient buffers are sized by the caller: tapStride covers every image's both axes, and
/// firstPassWidth x firstPassHeight every image's first-pass output (in pixels).
cudaError_t launchResizeCrop(const ResizeCropJob* jobs, int numJobs, int cropSize, int tapStride,
                             int firstPassWidth, int firstPassHeight, const uint8_t* decoded,
                             uint8_t* intermediate, int32_t* coefficients, uint8_t* crops, cudaStream_t stream);

}  // namespace sluice::backend::cuda
