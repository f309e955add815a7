#include "engine/row_decoder.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "image/bilinear_resampler.h"
#include "image/image_decoder.h"
#include "image/test_image_encoding.h"

namespace sluice::engine {
namespace {

std::shared_ptr<arrow::Array> binaryColumn(const std::vector<std::vector<uint8_t>>& rows) {
  arrow::BinaryBuilder builder;
  for (const auto& row : rows) EXPECT_TRUE(builder.Append(row.data(), static_cast<int32_t>(row.size())).ok());
  EXPECT_TRUE(builder.AppendNull().ok());
  std::shared_ptr<arrow::Array> column;
  EXPECT_TRUE(builder.Finish(&column).ok());
  return column;
}

class RowDecoderTest : public ::testing::Test {
 protected:
  image::ImageShape shape_{256, 256, 3};
  image::ResizeCropOptions options_{256, 224, 2.0};
  std::vector<uint8_t> crop_ = std::vector<uint8_t>(224 * 224 * 3);
};

TEST_F(RowDecoderTest, EncodedRowsAreDecodedResizedAndCropped) {
  std::vector<uint8_t> pixels = image::testing::smoothRgbPattern(400, 300);
  std::vector<uint8_t> jpeg = image::testing::encodeJpeg(400, 300, 3, pixels.data(), 90);
  std::vector<uint8_t> png =
      image::testing::encodePng(400, 300, image::testing::kPngRgb, 8, pixels.data(), pixels.size());
  auto column = binaryColumn({jpeg, png});
  RowDecoder decoder(shape_, options_);
  for (int row = 0; row < 2; ++row) {
    ASSERT_EQ(decoder.decode(*column, row, crop_.data()), "");
    // 400x300 -> 341x256, crop at (58, 16); spot-check against the unfused path.
    const auto& bytes = row == 0 ? jpeg : png;
    auto decoded = image::decodeImage(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok());
    auto resized = image::resizeBilinear(decoded->view(), 341, 256);
    ASSERT_TRUE(resized.ok());
    for (int y : {0, 100, 223}) {
      for (int x : {0, 150, 223}) {
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(crop_[(y * 224 + x) * 3 + c], resized->pixels[((y + 16) * 341 + x + 58) * 3 + c]);
        }
      }
    }
  }
}

TEST_F(RowDecoderTest, RawBinaryRowsAreOnlyCropped) {
  std::vector<uint8_t> raw = image::testing::smoothRgbPattern(256, 256);
  raw[0] = 0xFF, raw[1] = 0xD8, raw[2] = 0xFF;  // raw pixels that begin like a JPEG
  auto column = binaryColumn({raw});
  RowDecoder decoder(shape_, options_);
  ASSERT_EQ(decoder.decode(*column, 0, crop_.data()), "");
  EXPECT_EQ(crop_[0], raw[(16 * 256 + 16) * 3]);
}

TEST_F(RowDecoderTest, BadBytesGiveAReasonAndNullsSaySo) {
  std::vector<uint8_t> pixels = image::testing::smoothRgbPattern(300, 300);
  std::vector<uint8_t> jpeg = image::testing::encodeJpeg(300, 300, 3, pixels.data(), 90);
  std::vector<uint8_t> truncated(jpeg.begin(), jpeg.begin() + jpeg.size() / 3);
  std::vector<uint8_t> text = {'n', 'o', 'p', 'e'};
  auto column = binaryColumn({truncated, text, {}});
  RowDecoder decoder(shape_, options_);
  EXPECT_NE(decoder.decode(*column, 0, crop_.data()).find("corrupt JPEG image"), std::string::npos);
  std::string notImage = decoder.decode(*column, 1, crop_.data());
  EXPECT_NE(notImage.find("not a JPEG or PNG image"), std::string::npos) << notImage;
  EXPECT_NE(notImage.find("196608 bytes for --image-shape 256,256,3"), std::string::npos) << notImage;
  EXPECT_NE(decoder.decode(*column, 2, crop_.data()).find("empty input"), std::string::npos);
  EXPECT_EQ(decoder.decode(*column, 3, crop_.data()), "image is null");
}

}  // namespace
}  // namespace sluice::engine
