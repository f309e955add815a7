#pragma once
// Turns encoded image bytes (JPEG or PNG, told apart by their magic bytes) into RGB pixels.

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"
#include "sluice/status.h"

namespace sluice::image {

/// Images with more pixels than this are refused before any pixel memory is allocated, so a corrupt
/// or hostile header cannot make a decoder ask for gigabytes (Pillow's limit is of the same order).
inline constexpr int64_t kMaxDecodedPixels = int64_t{1} << 28;

/// Decodes a JPEG or PNG held in memory into an RGB image (3 channels, HWC, 8 bits).
/// Greyscale becomes three equal channels, alpha is dropped, palettes are expanded and 16-bit
/// samples are reduced to 8 bits. Corrupt, truncated or unknown data returns kInvalidData; the call
/// never aborts the process and never prints to stderr. Thread-safe (no shared state).
Result<Image> decodeImage(const uint8_t* data, size_t size);

/// Reads `path` and decodes it with decodeImage; errors name the file.
Result<Image> readImageFile(const std::string& path);

}  // namespace sluice::image
