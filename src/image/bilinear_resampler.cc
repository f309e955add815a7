#include "image/bilinear_resampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SLUICE_RESAMPLER_AVX2 1
#endif

namespace sluice::image {

namespace {

// Pillow's fixed-point format for 8-bit images: 32 bits minus 8 for the sample and 2 for headroom
// (weights of a normalised filter can exceed 1 after rounding, and sums must not overflow).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kRoundingHalf = int32_t{1} << (kPrecisionBits - 1);

// The bilinear ("triangle") filter, support 1 before scaling.
double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

uint8_t clampToByte(int32_t fixedPoint) {
  int32_t value = fixedPoint >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp(value, 0, 255));
}

std::string describe(const Region& region) {
  // snprintf rather than string concatenation: GCC 12 warns falsely (-Wrestrict) on "(" + string.
  char text[128];
  std::snprintf(text, sizeof(text), "(%g, %g, %g, %g)", region.left, region.top, region.right,
                region.bottom);
  return text;
}

#if SLUICE_RESAMPLER_AVX2
// AVX2 versions of the two passes, compiled for AVX2 whatever the build's target and chosen at run
// time. They compute Pillow's arithmetic exactly as the portable loops do: the same 32-bit products
// and sums (vpmulld keeps the low 32 bits, which hold the whole product), the same arithmetic shift,
// and clamping by saturating packs, which is what clampToByte does.

__attribute__((target("avx2"))) inline int32_t loadFourBytes(const uint8_t* bytes) {
  int32_t value;
  std::memcpy(&value, bytes, sizeof(value));
  return value;
}

// Filters output pixels [0, numOutputs) of one 3-channel row; returns how many it wrote, stopping
// where the 4-byte loads and stores would reach past the row: the caller finishes the rest.
// `input` is the row at coefficient column `firstColumn`, `inputColumns` pixels long.
__attribute__((target("avx2"))) int filterRgbRowAvx2(const uint8_t* input, int inputColumns, int firstColumn,
                                                     const int32_t* firstInputs, const int32_t* tapCounts,
                                                     const int32_t* allWeights, size_t tapStride,
                                                     uint8_t* output, int numOutputs) {
  // Two adjacent taps' pixels, widened to int32 as R0 G0 B0 R1 G1 B1 R2 G2, are moved to
  // [R0 G0 B0 x | R1 G1 B1 x]; lane x is never stored.
  const __m256i pairLanes = _mm256_setr_epi32(0, 1, 2, 7, 3, 4, 5, 7);
  int out = 0;
  for (; out + 1 < numOutputs; ++out) {
    const int first = firstInputs[out] - firstColumn;
    const int numTaps = tapCounts[out];
    // The last tap's 4-byte load must end inside the row (8-byte pair loads are checked below).
    if (first + numTaps >= inputColumns) break;
    const uint8_t* pixel = input + static_cast<size_t>(first) * 3;
    const int32_t* weights = allWeights + static_cast<size_t>(out) * tapStride;
    __m256i pairSum = _mm256_setzero_si256();
    int tap = 0;
    // A pair's 8-byte load reads 2 bytes of pixel tap + 2, which the check above keeps in the row.
    for (; tap + 1 < numTaps; tap += 2) {
      __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pixel + tap * 3));
      __m256i widened = _mm256_cvtepu8_epi32(bytes);  // R0 G0 B0 R1 G1 B1 R2 G2
      __m256i lanes = _mm256_permutevar8x32_epi32(widened, pairLanes);  // R0 G0 B0 x R1 G1 B1 x
      __m256i tapWeights = _mm256_setr_m128i(_mm_set1_epi32(weights[tap]), _mm_set1_epi32(weights[tap + 1]));
      pairSum = _mm256_add_epi32(pairSum, _mm256_mullo_epi32(lanes, tapWeights));
    }
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(pairSum), _mm256_extracti128_si256(pairSum, 1));
    sum = _mm_add_epi32(sum, _mm_set1_epi32(kRoundingHalf));
    for (; tap < numTaps; ++tap) {
      __m128i lanes = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(loadFourBytes(pixel + tap * 3)));
      sum = _mm_add_epi32(sum, _mm_mullo_epi32(lanes, _mm_set1_epi32(weights[tap])));
    }
    sum = _mm_srai_epi32(sum, kPrecisionBits);
    const __m128i packed = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);
    const int32_t rgbx = _mm_cvtsi128_si32(packed);
    // Writes one byte into the next output pixel, which is written after this one.
    std::memcpy(output + static_cast<size_t>(out) * 3, &rgbx, sizeof(rgbx));
  }
  return out;
}

