#include "image/image_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>
#include <cstring>
#include <vector>

#include "image/test_image_encoding.h"

namespace sluice::image {
namespace {

using testing::encodeJpeg;
using testing::encodePng;
using testing::smoothRgbPattern;

Image decodeOrFail(const std::vector<uint8_t>& bytes) {
  Result<Image> image = decodeImage(bytes.data(), bytes.size());
  EXPECT_TRUE(image.ok()) << image.status().toString();
  return image.ok() ? std::move(image).value() : Image();
}

TEST(ImageDecoderTest, DecodesRgbPngExactly) {
  std::vector<uint8_t> pixels = smoothRgbPattern(13, 7);
  Image image = decodeOrFail(encodePng(13, 7, testing::kPngRgb, 8, pixels.data(), pixels.size()));
  EXPECT_EQ(image.width, 13);
  EXPECT_EQ(image.height, 7);
  EXPECT_EQ(image.channels, 3);
  EXPECT_EQ(image.pixels, pixels);
}

TEST(ImageDecoderTest, GrayscalePngBecomesThreeEqualChannels) {
  std::vector<uint8_t> gray = {0, 17, 128, 255, 3, 99};
  Image image = decodeOrFail(encodePng(3, 2, testing::kPngGray, 8, gray.data(), gray.size()));
  ASSERT_EQ(image.pixels.size(), 18u);
  for (size_t i = 0; i < gray.size(); ++i) {
    EXPECT_EQ(image.pixels[i * 3], gray[i]);
    EXPECT_EQ(image.pixels[i * 3 + 1], gray[i]);
    EXPECT_EQ(image.pixels[i * 3 + 2], gray[i]);
  }
}

TEST(ImageDecoderTest, OneBitGrayscalePngScalesToFullRange) {
  std::vector<uint8_t> bits = {0b10100000};  // one row of 3 pixels: white, black, white
  Image image = decodeOrFail(encodePng(3, 1, testing::kPngGray, 1, bits.data(), bits.size()));
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 255, 255, 255}));
}

TEST(ImageDecoderTest, RgbaPngDropsAlpha) {
  std::vector<uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255};
  Image image = decodeOrFail(encodePng(3, 1, testing::kPngRgba, 8, rgba.data(), rgba.size()));
  EXPECT_EQ(image.channels, 3);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90}));
}

TEST(ImageDecoderTest, GrayAlphaPngDropsAlphaAndReplicatesGray) {
  std::vector<uint8_t> grayAlpha = {200, 0, 7, 255};
  Image image = decodeOrFail(encodePng(2, 1, testing::kPngGrayAlpha, 8, grayAlpha.data(), grayAlpha.size()));
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{200, 200, 200, 7, 7, 7}));
}

TEST(ImageDecoderTest, PalettePngIsExpanded) {
  std::vector<uint32_t> palette = {0xFF0000, 0x00FF00, 0x123456};
  std::vector<uint8_t> indices = {2, 0, 1, 2};
  Image image = decodeOrFail(
      encodePng(2, 2, testing::kPngPalette, 8, indices.data(), indices.size(), palette));
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0x12, 0x34, 0x56, 255, 0, 0, 0, 255, 0, 0x12, 0x34, 0x56}));
}

TEST(ImageDecoderTest, SixteenBitPngIsReducedToEightBits) {
  // Samples of the form v * 257 map to v under every 16-to-8-bit rule (shift or rounding).
  std::vector<uint16_t> samples = {0 * 257, 100 * 257, 255 * 257, 1 * 257, 128 * 257, 77 * 257};
  Image image = decodeOrFail(encodePng(2, 1, testing::kPngRgb, 16, samples.data(), samples.size() * 2));
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 100, 255, 1, 128, 77}));
}

TEST(ImageDecoderTest, RgbJpegDecodesCloseToTheEncodedPixels) {
  std::vector<uint8_t> pixels = smoothRgbPattern(64, 48);
  Image image = decodeOrFail(encodeJpeg(64, 48, 3, pixels.data(), 95));
  ASSERT_EQ(image.width, 64);
  ASSERT_EQ(image.height, 48);
  ASSERT_EQ(image.pixels.size(), pixels.size());
  double totalError = 0;
  for (size_t i = 0; i < pixels.size(); ++i) totalError += std::abs(int(image.pixels[i]) - int(pixels[i]));
  EXPECT_LT(totalError / pixels.size(), 2.0);
}

TEST(ImageDecoderTest, RgbCodedJpegsDecodeWithoutColourConversion) {
  std::vector<uint8_t> pixels = smoothRgbPattern(64, 48);
  for (auto coding : {testing::JpegColorCoding::kRgbWithAdobeMarker, testing::JpegColorCoding::kRgbByComponentIds}) {
    Image image = decodeOrFail(encodeJpeg(64, 48, 3, pixels.data(), 95, false, coding));
    ASSERT_EQ(image.pixels.size(), pixels.size());
    double totalError = 0;
    for (size_t i = 0; i < pixels.size(); ++i) totalError += std::abs(int(image.pixels[i]) - int(pixels[i]));
    EXPECT_LT(totalError / pixels.size(), 2.0);
  }
}

