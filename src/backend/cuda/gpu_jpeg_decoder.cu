#include <cmath>

#include "backend/cuda/gpu_jpeg_decoder_kernels.h"

namespace sluice::backend::cuda {

namespace {

// Pillow's fixed point for 8-bit images (see image/bilinear_resampler.cc, which this follows).
constexpr int kPrecisionBits = 32 - 8 - 2;

struct AxisTable {
  const int32_t* first;    // cropSize entries
  const int32_t* taps;     // cropSize entries
  const int32_t* weights;  // cropSize x tapStride
};

__device__ AxisTable axisTable(int32_t* coefficients, int image, int axis, int cropSize, int tapStride) {
  int32_t* base = coefficients + (2 * int64_t{image} + axis) * cropSize * (2 + tapStride);
  return {base, base + cropSize, base + 2 * cropSize};
}

__device__ uint8_t clampToByte(int32_t fixedPoint) {
  return static_cast<uint8_t>(min(max(fixedPoint >> kPrecisionBits, 0), 255));
}

// One axis' coefficients per (image, axis, output), computed as BilinearResampler::computeCoefficients
// does on the CPU. The products and sums that decide which pixels are taps go through __dmul_rn /
// __dadd_rn so that nvcc cannot contract them into FMAs, which round differently from the host.
__global__ void coefficientsKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, int32_t* coefficients) {
  const int out = blockIdx.x * blockDim.x + threadIdx.x;
  const int image = blockIdx.y / 2;
  const int axis = blockIdx.y % 2;  // 0 horizontal, 1 vertical
  if (out >= cropSize) return;
  const ResizeCropJob& job = jobs[image];
  const int inputSize = axis == 0 ? job.sourceWidth : job.sourceHeight;
  const int outputSize = axis == 0 ? job.resizedWidth : job.resizedHeight;
  const int firstOutput = axis == 0 ? job.cropLeft : job.cropTop;
  const double scale = static_cast<double>(inputSize) / outputSize;
  const double filterScale = scale > 1.0 ? scale : 1.0;
  const double support = filterScale;
  const double inverseFilterScale = 1.0 / filterScale;
  const double center = __dmul_rn(firstOutput + out + 0.5, scale);
  const int first = max(static_cast<int>(__dadd_rn(center - support, 0.5)), 0);
  const int last = min(static_cast<int>(__dadd_rn(center + support, 0.5)), inputSize);
  const int numTaps = min(max(last - first, 0), tapStride);

  AxisTable table = axisTable(coefficients, image, axis, cropSize, tapStride);
  int32_t* weights = const_cast<int32_t*>(table.weights) + int64_t{out} * tapStride;
  double total = 0.0;
  for (int tap = 0; tap < numTaps; ++tap) {
    const double x = fabs(__dmul_rn(__dadd_rn(tap + first - center, 0.5), inverseFilterScale));
    total += x < 1.0 ? 1.0 - x : 0.0;
  }
  for (int tap = 0; tap < tapStride; ++tap) {
    double weight = 0.0;
    if (tap < numTaps) {
      const double x = fabs(__dmul_rn(__dadd_rn(tap + first - center, 0.5), inverseFilterScale));
      weight = x < 1.0 ? 1.0 - x : 0.0;
      if (total != 0.0) weight = weight / total;
    }
    const double scaled = __dmul_rn(weight, double(1 << kPrecisionBits));
    weights[tap] = tap < numTaps ? static_cast<int32_t>(weight < 0 ? scaled - 0.5 : scaled + 0.5) : 0;
  }
  const_cast<int32_t*>(table.first)[out] = first;
  const_cast<int32_t*>(table.taps)[out] = numTaps;
}

// The first pass filters along one axis into the intermediate image, visiting only the rows (or
// columns) the second pass reads: horizontal first gives cropSize columns x the vertical filter's
// input rows; vertical first gives the horizontal filter's input columns x cropSize rows.
__global__ void firstPassKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, const uint8_t* decoded,
                                uint8_t* intermediate, int32_t* coefficients) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int image = blockIdx.z;
  const ResizeCropJob& job = jobs[image];
  const AxisTable horizontal = axisTable(coefficients, image, 0, cropSize, tapStride);
  const AxisTable vertical = axisTable(coefficients, image, 1, cropSize, tapStride);
  const uint8_t* source = decoded + job.sourceOffset;
  const int64_t sourcePitch = int64_t{job.sourceWidth} * 3;
  uint8_t* output = intermediate + job.intermediateOffset;
  int32_t sum[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
  if (!job.verticalFirst) {
    const int firstRow = vertical.first[0];
    const int numRows = vertical.first[cropSize - 1] + vertical.taps[cropSize - 1] - firstRow;
    if (x >= cropSize || y >= numRows) return;
    const uint8_t* row = source + (firstRow + y) * sourcePitch + int64_t{horizontal.first[x]} * 3;
    const int32_t* weights = horizontal.weights + int64_t{x} * tapStride;
    for (int tap = 0; tap < horizontal.taps[x]; ++tap) {
      for (int c = 0; c < 3; ++c) sum[c] += row[tap * 3 + c] * weights[tap];
    }
    uint8_t* pixel = output + (int64_t{y} * cropSize + x) * 3;
    for (int c = 0; c < 3; ++c) pixel[c] = clampToByte(sum[c]);
  } else {
    const int firstColumn = horizontal.first[0];
    const int numColumns = horizontal.first[cropSize - 1] + horizontal.taps[cropSize - 1] - firstColumn;
    if (x >= numColumns || y >= cropSize) return;
    const uint8_t* column = source + int64_t{vertical.first[y]} * sourcePitch + int64_t{firstColumn + x} * 3;
    const int32_t* weights = vertical.weights + int64_t{y} * tapStride;
    for (int tap = 0; tap < vertical.taps[y]; ++tap) {
      for (int c = 0; c < 3; ++c) sum[c] += column[tap * sourcePitch + c] * weights[tap];
    }
    uint8_t* pixel = output + (int64_t{y} * numColumns + x) * 3;
    for (int c = 0; c < 3; ++c) pixel[c] = clampToByte(sum[c]);
  }
}

