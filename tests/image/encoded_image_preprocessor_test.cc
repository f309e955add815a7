#include "image/encoded_image_preprocessor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "image/bilinear_resampler.h"
#include "image/image_decoder.h"
#include "image/image_encoder.h"
#include "image/preprocess.h"
#include "image/test_image_encoding.h"

namespace sluice::image {
namespace {

Image noisyImage(int width, int height, uint32_t seed) {
  Image image(width, height, 3);
  std::mt19937 random(seed);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        int value = (x * 255 / width + y * 255 / height) / 2 + c * 30 + int(random() % 41) - 20;
        image.pixels[(size_t(y) * width + x) * 3 + c] = uint8_t(std::clamp(value, 0, 255));
      }
    }
  }
  return image;
}

// The unfused reference: resize the whole image, then copy the centered crop.
Image resizeThenCrop(const Image& source, int resizeSize, int cropSize) {
  Size full = resizedSize(source.width, source.height, resizeSize);
  Result<Image> resized = resizeBilinear(source.view(), full.width, full.height);
  EXPECT_TRUE(resized.ok());
  Image crop(cropSize, cropSize, 3);
  centerCrop(resized->pixels.data(), ImageShape{full.height, full.width, 3}, cropSize, cropSize,
             crop.pixels.data());
  return crop;
}

TEST(EncodedImagePreprocessorTest, ResizedSizeFollowsTorchvision) {
  EXPECT_EQ(resizedSize(500, 375, 256), (Size{341, 256}));
  EXPECT_EQ(resizedSize(375, 500, 256), (Size{256, 341}));
  EXPECT_EQ(resizedSize(300, 300, 256), (Size{256, 256}));
  EXPECT_EQ(resizedSize(1000, 3, 256), (Size{85333, 256}));
  EXPECT_EQ(resizedSize(200, 150, 256), (Size{341, 256}));
}

TEST(EncodedImagePreprocessorTest, FusedWindowMatchesResizeThenCropBitForBit) {
  BilinearResampler resampler;
  // Wide, tall (the vertical pass goes first), upscaled, square and identity-sized sources.
  for (auto [width, height] : std::vector<std::pair<int, int>>{
           {500, 375}, {375, 500}, {240, 900}, {200, 180}, {300, 300}, {256, 256}, {256, 400}}) {
    Image source = noisyImage(width, height, uint32_t(width * 7 + height));
    Image expected = resizeThenCrop(source, 256, 224);
    Size full = resizedSize(width, height, 256);
    Image actual(224, 224, 3);
    ASSERT_TRUE(resampler
                    .resizeWindow(source.view(), full.width, full.height, centerCropOffset(full.width, 224),
                                  centerCropOffset(full.height, 224), actual.mutableView())
                    .ok());
    EXPECT_EQ(actual.pixels, expected.pixels) << width << "x" << height;
  }
}

TEST(EncodedImagePreprocessorTest, ResizeWindowRejectsAWindowOutsideTheFullSize) {
  BilinearResampler resampler;
  Image source = noisyImage(50, 40, 1);
  Image out(30, 30, 3);
  EXPECT_FALSE(resampler.resizeWindow(source.view(), 40, 40, 20, 0, out.mutableView()).ok());
  EXPECT_FALSE(resampler.resizeWindow(source.view(), 40, 40, -1, 0, out.mutableView()).ok());
}

TEST(EncodedImagePreprocessorTest, JpegAndPngGiveTheDecodedImageResizedAndCropped) {
  Image source = noisyImage(420, 330, 3);
  std::vector<uint8_t> jpeg = testing::encodeJpeg(source.width, source.height, 3, source.pixels.data(), 90);
  std::vector<uint8_t> png =
      testing::encodePng(source.width, source.height, testing::kPngRgb, 8, source.pixels.data(), source.pixels.size());
  EncodedImagePreprocessor preprocessor({256, 224, 0});
  for (const auto* bytes : {&jpeg, &png}) {
    Result<Image> decoded = decodeImage(bytes->data(), bytes->size());
    ASSERT_TRUE(decoded.ok());
    Image expected = resizeThenCrop(*decoded, 256, 224);
    Image crop(224, 224, 3);
    Status status = preprocessor.process(bytes->data(), bytes->size(), crop.mutableView());
    ASSERT_TRUE(status.ok()) << status.toString();
    EXPECT_EQ(crop.pixels, expected.pixels);
  }
}

