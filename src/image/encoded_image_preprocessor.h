#pragma once
// torchvision's standard evaluation preprocessing for encoded images, with the PIL backend:
// decode to RGB, Resize(resizeSize) (short side to resizeSize, antialiased bilinear) and
// CenterCrop(cropSize), the resize and crop fused so that only the kept window is filtered.

#include <cstddef>
#include <cstdint>

#include "image/bilinear_resampler.h"
#include "image/image.h"
#include "sluice/status.h"

namespace sluice::image {

/// The size torchvision's Resize(resizeSize) gives a width x height image: the short side becomes
/// resizeSize and the long side int(resizeSize * long / short), truncated as Python's int() does.
Size resizedSize(int width, int height, int resizeSize);

struct ResizeCropOptions {
  int resizeSize = 256;
  int cropSize = 224;
  /// Large JPEGs are decoded downscaled in the DCT domain (1/2, 1/4, 1/8) only while the decoded
  /// short side stays >= dctScalingMargin * resizeSize; 0 turns DCT-domain scaling off. A DCT
  /// downscale is not Pillow's filter: measured against Pillow on photos re-encoded at 1,100-5,000
  /// px (bench/results/cpu_decode.md), margin 2 gives a mean |diff| of 0.4 but up to 36 levels on
  /// single pixels of textured images, margin 4-6 still up to 10-13, margin 8 at most 1. So 8, within
  /// the fidelity tolerance (max 8 levels), is the default; lower margins trade fidelity for speed.
  double dctScalingMargin = 8.0;
};

/// Checks sizes: both positive, crop <= resize, margin 0 or >= 1.
Status validate(const ResizeCropOptions& options);

/// Decodes and preprocesses encoded images one at a time, keeping its buffers between images.
/// Not thread-safe: one per worker thread.
class EncodedImagePreprocessor {
 public:
  explicit EncodedImagePreprocessor(const ResizeCropOptions& options) : options_(options) {}

  /// Decodes the JPEG or PNG in `data` and writes its cropSize x cropSize x 3 RGB crop into `crop`.
  /// Corrupt, truncated or non-image data returns kInvalidData saying why; never aborts.
  Status process(const uint8_t* data, size_t size, const MutableImageView& crop);

  /// The image the last successful process() decoded (possibly DCT-downscaled), of which only the
  /// part the crop needed is defined; empty after one too large to keep.
  const Image& decoded() const { return decoded_; }
  /// The scale denominator the last successful process() decoded at (1 = full size).
  int lastScaleDenominator() const { return lastScaleDenominator_; }

 private:
  Status decodeAndResize(const uint8_t* data, size_t size, const MutableImageView& crop);

  ResizeCropOptions options_;
  Image decoded_;
  BilinearResampler resampler_;
  int lastScaleDenominator_ = 1;
};

}  // namespace sluice::image