// The second pass filters the intermediate along the other axis into the crop.
__global__ void secondPassKernel(const ResizeCropJob* jobs, int cropSize, int tapStride, const uint8_t* intermediate,
                                 const int32_t* coefficients, uint8_t* crops) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int image = blockIdx.z;
  if (x >= cropSize || y >= cropSize) return;
  const ResizeCropJob& job = jobs[image];
  auto* table = const_cast<int32_t*>(coefficients);
  const AxisTable horizontal = axisTable(table, image, 0, cropSize, tapStride);
  const AxisTable vertical = axisTable(table, image, 1, cropSize, tapStride);
  const uint8_t* input = intermediate + job.intermediateOffset;
  int32_t sum[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
  if (!job.verticalFirst) {
    const int64_t pitch = int64_t{cropSize} * 3;
    const uint8_t* column = input + int64_t{vertical.first[y] - vertical.first[0]} * pitch + int64_t{x} * 3;
    const int32_t* weights = vertical.weights + int64_t{y} * tapStride;
    for (int tap = 0; tap < vertical.taps[y]; ++tap) {
      for (int c = 0; c < 3; ++c) sum[c] += column[tap * pitch + c] * weights[tap];
    }
  } else {
    const int firstColumn = horizontal.first[0];
    const int numColumns = horizontal.first[cropSize - 1] + horizontal.taps[cropSize - 1] - firstColumn;
    const uint8_t* row = input + int64_t{y} * numColumns * 3 + int64_t{horizontal.first[x] - firstColumn} * 3;
    const int32_t* weights = horizontal.weights + int64_t{x} * tapStride;
    for (int tap = 0; tap < horizontal.taps[x]; ++tap) {
      for (int c = 0; c < 3; ++c) sum[c] += row[tap * 3 + c] * weights[tap];
    }
  }
  uint8_t* pixel = crops + ((int64_t{image} * cropSize + y) * cropSize + x) * 3;
  for (int c = 0; c < 3; ++c) pixel[c] = clampToByte(sum[c]);
}

}  // namespace

int resizeTapStride(int inputSize, int outputSize) {
  const double scale = static_cast<double>(inputSize) / outputSize;
  const double support = scale > 1.0 ? scale : 1.0;
  return static_cast<int>(std::ceil(support)) * 2 + 1;
}

cudaError_t launchResizeCrop(const ResizeCropJob* jobs, int numJobs, int cropSize, int tapStride,
                             int firstPassWidth, int firstPassHeight, const uint8_t* decoded,
                             uint8_t* intermediate, int32_t* coefficients, uint8_t* crops, cudaStream_t stream) {
  if (numJobs == 0) return cudaSuccess;
  coefficientsKernel<<<dim3((cropSize + 127) / 128, 2 * numJobs), 128, 0, stream>>>(jobs, cropSize, tapStride,
                                                                                    coefficients);
  const dim3 block(32, 8);
  const dim3 firstGrid((firstPassWidth + block.x - 1) / block.x, (firstPassHeight + block.y - 1) / block.y, numJobs);
  firstPassKernel<<<firstGrid, block, 0, stream>>>(jobs, cropSize, tapStride, decoded, intermediate, coefficients);
  const dim3 secondGrid((cropSize + block.x - 1) / block.x, (cropSize + block.y - 1) / block.y, numJobs);
  secondPassKernel<<<secondGrid, block, 0, stream>>>(jobs, cropSize, tapStride, intermediate, coefficients, crops);
  return cudaGetLastError();
}

}  // namespace sluice::backend::cuda
