#pragma once
// PNG decoding with libspng; used through decodeImage, which picks the format.

#include <cstddef>
#include <cstdint>

#include "image/image.h"
#include "sluice/status.h"

namespace sluice::image {

/// True when `data` starts with the 8-byte PNG signature.
bool looksLikePng(const uint8_t* data, size_t size);

/// Decodes any PNG colour type and bit depth into 8-bit RGB (alpha dropped). Thread-safe.
Result<Image> decodePng(const uint8_t* data, size_t size);

}  // namespace sluice::image