TEST(ImageDecoderTest, ProgressiveJpegDecodes) {
  std::vector<uint8_t> pixels = smoothRgbPattern(40, 30);
  Image image = decodeOrFail(encodeJpeg(40, 30, 3, pixels.data(), 90, /*progressive=*/true));
  EXPECT_EQ(image.width, 40);
  EXPECT_EQ(image.height, 30);
}

TEST(ImageDecoderTest, GrayscaleJpegBecomesThreeEqualChannels) {
  std::vector<uint8_t> gray(32 * 16);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<uint8_t>(i % 32 * 8);
  Image image = decodeOrFail(encodeJpeg(32, 16, 1, gray.data()));
  ASSERT_EQ(image.channels, 3);
  ASSERT_EQ(image.pixels.size(), gray.size() * 3);
  for (size_t i = 0; i < gray.size(); ++i) {
    EXPECT_EQ(image.pixels[i * 3], image.pixels[i * 3 + 1]);
    EXPECT_EQ(image.pixels[i * 3], image.pixels[i * 3 + 2]);
    EXPECT_NEAR(image.pixels[i * 3], gray[i], 12);
  }
}

TEST(ImageDecoderTest, EmptyInputIsInvalidData) {
  Result<Image> image = decodeImage(nullptr, 0);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidData);
  EXPECT_NE(image.status().message().find("not a JPEG or PNG"), std::string::npos);
}

TEST(ImageDecoderTest, UnknownFormatNamesItsFirstBytes) {
  std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0};
  Result<Image> image = decodeImage(gif.data(), gif.size());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidData);
  EXPECT_NE(image.status().message().find("first bytes 47 49 46 38"), std::string::npos)
      << image.status().message();
}

TEST(ImageDecoderTest, TruncatedPngIsAnError) {
  std::vector<uint8_t> pixels = smoothRgbPattern(50, 50);
  std::vector<uint8_t> png = encodePng(50, 50, testing::kPngRgb, 8, pixels.data(), pixels.size());
  png.resize(png.size() / 2);
  Result<Image> image = decodeImage(png.data(), png.size());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidData);
}

TEST(ImageDecoderTest, TruncatedJpegIsAnError) {
  std::vector<uint8_t> pixels = smoothRgbPattern(64, 64);
  std::vector<uint8_t> jpeg = encodeJpeg(64, 64, 3, pixels.data());
  jpeg.resize(jpeg.size() / 2);
  Result<Image> image = decodeImage(jpeg.data(), jpeg.size());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidData);
  EXPECT_NE(image.status().message().find("JPEG"), std::string::npos);
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(ImageDecoderTest, PngHeaderClaimingHugeDimensionsIsRefusedBeforeAllocating) {
  std::vector<uint8_t> pixels = smoothRgbPattern(4, 4);
  std::vector<uint8_t> png = encodePng(4, 4, testing::kPngRgb, 8, pixels.data(), pixels.size());
  // IHDR's width and height are bytes 16..23, its CRC (over type and data) bytes 29..32.
  const uint8_t huge[8] = {0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60};  // 60000 x 60000
  std::memcpy(png.data() + 16, huge, sizeof(huge));
  uint32_t crc = crc32(png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  Result<Image> image = decodeImage(png.data(), png.size());
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.status().message().find("exceeds the limit"), std::string::npos)
      << image.status().message();
}

// Every prefix and many random byte corruptions of valid files must give an image or an error,
// never a crash, an abort or a hang.
TEST(ImageDecoderTest, CorruptedAndTruncatedInputsNeverCrash) {
  std::vector<uint8_t> pixels = smoothRgbPattern(24, 24);
  std::vector<std::vector<uint8_t>> originals = {
      encodePng(24, 24, testing::kPngRgb, 8, pixels.data(), pixels.size()),
      encodeJpeg(24, 24, 3, pixels.data()),
      encodeJpeg(24, 24, 3, pixels.data(), 80, /*progressive=*/true)};
  std::mt19937 random(1234);
  int failures = 0;
  for (const std::vector<uint8_t>& original : originals) {
    for (size_t length = 0; length < original.size(); ++length) {
      failures += !decodeImage(original.data(), length).ok();
    }
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> corrupted = original;
      for (int flip = 0; flip < 4; ++flip) {
        size_t position = 3 + random() % (corrupted.size() - 3);  // keep the magic bytes
        corrupted[position] = static_cast<uint8_t>(random());
      }
      Result<Image> image = decodeImage(corrupted.data(), corrupted.size());
      if (image.ok()) {
        EXPECT_EQ(image->pixels.size(), size_t(image->width) * image->height * 3);
      } else {
        EXPECT_EQ(image.status().code(), StatusCode::kInvalidData);
      }
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(ImageDecoderTest, ReadImageFileDecodesAFileAndNamesMissingOnes) {
  std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                    ("sluice_image_decoder_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  std::vector<uint8_t> pixels = smoothRgbPattern(5, 4);
  std::vector<uint8_t> png = encodePng(5, 4, testing::kPngRgb, 8, pixels.data(), pixels.size());
  std::string path = (directory / "small.png").string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), png.size());

  Result<Image> image = readImageFile(path);
  ASSERT_TRUE(image.ok()) << image.status().toString();
  EXPECT_EQ(image->pixels, pixels);

  std::string missing = (directory / "missing.png").string();
  Result<Image> absent = readImageFile(missing);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kIoError);
  EXPECT_NE(absent.status().message().find(missing), std::string::npos);
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace sluice::image
