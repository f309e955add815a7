#include "backend/cuda/gpu_jpeg_decoder_kernels.h"

namespace sluice::backend::cuda {

namespace {

// Each kernel runs one resize_crop function per thread; blockIdx.z (or y) is the image.

__global__ void coefficientsKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, int32_t* coefficients) {
  const int image = blockIdx.y / 2;
  resize_crop::computeCoefficients(jobs[image], image, blockIdx.y % 2, blockIdx.x * blockDim.x + threadIdx.x,
                                   cropSize, tapStride, coefficients);
}

__global__ void firstPassKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, const uint8_t* decoded,
                                int32_t* coefficients, uint8_t* intermediate) {
  const int image = blockIdx.z;
  resize_crop::firstPassPixel(jobs[image], image, blockIdx.x * blockDim.x + threadIdx.x,
                              blockIdx.y * blockDim.y + threadIdx.y, cropSize, tapStride, decoded, coefficients,
                              intermediate);
}

__global__ void secondPassKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, const uint8_t* intermediate,
                                 int32_t* coefficients, uint8_t* crops) {
  const int image = blockIdx.z;
  resize_crop::secondPassPixel(jobs[image], image, blockIdx.x * blockDim.x + threadIdx.x,
                               blockIdx.y * blockDim.y + threadIdx.y, cropSize, tapStride, intermediate,
                               coefficients, crops);
}

}  // namespace

cudaError_t launchResizeCrop(const ResizeCropJob* jobs, int numJobs, int cropSize, const ResizeCropPlan& plan,
                             const uint8_t* decoded, uint8_t* intermediate, int32_t* coefficients, uint8_t* crops,
                             cudaStream_t stream) {
  if (numJobs == 0) return cudaSuccess;
  // The error read after the launches must be theirs: nvJPEG's own runtime calls (in a batch it
  // refused, whose status was handled) may have left one behind.
  (void)cudaGetLastError();
  const int tapStride = plan.tapStride;
  coefficientsKernel<<<dim3((cropSize + 127) / 128, 2 * numJobs), 128, 0, stream>>>(jobs, cropSize, tapStride,
                                                                                    coefficients);
  const dim3 block(32, 8);
  const dim3 firstGrid((plan.firstPassWidth + block.x - 1) / block.x, (plan.firstPassHeight + block.y - 1) / block.y,
                       numJobs);
  firstPassKernel<<<firstGrid, block, 0, stream>>>(jobs, cropSize, tapStride, decoded, coefficients, intermediate);
  const dim3 secondGrid((cropSize + block.x - 1) / block.x, (cropSize + block.y - 1) / block.y, numJobs);
  secondPassKernel<<<secondGrid, block, 0, stream>>>(jobs, cropSize, tapStride, intermediate, coefficients, crops);
  return cudaGetLastError();
}

}  // namespace sluice::backend::cuda