TEST(EncodedImagePreprocessorTest, PartialJpegDecodingGivesTheCropOfAFullDecode) {
  // The preprocessor decodes only the blocks around the window the crop needs; chroma upsampling
  // (4:2:0 and 4:2:2) at that region's edges must not reach the pixels it keeps.
  struct Case {
    int width, height, channels;
    ChromaSubsampling subsampling;
    bool progressive;
    double dctScalingMargin;
    int resizeSize, cropSize;
  };
  const std::vector<Case> cases = {
      {500, 375, 3, ChromaSubsampling::k420, false, 0, 256, 224},
      {375, 500, 3, ChromaSubsampling::k420, false, 0, 256, 224},
      {900, 260, 3, ChromaSubsampling::k422, false, 0, 256, 224},
      {333, 777, 3, ChromaSubsampling::k444, false, 0, 256, 224},
      {640, 480, 1, ChromaSubsampling::k420, false, 0, 300, 160},
      {1201, 1103, 3, ChromaSubsampling::k420, false, 2.0, 256, 224},  // decoded at 1/2 scale
      {500, 375, 3, ChromaSubsampling::k420, true, 0, 256, 224},       // progressive: decoded whole
  };
  for (const Case& test : cases) {
    Image source = noisyImage(test.width, test.height, uint32_t(test.width + test.height));
    if (test.channels == 1) {
      Image grey(test.width, test.height, 1);
      for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = source.pixels[i * 3 + 1];
      source = std::move(grey);
    }
    Result<std::vector<uint8_t>> jpeg = encodeJpeg(source.view(), {90, test.subsampling, test.progressive});
    ASSERT_TRUE(jpeg.ok()) << jpeg.status().toString();

    EncodedImagePreprocessor preprocessor({test.resizeSize, test.cropSize, test.dctScalingMargin});
    Image crop(test.cropSize, test.cropSize, 3);
    ASSERT_TRUE(preprocessor.process(jpeg->data(), jpeg->size(), crop.mutableView()).ok());

    DecodeOptions whole;
    whole.minShortSide = static_cast<int>(test.dctScalingMargin * test.resizeSize);
    Image decoded;
    Result<StoredSize> stored = decodeImageInto(jpeg->data(), jpeg->size(), whole, decoded);
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(preprocessor.lastScaleDenominator(), stored->scaleDenominator);
    Size full = resizedSize(stored->width, stored->height, test.resizeSize);
    Image expected(test.cropSize, test.cropSize, 3);
    ASSERT_TRUE(BilinearResampler()
                    .resizeWindow(decoded.view(), full.width, full.height, centerCropOffset(full.width, test.cropSize),
                                  centerCropOffset(full.height, test.cropSize), expected.mutableView())
                    .ok());
    EXPECT_EQ(crop.pixels, expected.pixels) << test.width << "x" << test.height << "x" << test.channels;
  }
}

TEST(EncodedImagePreprocessorTest, DctScalingOnlyWhereTheShortSideKeepsTheMargin) {
  std::vector<uint8_t> pixels = testing::smoothRgbPattern(1300, 1100);
  std::vector<uint8_t> large = testing::encodeJpeg(1300, 1100, 3, pixels.data(), 90);
  std::vector<uint8_t> mid = testing::encodeJpeg(1000, 900, 3, pixels.data(), 90);
  Image crop(224, 224, 3);
  EncodedImagePreprocessor scaling({256, 224, 2.0});
  ASSERT_TRUE(scaling.process(large.data(), large.size(), crop.mutableView()).ok());
  EXPECT_EQ(scaling.lastScaleDenominator(), 2);  // 550 >= 512
  EXPECT_EQ(scaling.decoded().width, 650);
  ASSERT_TRUE(scaling.process(mid.data(), mid.size(), crop.mutableView()).ok());
  EXPECT_EQ(scaling.lastScaleDenominator(), 1);  // 450 < 512

  // The smooth pattern downscaled from a half-size decode stays close to the full decode.
  Image full(224, 224, 3);
  EncodedImagePreprocessor exact({256, 224, 0});
  ASSERT_TRUE(exact.process(large.data(), large.size(), full.mutableView()).ok());
  EXPECT_EQ(exact.lastScaleDenominator(), 1);
  ASSERT_TRUE(scaling.process(large.data(), large.size(), crop.mutableView()).ok());
  int maxDifference = 0;
  for (size_t i = 0; i < crop.pixels.size(); ++i) {
    maxDifference = std::max(maxDifference, std::abs(int(crop.pixels[i]) - int(full.pixels[i])));
  }
  EXPECT_LE(maxDifference, 3);
}

TEST(EncodedImagePreprocessorTest, CorruptTruncatedAndNonImageBytesGiveInvalidData) {
  Image source = noisyImage(300, 260, 5);
  std::vector<uint8_t> jpeg = testing::encodeJpeg(source.width, source.height, 3, source.pixels.data(), 85);
  EncodedImagePreprocessor preprocessor({256, 224, 2.0});
  Image crop(224, 224, 3);
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  std::vector<uint8_t> truncated(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  std::vector<uint8_t> headerOnly(jpeg.begin(), jpeg.begin() + 3);
  for (const auto* bytes : {&text, &truncated, &headerOnly}) {
    Status status = preprocessor.process(bytes->data(), bytes->size(), crop.mutableView());
    EXPECT_EQ(status.code(), StatusCode::kInvalidData) << status.toString();
  }
  EXPECT_EQ(preprocessor.process(nullptr, 0, crop.mutableView()).code(), StatusCode::kInvalidData);
  // The preprocessor is still usable after errors.
  EXPECT_TRUE(preprocessor.process(jpeg.data(), jpeg.size(), crop.mutableView()).ok());
}

TEST(EncodedImagePreprocessorTest, ValidateRejectsACropLargerThanTheResize) {
  EXPECT_TRUE(validate({256, 224, 2.0}).ok());
  EXPECT_FALSE(validate({200, 224, 2.0}).ok());
  EXPECT_FALSE(validate({256, 0, 2.0}).ok());
  EXPECT_FALSE(validate({256, 224, 0.5}).ok());
}

}  // namespace
}  // namespace sluice::image
