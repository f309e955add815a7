#pragma once
// Encodes uint8 images as JPEG (libjpeg-turbo) or PNG (libspng), e.g. to generate datasets that
// store encoded images as real ones do.

#include <cstdint>
#include <vector>

#include "image/image.h"
#include "sluice/status.h"

namespace sluice::image {

/// Encodes a 1-channel (greyscale) or 3-channel (RGB) image as a baseline JPEG with 4:2:0 chroma
/// subsampling (libjpeg's defaults, as Pillow's), or a progressive one. quality is 1 to 100.
/// Thread-safe.
Result<std::vector<uint8_t>> encodeJpeg(const ImageView& image, int quality, bool progressive = false);

/// Encodes a 1-channel (greyscale) or 3-channel (RGB) image as an 8-bit PNG. Thread-safe.
Result<std::vector<uint8_t>> encodePng(const ImageView& image);

}  // namespace sluice::image