// One output row of the vertical pass: output[i] = clamp(sum over taps of rows[tap][i] * weight).
// Returns how many bytes it wrote (a multiple of 16); the caller finishes the rest.
__attribute__((target("avx2"))) size_t filterColumnsAvx2(const uint8_t* const* rows, const int32_t* weights,
                                                         int numTaps, size_t rowBytes, uint8_t* output) {
  size_t i = 0;
  for (; i + 16 <= rowBytes; i += 16) {
    __m256i low = _mm256_set1_epi32(kRoundingHalf);
    __m256i high = low;
    for (int tap = 0; tap < numTaps; ++tap) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[tap] + i));
      const __m256i weight = _mm256_set1_epi32(weights[tap]);
      low = _mm256_add_epi32(low, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), weight));
      high = _mm256_add_epi32(high, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)), weight));
    }
    low = _mm256_srai_epi32(low, kPrecisionBits);
    high = _mm256_srai_epi32(high, kPrecisionBits);
    // packs works within 128-bit halves: [low0-3 high0-3 | low4-7 high4-7], reordered to
    // [low0-3 low4-7 | high0-3 high4-7] before the final pack to bytes.
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(low, high), 0xD8);
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output + i), bytes);
  }
  return i;
}
#endif

}  // namespace

bool BilinearResampler::hasVectorKernels() {
#if SLUICE_RESAMPLER_AVX2
  static const bool supported = __builtin_cpu_supports("avx2");
  return supported;
#else
  return false;
#endif
}

BilinearResampler::BilinearResampler(ResampleKernels kernels)
    : vectorKernels_(kernels == ResampleKernels::kFastest && hasVectorKernels()) {}

