#include "image/preprocess.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace sluice::image {

std::string ImageShape::toString() const {
  return std::to_string(height) + "," + std::to_string(width) + "," + std::to_string(channels);
}

Result<ImageShape> parseImageShape(const std::string& text) {
  ImageShape shape;
  char comma1 = 0;
  char comma2 = 0;
  std::istringstream in(text);
  if (!(in >> shape.height >> comma1 >> shape.width >> comma2 >> shape.channels) || comma1 != ',' ||
      comma2 != ',' || !in.eof()) {
    return Status::InvalidArgument("image shape '" + text + "' is not of the form H,W,C (e.g. 256,256,3)");
  }
  if (shape.height <= 0 || shape.width <= 0 || shape.channels != 3) {
    return Status::InvalidArgument("image shape '" + text +
                                   "' is not supported: height and width must be positive and channels 3 (RGB)");
  }
  return shape;
}

Result<Normalization> parseNormalization(const std::string& text) {
  if (text == "imagenet") return Normalization::kImagenet;
  if (text == "seed") return Normalization::kSeed;
  return Status::InvalidArgument("unknown normalization '" + text + "'; use imagenet or seed");
}

const char* normalizationName(Normalization normalization) {
  return normalization == Normalization::kImagenet ? "imagenet" : "seed";
}

int centerCropOffset(int size, int cropSize) {
  // torchvision: int(round((size - crop) / 2.0)); Python rounds halves to even, as nearbyint does.
  return static_cast<int>(std::nearbyint((size - cropSize) / 2.0));
}

void centerCrop(const uint8_t* pixels, const ImageShape& shape, int cropHeight, int cropWidth, uint8_t* out) {
  int top = centerCropOffset(shape.height, cropHeight);
  int left = centerCropOffset(shape.width, cropWidth);
  size_t rowBytes = static_cast<size_t>(cropWidth) * shape.channels;
  for (int y = 0; y < cropHeight; ++y) {
    const uint8_t* source = pixels + (static_cast<size_t>(top + y) * shape.width + left) * shape.channels;
    std::memcpy(out + y * rowBytes, source, rowBytes);
  }
}

std::array<float, 3 * 256> normalizationTable(Normalization normalization) {
  std::array<float, 3 * 256> table{};
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 256; ++p) {
      float value = static_cast<float>(p);
      if (normalization == Normalization::kImagenet) value = value / 255.0f;
      table[c * 256 + p] = (value - kImagenetMean[c]) / kImagenetStd[c];
    }
  }
  return table;
}

void normalizeToNchw(const uint8_t* crops, int64_t count, int height, int width, Normalization normalization,
                     float* out) {
  const int64_t plane = int64_t{height} * width;
  const auto table = normalizationTable(normalization);
  for (int c = 0; c < 3; ++c) {
    const float* channelTable = table.data() + c * 256;
    for (int64_t n = 0; n < count; ++n) {
      const uint8_t* source = crops + n * plane * 3 + c;
      float* target = out + (n * 3 + c) * plane;
      for (int64_t i = 0; i < plane; ++i) target[i] = channelTable[source[i * 3]];
    }
  }
}

}  // namespace sluice::image
