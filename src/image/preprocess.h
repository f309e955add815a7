#pragma once
// Preprocessing of raw-pixel images: center crop and normalization, as torchvision's
// CenterCrop + ToTensor + Normalize compute them.

#include <array>
#include <cstdint>
#include <string>

#include "sluice/status.h"

namespace sluice::image {

/// Height, width and channels of an HWC uint8 image.
struct ImageShape {
  int height = 0;
  int width = 0;
  int channels = 0;
  int64_t bytes() const { return int64_t{height} * width * channels; }
  std::string toString() const;
};

/// Parses "H,W,C" (e.g. "256,256,3"); C must be 3.
Result<ImageShape> parseImageShape(const std::string& text);

enum class Normalization {
  kImagenet,  // ToTensor then Normalize: ((p / 255) - mean) / std, the standard torchvision pipeline
  kSeed,      // Normalize on 0-255 values: (p - mean) / std, exactly as the reimplemented benchmark did
};

Result<Normalization> parseNormalization(const std::string& text);
const char* normalizationName(Normalization normalization);

inline constexpr std::array<float, 3> kImagenetMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetStd = {0.229f, 0.224f, 0.225f};

/// Top-left corner of a centered crop, rounded as torchvision's CenterCrop does.
int centerCropOffset(int size, int cropSize);

/// Copies the centered cropHeight x cropWidth window of an HWC image into `out`
/// (cropHeight x cropWidth x channels). The crop must fit inside the image.
void centerCrop(const uint8_t* pixels, const ImageShape& shape, int cropHeight, int cropWidth, uint8_t* out);

/// The normalized value of every pixel value of every channel: table[c * 256 + p], each computed
/// with the same float32 operations, in the same order, as torchvision (shared by the GPU kernel).
std::array<float, 3 * 256> normalizationTable(Normalization normalization);

/// Converts `count` HWC uint8 crops of height x width x 3 into normalized float32 NCHW.
void normalizeToNchw(const uint8_t* crops, int64_t count, int height, int width, Normalization normalization,
                     float* out);

}  // namespace sluice::image
