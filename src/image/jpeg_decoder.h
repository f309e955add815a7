#pragma once
// JPEG decoding with libjpeg-turbo; used through decodeImage, which picks the format.

#include <cstddef>
#include <cstdint>

#include "image/image.h"
#include "image/image_decoder.h"
#include "sluice/status.h"

namespace sluice::image {

/// Progressive JPEGs can hold thousands of tiny scans that each cost a full pass over the image;
/// a real encoder never writes more than a few dozen, so a file with more is an error.
inline constexpr int kMaxProgressiveScans = 500;

/// True when `data` starts with the JPEG start-of-image marker.
bool looksLikeJpeg(const uint8_t* data, size_t size);

/// Decodes a JPEG into RGB (greyscale replicated, CMYK/YCCK converted). Thread-safe.
Result<Image> decodeJpeg(const uint8_t* data, size_t size);

/// Decodes a JPEG into `image` (reusing its memory) as DecodeOptions describe. Thread-safe.
Result<StoredSize> decodeJpegInto(const uint8_t* data, size_t size, const DecodeOptions& options, Image& image);

}  // namespace sluice::image