void BilinearResampler::computeCoefficients(int inputSize, double regionStart, double regionEnd,
                                            int outputSize, int firstOutput, int numOutputs,
                                            AxisCoefficients& coefficients) {
  // Pillow receives the box as C floats and subtracts them in float precision; so do we, so that
  // fractional regions give the same coefficients.
  const float start = static_cast<float>(regionStart);
  const float end = static_cast<float>(regionEnd);
  const double scale = static_cast<double>(end - start) / outputSize;
  const double filterScale = std::max(scale, 1.0);  // widen the filter only when downscaling
  const double support = 1.0 * filterScale;
  const double inverseFilterScale = 1.0 / filterScale;
  const int tapStride = static_cast<int>(std::ceil(support)) * 2 + 1;

  coefficients.tapStride = tapStride;
  coefficients.firstInput.resize(numOutputs);
  coefficients.numTaps.resize(numOutputs);
  coefficients.weights.assign(static_cast<size_t>(numOutputs) * tapStride, 0);
  unnormalizedWeights_.resize(tapStride);

  for (int out = 0; out < numOutputs; ++out) {
    const double center = start + (firstOutput + out + 0.5) * scale;
    // Truncation towards zero, then clamping, exactly as Pillow rounds the window's ends.
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int last = std::min(static_cast<int>(center + support + 0.5), inputSize);
    const int numTaps = std::max(last - first, 0);
    double total = 0.0;
    for (int tap = 0; tap < numTaps; ++tap) {
      double weight = triangle((tap + first - center + 0.5) * inverseFilterScale);
      unnormalizedWeights_[tap] = weight;
      total += weight;
    }
    int32_t* weights = &coefficients.weights[static_cast<size_t>(out) * tapStride];
    for (int tap = 0; tap < numTaps; ++tap) {
      double weight = total != 0.0 ? unnormalizedWeights_[tap] / total : unnormalizedWeights_[tap];
      double scaled = weight * (1 << kPrecisionBits);
      weights[tap] = static_cast<int32_t>(weight < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    coefficients.firstInput[out] = first;
    coefficients.numTaps[out] = numTaps;
  }
}

void BilinearResampler::resampleHorizontally(const ImageView& source, int firstRow, int firstColumn,
                                             const MutableImageView& destination) {
  const int channels = source.channels;
  // Raw pointers held in locals: stores through uint8_t* may alias anything, so members read in the
  // loop would be reloaded from memory after every output pixel.
  const int32_t* const allWeights = horizontal_.weights.data();
  const int32_t* const firstInputs = horizontal_.firstInput.data();
  const int32_t* const tapCounts = horizontal_.numTaps.data();
  const size_t tapStride = static_cast<size_t>(horizontal_.tapStride);
  const int width = destination.width;
  for (int row = 0; row < destination.height; ++row) {
    const uint8_t* input = source.row(firstRow + row);
    uint8_t* output = destination.row(row);
    int out = 0;
#if SLUICE_RESAMPLER_AVX2
    if (vectorKernels_ && channels == 3) {
      out = filterRgbRowAvx2(input, source.width, firstColumn, firstInputs, tapCounts, allWeights, tapStride,
                             output, width);
      output += static_cast<size_t>(out) * 3;
    }
#endif
    for (; out < width; ++out) {
      const int32_t* weights = allWeights + static_cast<size_t>(out) * tapStride;
      const uint8_t* pixel = input + static_cast<size_t>(firstInputs[out] - firstColumn) * channels;
      const int numTaps = tapCounts[out];
      if (channels == 3) {
        int32_t sum0 = kRoundingHalf, sum1 = kRoundingHalf, sum2 = kRoundingHalf;
        for (int tap = 0; tap < numTaps; ++tap, pixel += 3) {
          sum0 += pixel[0] * weights[tap];
          sum1 += pixel[1] * weights[tap];
          sum2 += pixel[2] * weights[tap];
        }
        output[0] = clampToByte(sum0);
        output[1] = clampToByte(sum1);
        output[2] = clampToByte(sum2);
        output += 3;
      } else {
        for (int channel = 0; channel < channels; ++channel) {
          int32_t sum = kRoundingHalf;
          for (int tap = 0; tap < numTaps; ++tap) sum += pixel[tap * channels + channel] * weights[tap];
          *output++ = clampToByte(sum);
        }
      }
    }
  }
}

void BilinearResampler::resampleVertically(const ImageView& source, int firstRow,
                                           const MutableImageView& destination) {
  const size_t rowBytes = static_cast<size_t>(destination.width) * destination.channels;
  rowAccumulator_.resize(rowBytes);
  tapRows_.resize(vertical_.tapStride);
  int32_t* accumulator = rowAccumulator_.data();
  for (int out = 0; out < destination.height; ++out) {
    const int32_t* weights = &vertical_.weights[static_cast<size_t>(out) * vertical_.tapStride];
    const int first = vertical_.firstInput[out] - firstRow;
    const int numTaps = vertical_.numTaps[out];
    uint8_t* output = destination.row(out);
    size_t done = 0;
#if SLUICE_RESAMPLER_AVX2
    if (vectorKernels_) {
      for (int tap = 0; tap < numTaps; ++tap) tapRows_[tap] = source.row(first + tap);
      done = filterColumnsAvx2(tapRows_.data(), weights, numTaps, rowBytes, output);
      if (done == rowBytes) continue;
    }
#endif
    std::fill(accumulator + done, accumulator + rowBytes, kRoundingHalf);
    // Accumulating whole rows tap by tap keeps the inner loop contiguous, so it vectorises.
    for (int tap = 0; tap < numTaps; ++tap) {
      const uint8_t* input = source.row(first + tap);
      const int32_t weight = weights[tap];
      for (size_t i = done; i < rowBytes; ++i) accumulator[i] += input[i] * weight;
    }
    for (size_t i = done; i < rowBytes; ++i) output[i] = clampToByte(accumulator[i]);
  }
}

Status BilinearResampler::resize(const ImageView& source, const Region& region,
                                 const MutableImageView& destination) {
  if (source.channels < 1 || source.channels > 4 || source.channels != destination.channels) {
    return Status::InvalidArgument("cannot resize a " + std::to_string(source.channels) +
                                   "-channel image into a " + std::to_string(destination.channels) +
                                   "-channel one (1 to 4 channels, the same on both sides)");
  }
  if (source.width <= 0 || source.height <= 0 || destination.width <= 0 || destination.height <= 0) {
    return Status::InvalidArgument("cannot resize " + std::to_string(source.width) + "x" +
                                   std::to_string(source.height) + " pixels to " +
                                   std::to_string(destination.width) + "x" +
                                   std::to_string(destination.height) + ": sizes must be positive");
  }
  if (!(region.left >= 0 && region.top >= 0 && region.right <= source.width &&
        region.bottom <= source.height && region.left < region.right && region.top < region.bottom)) {
    return Status::InvalidArgument("resize region " + describe(region) +
                                   " is empty or not inside the " + std::to_string(source.width) +
                                   "x" + std::to_string(source.height) + " source image");
  }

  // Pillow skips a pass whose coefficients would be the identity; the result is the same either
  // way, but skipping saves the work (and a crop that only moves the window still resamples).
  const bool needHorizontal = destination.width != source.width || region.left != 0 ||
                              region.right != destination.width;
  const bool needVertical = destination.height != source.height || region.top != 0 ||
                            region.bottom != destination.height;
  computeCoefficients(source.width, region.left, region.right, destination.width, 0, destination.width,
                      horizontal_);
  computeCoefficients(source.height, region.top, region.bottom, destination.height, 0, destination.height,
                      vertical_);

  if (!needHorizontal && !needVertical) {
    for (int y = 0; y < destination.height; ++y) {
      std::memcpy(destination.row(y), source.row(y), static_cast<size_t>(source.width) * source.channels);
    }
    return Status::OK();
  }
  if (!needHorizontal) {
    resampleVertically(source, 0, destination);
    return Status::OK();
  }
  if (!needVertical) {
    resampleHorizontally(source, 0, 0, destination);
    return Status::OK();
  }

  // Pillow 13 (python-pillow/Pillow#9549) filters vertically first when the height loses more
  // than twice as many pixels as the width; the choice uses whole-image sizes, not the region's.
  const bool verticalFirst = destination.height < source.height &&
                             2 * (source.width - destination.width) < source.height - destination.height;
  resampleBothPasses(source, verticalFirst, destination);
  return Status::OK();
}

void BilinearResampler::resampleBothPasses(const ImageView& source, bool verticalFirst,
                                           const MutableImageView& destination) {
  const int channels = source.channels;
  if (verticalFirst) {
    // The vertical pass only visits the source columns the horizontal filter will read.
    const int lastOutput = destination.width - 1;
    const int firstColumn = horizontal_.firstInput[0];
    const int numColumns = horizontal_.firstInput[lastOutput] + horizontal_.numTaps[lastOutput] - firstColumn;
    const size_t stride = static_cast<size_t>(numColumns) * channels;
    intermediate_.resize(stride * destination.height);
    ImageView columns{source.pixels + static_cast<size_t>(firstColumn) * channels, numColumns,
                      source.height, channels, source.rowStride};
    MutableImageView intermediate{intermediate_.data(), numColumns, destination.height, channels, stride};
    resampleVertically(columns, 0, intermediate);
    resampleHorizontally(intermediate.asConst(), 0, firstColumn, destination);
  } else {
    // The horizontal pass only visits the source rows the vertical filter will read.
    const int lastOutput = destination.height - 1;
    const int firstRow = vertical_.firstInput[0];
    const int numRows = vertical_.firstInput[lastOutput] + vertical_.numTaps[lastOutput] - firstRow;
    const size_t stride = static_cast<size_t>(destination.width) * channels;
    intermediate_.resize(stride * numRows);
    MutableImageView intermediate{intermediate_.data(), destination.width, numRows, channels, stride};
    resampleHorizontally(source, firstRow, 0, intermediate);
    resampleVertically(intermediate.asConst(), firstRow, destination);
  }
}

Status BilinearResampler::resizeWindow(const ImageView& source, int fullWidth, int fullHeight, int windowLeft,
                                       int windowTop, const MutableImageView& destination) {
  if (source.channels < 1 || source.channels > 4 || source.channels != destination.channels) {
    return Status::InvalidArgument("cannot resize a " + std::to_string(source.channels) +
                                   "-channel image into a " + std::to_string(destination.channels) +
                                   "-channel one (1 to 4 channels, the same on both sides)");
  }
  if (source.width <= 0 || source.height <= 0 || destination.width <= 0 || destination.height <= 0 ||
      windowLeft < 0 || windowTop < 0 || windowLeft + destination.width > fullWidth ||
      windowTop + destination.height > fullHeight) {
    return Status::InvalidArgument("cannot take a " + std::to_string(destination.width) + "x" +
                                   std::to_string(destination.height) + " window at (" +
                                   std::to_string(windowLeft) + ", " + std::to_string(windowTop) +
                                   ") of " + std::to_string(source.width) + "x" +
                                   std::to_string(source.height) + " pixels resized to " +
                                   std::to_string(fullWidth) + "x" + std::to_string(fullHeight));
  }
  computeCoefficients(source.width, 0, source.width, fullWidth, windowLeft, destination.width, horizontal_);
  computeCoefficients(source.height, 0, source.height, fullHeight, windowTop, destination.height, vertical_);
  // Pillow skips a pass whose size does not change; its coefficients here are exact copies, so
  // running it gives the same pixels. The pass order is the one Pillow picks for the full resize.
  const bool verticalFirst =
      fullHeight < source.height && 2 * (source.width - fullWidth) < source.height - fullHeight;
  resampleBothPasses(source, verticalFirst, destination);
  return Status::OK();
}

PixelWindow BilinearResampler::sourceWindow(Size source, int fullWidth, int fullHeight, int windowLeft,
                                            int windowTop, int windowWidth, int windowHeight) {
  if (source.width <= 0 || source.height <= 0 || windowWidth <= 0 || windowHeight <= 0 || windowLeft < 0 ||
      windowTop < 0 || windowLeft + windowWidth > fullWidth || windowTop + windowHeight > fullHeight) {
    return {};
  }
  computeCoefficients(source.width, 0, source.width, fullWidth, windowLeft, windowWidth, horizontal_);
  computeCoefficients(source.height, 0, source.height, fullHeight, windowTop, windowHeight, vertical_);
  // Window ends grow with the output index, so the first and last outputs bound them.
  const int lastColumn = windowWidth - 1;
  const int lastRow = windowHeight - 1;
  return {horizontal_.firstInput[0], vertical_.firstInput[0],
          horizontal_.firstInput[lastColumn] + horizontal_.numTaps[lastColumn],
          vertical_.firstInput[lastRow] + vertical_.numTaps[lastRow]};
}

Result<Image> resizeBilinear(const ImageView& source, const Region& region, int outputWidth,
                             int outputHeight) {
  if (outputWidth <= 0 || outputHeight <= 0) {
    return Status::InvalidArgument("cannot resize to " + std::to_string(outputWidth) + "x" +
                                   std::to_string(outputHeight) + ": sizes must be positive");
  }
  Image output(outputWidth, outputHeight, source.channels);
  BilinearResampler resampler;
  SLUICE_RETURN_IF_ERROR(resampler.resize(source, region, output.mutableView()));
  return output;
}

Result<Image> resizeBilinear(const ImageView& source, int outputWidth, int outputHeight) {
  return resizeBilinear(source, Region::whole(source), outputWidth, outputHeight);
}

}  // namespace sluice::image
