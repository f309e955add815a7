#pragma once
// Encodes uint8 images as JPEG (libjpeg-turbo) or PNG (libspng), e.g. to generate datasets that
// store encoded images as real ones do.

#include <cstdint>
#include <vector>

#include "image/image.h"
#include "sluice/status.h"

namespace sluice::image {

/// How many chroma samples a colour JPEG keeps: 4:2:0 (one per 2x2 pixels, libjpeg's and Pillow's
/// default), 4:2:2 (one per 2x1, common in camera files) or 4:4:4 (one per pixel).
enum class ChromaSubsampling { k420, k422, k444 };

struct JpegEncodeOptions {
  int quality = 75;  ///< 1 to 100, libjpeg's scale
  ChromaSubsampling subsampling = ChromaSubsampling::k420;  ///< ignored for greyscale images
  bool progressive = false;
};

/// Encodes a 1-channel (greyscale) or 3-channel (RGB) image as a baseline or progressive JPEG.
/// Thread-safe.
Result<std::vector<uint8_t>> encodeJpeg(const ImageView& image, const JpegEncodeOptions& options);

/// Encodes a 1-channel (greyscale) or 3-channel (RGB) image as an 8-bit PNG. Thread-safe.
Result<std::vector<uint8_t>> encodePng(const ImageView& image);

}  // namespace sluice::image
