#include "image/jpeg_layout.h"

#include <gtest/gtest.h>

#include <vector>

#include "image/test_image_encoding.h"

namespace sluice::image {
namespace {

using testing::encodeJpeg;
using testing::smoothRgbPattern;

std::vector<uint8_t> baselineJpeg() {
  auto pixels = smoothRgbPattern(64, 48);
  return encodeJpeg(64, 48, 3, pixels.data());
}

std::vector<uint8_t> rgbCodedJpeg(testing::JpegColorCoding coding) {
  auto pixels = smoothRgbPattern(32, 32);
  return encodeJpeg(32, 32, 3, pixels.data(), 90, false, coding);
}

TEST(JpegLayoutTest, BaselineFileHasOneScanAndIsComplete) {
  auto jpeg = baselineJpeg();
  JpegLayout layout = readJpegLayout(jpeg.data(), jpeg.size());
  EXPECT_TRUE(layout.complete);
  EXPECT_EQ(layout.scans, 1);
  EXPECT_EQ(layout.components, 3);
  EXPECT_FALSE(layout.storedAsRgb);
}

TEST(JpegLayoutTest, ProgressiveFileHasSeveralScans) {
  auto pixels = smoothRgbPattern(64, 48);
  auto jpeg = encodeJpeg(64, 48, 3, pixels.data(), 90, true);
  JpegLayout layout = readJpegLayout(jpeg.data(), jpeg.size());
  EXPECT_TRUE(layout.complete);
  EXPECT_GT(layout.scans, 1);
}

TEST(JpegLayoutTest, GreyscaleFileHasOneComponent) {
  std::vector<uint8_t> grey(40 * 30, 128);
  auto jpeg = encodeJpeg(40, 30, 1, grey.data());
  JpegLayout layout = readJpegLayout(jpeg.data(), jpeg.size());
  EXPECT_EQ(layout.components, 1);
  EXPECT_FALSE(layout.storedAsRgb);
}

TEST(JpegLayoutTest, EveryCutShortFileIsIncomplete) {
  auto jpeg = baselineJpeg();
  for (size_t size = 0; size + 1 < jpeg.size(); ++size) {
    EXPECT_FALSE(readJpegLayout(jpeg.data(), size).complete) << "cut to " << size << " bytes";
  }
}

TEST(JpegLayoutTest, BytesAfterTheEndOfImageDoNotMakeItIncomplete) {
  auto jpeg = baselineJpeg();
  jpeg.insert(jpeg.end(), 4096, 0x5A);
  EXPECT_TRUE(readJpegLayout(jpeg.data(), jpeg.size()).complete);
}

TEST(JpegLayoutTest, StuffedBytesAndRestartMarkersInScanDataAreNotMarkers) {
  // A hand-made stream: SOI, SOS with scan data holding FF 00 and a restart marker, EOI.
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34,
                               0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0xD9};
  JpegLayout layout = readJpegLayout(jpeg.data(), jpeg.size());
  EXPECT_TRUE(layout.complete);
  EXPECT_EQ(layout.scans, 1);
  jpeg.resize(jpeg.size() - 2);
  EXPECT_FALSE(readJpegLayout(jpeg.data(), jpeg.size()).complete);
}

TEST(JpegLayoutTest, RgbCodedFilesAreRecognisedByTheAdobeMarkerOrTheComponentIds) {
  auto withAdobe = rgbCodedJpeg(testing::JpegColorCoding::kRgbWithAdobeMarker);
  EXPECT_TRUE(readJpegLayout(withAdobe.data(), withAdobe.size()).storedAsRgb);
  auto idsOnly = rgbCodedJpeg(testing::JpegColorCoding::kRgbByComponentIds);
  EXPECT_TRUE(readJpegLayout(idsOnly.data(), idsOnly.size()).storedAsRgb);
}

TEST(JpegLayoutTest, AnythingThatDoesNotStartWithStartOfImageIsNotRead) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  JpegLayout layout = readJpegLayout(png.data(), png.size());
  EXPECT_FALSE(layout.complete);
  EXPECT_EQ(layout.scans, 0);
  EXPECT_FALSE(readJpegLayout(nullptr, 0).complete);
}

}  // namespace
}  // namespace sluice::image
