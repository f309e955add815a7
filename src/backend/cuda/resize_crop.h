#pragma once
// The arithmetic of the GPU's Resize + CenterCrop (Pillow's antialiased bilinear filter), one
// output value per call. The kernels in gpu_jpeg_decoder.cu call these functions once per thread;
// the host tests call them over the same index ranges and compare with image::BilinearResampler,
// so the indexing is checked on machines without a GPU. No CUDA headers: host code includes this.

#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cuda/host_device.h"

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

/// The job of one width x height image: torchvision's Resize(resizeSize) then CenterCrop(cropSize),
/// with Pillow's pass order (as image::BilinearResampler::resizeWindow). sourceOffset is left 0.
ResizeCropJob resizeCropJob(int width, int height, int resizeSize, int cropSize);

/// The buffer sizes a batch of jobs needs; planResizeCrop also sets each job's intermediateOffset.
struct ResizeCropPlan {
  int tapStride = 1;            // the widest filter of any image on either axis
  int firstPassWidth = 0;       // the largest first-pass output, in pixels (the launch grid)
  int firstPassHeight = 0;
  int64_t intermediateBytes = 0;
};
ResizeCropPlan planResizeCrop(std::vector<ResizeCropJob>& jobs, int cropSize);

/// The first pass' output of one job: cropSize columns x the rows the vertical filter reads
/// (horizontal first), or the columns the horizontal filter reads x cropSize rows (vertical first).
struct FirstPassSize {
  int width = 0;
  int height = 0;
};
FirstPassSize firstPassSize(const ResizeCropJob& job, int cropSize);
/// Its bytes in the intermediate buffer (aligned, as planResizeCrop lays them out).
int64_t firstPassBytes(const ResizeCropJob& job, int cropSize);

/// Fixed-point weights per image for both axes: cropSize entries of (first input, taps) and
/// cropSize x tapStride weights, per axis.
inline int64_t resizeCoefficientCount(int cropSize, int tapStride) {
  return 2 * int64_t{cropSize} * (2 + tapStride);
}

/// Pillow's filter width for a resize of inputSize to outputSize pixels: 2 * ceil(support) + 1.
int resizeTapStride(int inputSize, int outputSize);

