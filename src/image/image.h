#pragma once
// The in-memory image every decoder produces and every resampler consumes: interleaved (HWC) uint8.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::image {

/// Width and height of an image.
struct Size {
  int width = 0;
  int height = 0;
  bool operator==(const Size&) const = default;
};

/// A read-only window onto interleaved uint8 pixels; rows are `rowStride` bytes apart.
struct ImageView {
  const uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  size_t rowStride = 0;

  const uint8_t* row(int y) const { return pixels + static_cast<size_t>(y) * rowStride; }
};

/// A writable window onto interleaved uint8 pixels owned by someone else (a batch slot, a buffer).
struct MutableImageView {
  uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  size_t rowStride = 0;

  uint8_t* row(int y) const { return pixels + static_cast<size_t>(y) * rowStride; }
  ImageView asConst() const { return {pixels, width, height, channels, rowStride}; }
};

/// An image that owns its pixels: `height` rows of `width * channels` bytes, no padding (HWC).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int width, int height, int channels)
      : width(width), height(height), channels(channels),
        pixels(static_cast<size_t>(width) * height * channels) {}

  size_t rowBytes() const { return static_cast<size_t>(width) * channels; }
  ImageView view() const { return {pixels.data(), width, height, channels, rowBytes()}; }
  MutableImageView mutableView() { return {pixels.data(), width, height, channels, rowBytes()}; }
};

}  // namespace sluice::image
