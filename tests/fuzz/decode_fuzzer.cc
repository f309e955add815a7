// libFuzzer target for the encoded-image entry point: decode + resize + center crop of arbitrary
// bytes, as a worker does for each binary row. Any input must give a Status, never a crash, a hang
// or a sanitizer report. Built and run by tests/fuzz/run_decode_fuzzer.sh.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "image/encoded_image_preprocessor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::image::EncodedImagePreprocessor;
  // Kept across inputs, as a worker keeps its preprocessor across rows: stale buffers must not leak
  // into the next image. Margin 1 makes DCT-domain scaling happen on small inputs too.
  static EncodedImagePreprocessor fullSize({256, 224, 0});
  static EncodedImagePreprocessor downscaled({64, 56, 1.0});
  static std::vector<uint8_t> crop(224 * 224 * 3);
  (void)fullSize.process(data, size, {crop.data(), 224, 224, 3, 224 * 3});
  (void)downscaled.process(data, size, {crop.data(), 56, 56, 3, 56 * 3});
  return 0;
}
