// Splits sluice's per-image preprocessing time into decode and resize+crop, on files given on the
// command line (the benchmark's JPEGs dumped by compare.py). Prints one JSON line.
//   decode_breakdown [--dct-scaling-margin M] FILE...

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "image/bilinear_resampler.h"
#include "image/encoded_image_preprocessor.h"
#include "image/image_decoder.h"
#include "image/preprocess.h"

int main(int argc, char** argv) {
  using namespace sluice::image;
  using Clock = std::chrono::steady_clock;
  double margin = 8.0;
  std::vector<std::vector<uint8_t>> files;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--dct-scaling-margin" && i + 1 < argc) {
      margin = std::atof(argv[++i]);
      continue;
    }
    std::ifstream in(argument, std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  Image decoded;
  BilinearResampler resampler;
  std::vector<uint8_t> crop(224 * 224 * 3);
  double decodeSeconds = 0, resizeSeconds = 0;
  for (int round = 0; round < 2; ++round) {  // the first round warms caches and buffers
    decodeSeconds = resizeSeconds = 0;
    for (const auto& bytes : files) {
      auto start = Clock::now();
      DecodeOptions options;
      options.minShortSide = margin > 0 ? static_cast<int>(std::ceil(margin * 256)) : 0;
      // As EncodedImagePreprocessor decodes: only the part of the image the crop needs.
      options.neededWindow = [&](const StoredSize& stored, Size decoded) {
        Size full = resizedSize(stored.width, stored.height, 256);
        return resampler.sourceWindow(decoded, full.width, full.height, centerCropOffset(full.width, 224),
                                      centerCropOffset(full.height, 224), 224, 224);
      };
      auto stored = decodeImageInto(bytes.data(), bytes.size(), options, decoded);
      auto decodedAt = Clock::now();
      if (!stored.ok()) return 1;
      Size full = resizedSize(stored->width, stored->height, 256);
      if (!resampler.resizeWindow(decoded.view(), full.width, full.height, centerCropOffset(full.width, 224),
                                  centerCropOffset(full.height, 224), {crop.data(), 224, 224, 3, 224 * 3})
               .ok()) {
        return 1;
      }
      decodeSeconds += std::chrono::duration<double>(decodedAt - start).count();
      resizeSeconds += std::chrono::duration<double>(Clock::now() - decodedAt).count();
    }
  }
  std::printf("{\"images\": %zu, \"decode_ms\": %.4f, \"resize_crop_ms\": %.4f}\n", files.size(),
              1e3 * decodeSeconds / files.size(), 1e3 * resizeSeconds / files.size());
  return 0;
}