namespace resize_crop {

// Pillow's fixed point for 8-bit images (see image/bilinear_resampler.cc, which this follows).
constexpr int kPrecisionBits = 32 - 8 - 2;

// A product and a sum each rounded on their own. On the device the intrinsics keep nvcc from
// contracting them into FMAs, which round differently from the host code this must match.
SLUICE_HOST_DEVICE inline double multiply(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
SLUICE_HOST_DEVICE inline double add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
SLUICE_HOST_DEVICE inline int smaller(int a, int b) { return a < b ? a : b; }
SLUICE_HOST_DEVICE inline int larger(int a, int b) { return a > b ? a : b; }

SLUICE_HOST_DEVICE inline uint8_t clampToByte(int32_t fixedPoint) {
  return static_cast<uint8_t>(smaller(larger(fixedPoint >> kPrecisionBits, 0), 255));
}

/// One axis' coefficients of one image inside the batch's coefficient buffer.
struct AxisTable {
  int32_t* first;    // cropSize entries: each output's first input
  int32_t* taps;     // cropSize entries: each output's number of inputs
  int32_t* weights;  // cropSize x tapStride
};

/// axis 0 is horizontal, 1 vertical.
SLUICE_HOST_DEVICE inline AxisTable axisTable(int32_t* coefficients, int image, int axis, int cropSize,
                                              int tapStride) {
  int32_t* base = coefficients + (2 * int64_t{image} + axis) * cropSize * (2 + tapStride);
  return {base, base + cropSize, base + 2 * cropSize};
}

/// The inputs [first, last) that crop output `out` on `axis` (0 horizontal, 1 vertical) reads, and
/// where its filter is centred, as BilinearResampler::computeCoefficients finds them.
struct FilterSpan {
  int first = 0;
  int last = 0;
  double center = 0;
  double inverseFilterScale = 1;
};
SLUICE_HOST_DEVICE inline FilterSpan filterSpan(const ResizeCropJob& job, int axis, int out) {
  const int inputSize = axis == 0 ? job.sourceWidth : job.sourceHeight;
  const int outputSize = axis == 0 ? job.resizedWidth : job.resizedHeight;
  const int firstOutput = axis == 0 ? job.cropLeft : job.cropTop;
  const double scale = static_cast<double>(inputSize) / outputSize;
  const double filterScale = scale > 1.0 ? scale : 1.0;
  const double support = filterScale;
  FilterSpan span;
  span.inverseFilterScale = 1.0 / filterScale;
  span.center = multiply(firstOutput + out + 0.5, scale);
  span.first = larger(static_cast<int>(add(span.center - support, 0.5)), 0);
  span.last = smaller(static_cast<int>(add(span.center + support, 0.5)), inputSize);
  return span;
}

/// Writes output `out`'s coefficients on `axis`, as BilinearResampler::computeCoefficients does.
SLUICE_HOST_DEVICE inline void computeCoefficients(const ResizeCropJob& job, int image, int axis, int out,
                                                   int cropSize, int tapStride, int32_t* coefficients) {
  if (out >= cropSize) return;
  const FilterSpan span = filterSpan(job, axis, out);
  const int first = span.first;
  const double center = span.center;
  const double inverseFilterScale = span.inverseFilterScale;
  const int numTaps = smaller(larger(span.last - first, 0), tapStride);

  const AxisTable table = axisTable(coefficients, image, axis, cropSize, tapStride);
  int32_t* weights = table.weights + int64_t{out} * tapStride;
  double total = 0.0;
  for (int tap = 0; tap < numTaps; ++tap) {
    const double x = fabs(multiply(add(tap + first - center, 0.5), inverseFilterScale));
    total += x < 1.0 ? 1.0 - x : 0.0;
  }
  for (int tap = 0; tap < tapStride; ++tap) {
    double weight = 0.0;
    if (tap < numTaps) {
      const double x = fabs(multiply(add(tap + first - center, 0.5), inverseFilterScale));
      weight = x < 1.0 ? 1.0 - x : 0.0;
      if (total != 0.0) weight = weight / total;
    }
    const double scaled = multiply(weight, double(1 << kPrecisionBits));
    weights[tap] = tap < numTaps ? static_cast<int32_t>(weight < 0 ? scaled - 0.5 : scaled + 0.5) : 0;
  }
  table.first[out] = first;
  table.taps[out] = numTaps;
}

/// The first pass filters along one axis into the intermediate image, visiting only the rows (or
/// columns) the second pass reads: horizontal first gives cropSize columns x the vertical filter's
/// input rows; vertical first gives the horizontal filter's input columns x cropSize rows. (x, y)
/// outside this image's first-pass output write nothing.
SLUICE_HOST_DEVICE inline void firstPassPixel(const ResizeCropJob& job, int image, int x, int y, int cropSize,
                                              int tapStride, const uint8_t* decoded, int32_t* coefficients,
                                              uint8_t* intermediate) {
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

/// The second pass filters the intermediate along the other axis into crop pixel (x, y) of
/// `crops` (numJobs x cropSize x cropSize x 3).
SLUICE_HOST_DEVICE inline void secondPassPixel(const ResizeCropJob& job, int image, int x, int y, int cropSize,
                                               int tapStride, const uint8_t* intermediate, int32_t* coefficients,
                                               uint8_t* crops) {
  if (x >= cropSize || y >= cropSize) return;
  const AxisTable horizontal = axisTable(coefficients, image, 0, cropSize, tapStride);
  const AxisTable vertical = axisTable(coefficients, image, 1, cropSize, tapStride);
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

}  // namespace resize_crop

}  // namespace sluice::backend::cuda
