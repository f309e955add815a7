#include "image/preprocess.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::image {
namespace {

TEST(PreprocessTest, ParsesImageShape) {
  auto shape = parseImageShape("256,256,3");
  ASSERT_TRUE(shape.ok());
  EXPECT_EQ(shape->height, 256);
  EXPECT_EQ(shape->bytes(), 256 * 256 * 3);
  EXPECT_FALSE(parseImageShape("256x256").ok());
  EXPECT_FALSE(parseImageShape("256,256,4").ok());
  EXPECT_FALSE(parseImageShape("0,256,3").ok());
  EXPECT_FALSE(parseImageShape("256,256,3,1").ok());
}

TEST(PreprocessTest, CenterCropOffsetRoundsLikeTorchvision) {
  EXPECT_EQ(centerCropOffset(256, 224), 16);
  EXPECT_EQ(centerCropOffset(255, 224), 16);  // round(15.5) = 16
  EXPECT_EQ(centerCropOffset(253, 224), 14);  // round(14.5) = 14, half to even
  EXPECT_EQ(centerCropOffset(224, 224), 0);
}

TEST(PreprocessTest, CenterCropTakesTheMiddleWindow) {
  ImageShape shape{4, 5, 3};
  std::vector<uint8_t> pixels(shape.bytes());
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> crop(2 * 3 * 3);
  centerCrop(pixels.data(), shape, 2, 3, crop.data());
  // top = 1, left = 1: first value is pixel (1,1) channel 0.
  EXPECT_EQ(crop[0], (1 * 5 + 1) * 3);
  EXPECT_EQ(crop[9], (2 * 5 + 1) * 3);
  EXPECT_EQ(crop[17], (2 * 5 + 3) * 3 + 2);
}

TEST(PreprocessTest, SeedNormalizationAppliesMeanAndStdToRawValues) {
  std::vector<uint8_t> crop = {255, 0, 128};  // one pixel
  std::vector<float> out(3);
  normalizeToNchw(crop.data(), 1, 1, 1, Normalization::kSeed, out.data());
  EXPECT_FLOAT_EQ(out[0], (255.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(out[1], (0.0f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(out[2], (128.0f - 0.406f) / 0.225f);
}

TEST(PreprocessTest, ImagenetNormalizationScalesToUnitRangeFirst) {
  std::vector<uint8_t> crop = {255, 0, 128, 10, 20, 30};  // two pixels, 1x2
  std::vector<float> out(6);
  normalizeToNchw(crop.data(), 1, 1, 2, Normalization::kImagenet, out.data());
  EXPECT_FLOAT_EQ(out[0], (1.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(out[1], (10 / 255.0f - 0.485f) / 0.229f);  // channel planes are contiguous
  EXPECT_FLOAT_EQ(out[2], (0.0f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(out[5], (30 / 255.0f - 0.406f) / 0.225f);
}

}  // namespace
}  // namespace sluice::image
