// Deterministic fuzzing that always runs (the libFuzzer target needs clang): thousands of
// truncations, bit flips and byte overwrites of valid JPEGs and PNGs through the encoded-image path.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "image/encoded_image_preprocessor.h"
#include "image/test_image_encoding.h"

namespace sluice::image {
namespace {

std::vector<std::vector<uint8_t>> seedFiles() {
  std::vector<uint8_t> rgb = testing::smoothRgbPattern(40, 32);
  std::vector<uint8_t> grey(40 * 32);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = rgb[i * 3];
  return {testing::encodeJpeg(40, 32, 3, rgb.data(), 85),
          testing::encodeJpeg(40, 32, 3, rgb.data(), 85, /*progressive=*/true),
          testing::encodeJpeg(40, 32, 1, grey.data(), 90),
          testing::encodePng(40, 32, testing::kPngRgb, 8, rgb.data(), rgb.size()),
          testing::encodePng(40, 32, testing::kPngGray, 8, grey.data(), grey.size())};
}

TEST(DecodeMutationTest, EveryMutatedFileGivesAStatusAndNoCrash) {
  const auto seeds = seedFiles();
  EncodedImagePreprocessor fullSize({256, 224, 0});
  EncodedImagePreprocessor downscaled({16, 12, 1.0});
  std::vector<uint8_t> crop(224 * 224 * 3);
  std::mt19937_64 random(1234);
  int numOk = 0, numInvalid = 0;
  constexpr int kMutations = 10000;
  for (int i = 0; i < kMutations; ++i) {
    std::vector<uint8_t> bytes = seeds[i % seeds.size()];
    switch (random() % 4) {
      case 0:  // truncation
        bytes.resize(random() % bytes.size());
        break;
      case 1:  // bit flips
        for (int flips = 1 + int(random() % 8); flips > 0; --flips) bytes[random() % bytes.size()] ^= uint8_t(1u << (random() % 8));
        break;
      case 2:  // random bytes overwritten, often in the header
        for (int writes = 1 + int(random() % 4); writes > 0; --writes) {
          bytes[random() % std::min<size_t>(bytes.size(), random() % 2 ? 200 : bytes.size())] = uint8_t(random());
        }
        break;
      default:  // a run of bytes duplicated in place (segment lengths disagree with content)
        if (bytes.size() > 8) {
          size_t from = random() % (bytes.size() - 8);
          size_t length = 1 + random() % 8;
          bytes.insert(bytes.begin() + long(random() % bytes.size()), bytes.begin() + long(from),
                       bytes.begin() + long(from + length));
        }
    }
    for (auto* preprocessor : {&fullSize, &downscaled}) {
      const int size = preprocessor == &fullSize ? 224 : 12;
      Status status = preprocessor->process(bytes.data(), bytes.size(), {crop.data(), size, size, 3, size_t(size) * 3});
      ASSERT_TRUE(status.ok() || status.code() == StatusCode::kInvalidData) << i << ": " << status.toString();
      (status.ok() ? numOk : numInvalid) += 1;
    }
  }
  // Both outcomes occur: the mutations neither all break the files nor all leave them intact.
  EXPECT_GT(numOk, 1000);
  EXPECT_GT(numInvalid, 1000);
}

}  // namespace
}  // namespace sluice::image
