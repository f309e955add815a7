#pragma once
// Turns encoded image bytes (JPEG or PNG, told apart by their magic bytes) into RGB pixels.

#include <cstddef>
#include <cstdint>
#include <functional>
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

/// A rectangle of pixels, [left, right) x [top, bottom).
struct PixelWindow {
  int left = 0;
  int top = 0;
  int right = 0;
  int bottom = 0;
};

struct StoredSize;

/// How decodeImageInto may decode.
struct DecodeOptions {
  /// JPEG only: when positive, decode at the smallest of 1/8, 1/4 and 1/2 scale (libjpeg-turbo's
  /// DCT-domain scaling: a fraction of the work) whose short side is still at least this many
  /// pixels; 0 decodes at full size. PNGs are always decoded at full size.
  int minShortSide = 0;
  /// When set, the caller reads only this window of the decoded image (given its stored size and
  /// the size it is decoded at): baseline JPEGs then skip the inverse DCT and colour conversion of
  /// whole block columns and rows outside it (libjpeg-turbo's partial decoding), keeping two block
  /// columns and rows of margin so that chroma upsampling at the window's edge sees the same
  /// neighbours as a full decode. Pixels outside the window are then left unspecified. The whole
  /// file is still entropy-decoded, so corrupt or truncated data is reported as before.
  std::function<PixelWindow(const StoredSize& stored, Size decoded)> neededWindow;
};

/// The image as stored, before any scaling at decode time: the decoded image is
/// ceil(width / scaleDenominator) x ceil(height / scaleDenominator).
struct StoredSize {
  int width = 0;
  int height = 0;
  int scaleDenominator = 1;
};

/// Decodes as decodeImage does, into `image` (its memory is reused when large enough), possibly
/// downscaled as `options` allow. Thread-safe (no shared state).
Result<StoredSize> decodeImageInto(const uint8_t* data, size_t size, const DecodeOptions& options, Image& image);

/// Reads `path` and decodes it with decodeImage; errors name the file.
Result<Image> readImageFile(const std::string& path);

}  // namespace sluice::image
