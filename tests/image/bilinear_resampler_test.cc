#include "image/bilinear_resampler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "image/test_image_encoding.h"

namespace sluice::image {
namespace {

Image makeImage(int width, int height, int channels, uint64_t seed) {
  // Smooth content plus some noise: exercises rounding without being a flat field.
  Image image(width, height, channels);
  std::mt19937 random(static_cast<uint32_t>(seed));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        int value = (x * 255 / width + y * 255 / height) / 2 + c * 40 + int(random() % 21) - 10;
        image.pixels[(size_t(y) * width + x) * channels + c] = uint8_t(std::clamp(value, 0, 255));
      }
    }
  }
  return image;
}

Image resizeOrFail(const Image& source, const Region& region, int width, int height) {
  Result<Image> result = resizeBilinear(source.view(), region, width, height);
  EXPECT_TRUE(result.ok()) << result.status().toString();
  return result.ok() ? std::move(result).value() : Image();
}

TEST(BilinearResamplerTest, EqualSizesAreTheIdentity) {
  Image source = makeImage(37, 23, 3, 1);
  Image output = resizeOrFail(source, Region::whole(source.view()), 37, 23);
  EXPECT_EQ(output.pixels, source.pixels);
}

TEST(BilinearResamplerTest, ConstantImageStaysConstantAtAnyScale) {
  Image source(50, 40, 3);
  for (size_t i = 0; i < source.pixels.size(); i += 3) {
    source.pixels[i] = 7;
    source.pixels[i + 1] = 128;
    source.pixels[i + 2] = 255;
  }
  for (auto [width, height] : {std::pair{25, 20}, {13, 7}, {50, 41}, {120, 99}, {1, 1}}) {
    Image output = resizeOrFail(source, Region::whole(source.view()), width, height);
    ASSERT_EQ(output.pixels.size(), size_t(width) * height * 3);
    for (size_t i = 0; i < output.pixels.size(); i += 3) {
      ASSERT_EQ(output.pixels[i], 7) << width << "x" << height;
      ASSERT_EQ(output.pixels[i + 1], 128);
      ASSERT_EQ(output.pixels[i + 2], 255);
    }
  }
}

// At 2x downscale the triangle filter spans 4 inputs with weights 1/8, 3/8, 3/8, 1/8, clipped and
// renormalised at the border: out[0] = (3*0 + 3*80 + 1*160) / 7 = 57.14, and
// out[1] = (1*80 + 3*160 + 3*240) / 7 = 182.86 (the fourth tap falls outside the image).
TEST(BilinearResamplerTest, TwoTimesDownscaleUsesTheWidenedTriangleFilter) {
  Image source(4, 1, 1);
  source.pixels = {0, 80, 160, 240};
  Image output = resizeOrFail(source, Region::whole(source.view()), 2, 1);
  EXPECT_EQ(output.pixels, (std::vector<uint8_t>{57, 183}));

  Image column(1, 4, 1);
  column.pixels = {0, 80, 160, 240};
  EXPECT_EQ(resizeOrFail(column, Region::whole(column.view()), 1, 2).pixels,
            (std::vector<uint8_t>{57, 183}));
}

TEST(BilinearResamplerTest, IntegerRegionAtOutputSizeIsAnExactCrop) {
  Image source = makeImage(20, 15, 3, 2);
  Image output = resizeOrFail(source, Region{5, 3, 13, 9}, 8, 6);
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 8; ++x) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(output.pixels[(size_t(y) * 8 + x) * 3 + c],
                  source.pixels[(size_t(y + 3) * 20 + x + 5) * 3 + c]);
      }
    }
  }
}

TEST(BilinearResamplerTest, RegionOffsetMovesTheSampledWindow) {
  // A horizontal ramp of slope 2: moving the window 32 pixels right adds exactly 64 everywhere, as
  // long as the filter stays inside the image (like Pillow, it reads pixels just outside the region).
  Image ramp(128, 8, 1);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 128; ++x) ramp.pixels[size_t(y) * 128 + x] = uint8_t(x * 2);
  }
  Image left = resizeOrFail(ramp, Region{16, 0, 48, 8}, 8, 4);
  Image right = resizeOrFail(ramp, Region{48, 0, 80, 8}, 8, 4);
  for (size_t i = 0; i < left.pixels.size(); ++i) {
    EXPECT_EQ(int(right.pixels[i]) - int(left.pixels[i]), 64) << i;
  }
  // The first output covers [16, 20): its centre lies between pixels 17 and 18, value 2 * 17.5.
  EXPECT_NEAR(left.pixels[0], 35, 1.0);
}

TEST(BilinearResamplerTest, WritesIntoACallerBufferWithRowStride) {
  Image source = makeImage(30, 30, 3, 3);
  Image expected = resizeOrFail(source, Region::whole(source.view()), 10, 10);
  const size_t stride = 10 * 3 + 7;  // padded rows
  std::vector<uint8_t> buffer(stride * 10, 0xEE);
  BilinearResampler resampler;
  ASSERT_TRUE(resampler.resize(source.view(), Region::whole(source.view()),
                               MutableImageView{buffer.data(), 10, 10, 3, stride}).ok());
  for (int y = 0; y < 10; ++y) {
    for (int i = 0; i < 30; ++i) ASSERT_EQ(buffer[y * stride + i], expected.pixels[y * 30 + i]);
    for (size_t i = 30; i < stride; ++i) ASSERT_EQ(buffer[y * stride + i], 0xEE);
  }
}

TEST(BilinearResamplerTest, RejectsRegionsOutsideTheImageAndChannelMismatches) {
  Image source = makeImage(10, 10, 3, 4);
  EXPECT_EQ(resizeBilinear(source.view(), Region{-1, 0, 5, 5}, 4, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(resizeBilinear(source.view(), Region{0, 0, 11, 5}, 4, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(resizeBilinear(source.view(), Region{5, 5, 5, 8}, 4, 4).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(resizeBilinear(source.view(), 0, 4).ok());
  Image gray(4, 4, 1);
  BilinearResampler resampler;
  EXPECT_FALSE(resampler.resize(source.view(), Region::whole(source.view()), gray.mutableView()).ok());
}
TEST(BilinearResamplerTest, VectorKernelsGiveThePortableKernelsPixels) {
  if (!BilinearResampler::hasVectorKernels()) GTEST_SKIP() << "this CPU has no AVX2: only the portable loops run";
  BilinearResampler vector(ResampleKernels::kFastest);
  BilinearResampler portable(ResampleKernels::kPortable);
  std::mt19937 random(7);
  int numCompared = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int channels = trial % 4 == 0 ? 1 + int(random() % 4) : 3;
    const int sourceWidth = 1 + int(random() % 700);
    const int sourceHeight = 1 + int(random() % 700);
    Image source(sourceWidth, sourceHeight, channels);
    // Full-range noise half of the time: extreme values exercise the rounding and the clamping.
    if (trial % 2 == 0) {
      for (uint8_t& value : source.pixels) value = uint8_t(random());
    } else {
      source = makeImage(sourceWidth, sourceHeight, channels, trial);
    }
    const int width = 1 + int(random() % 400);
    const int height = 1 + int(random() % 400);
    Image fromVector(width, height, channels);
    Image fromPortable(width, height, channels);
    if (trial % 3 == 0) {
      // Resize + CenterCrop fused, at torchvision's geometry for a random resize size.
      const int fullWidth = width + int(random() % 200);
      const int fullHeight = height + int(random() % 200);
      const int left = (fullWidth - width) / 2;
      const int top = (fullHeight - height) / 2;
      ASSERT_TRUE(vector.resizeWindow(source.view(), fullWidth, fullHeight, left, top, fromVector.mutableView()).ok());
      ASSERT_TRUE(
          portable.resizeWindow(source.view(), fullWidth, fullHeight, left, top, fromPortable.mutableView()).ok());
    } else {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      const double left = sourceWidth * 0.3 * unit(random);
      const double top = sourceHeight * 0.3 * unit(random);
      const Region region{left, top, left + (sourceWidth - left) * (0.5 + 0.5 * unit(random)),
                          top + (sourceHeight - top) * (0.5 + 0.5 * unit(random))};
      ASSERT_TRUE(vector.resize(source.view(), region, fromVector.mutableView()).ok());
      ASSERT_TRUE(portable.resize(source.view(), region, fromPortable.mutableView()).ok());
    }
    ASSERT_EQ(fromVector.pixels, fromPortable.pixels)
        << "trial " << trial << ": " << sourceWidth << "x" << sourceHeight << "x" << channels << " to " << width
        << "x" << height;
    ++numCompared;
  }
  EXPECT_EQ(numCompared, 300);
}


// Parity with Pillow itself: the source images and regions are handed to Pillow through files,
// and its results must match ours bit for bit. Skipped where python3 with Pillow is missing.
class PillowParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("python3 -c 'import PIL, numpy' > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "python3 with Pillow and numpy is not available";
    }
    directory_ = std::filesystem::temp_directory_path() /
                 ("sluice_resampler_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    if (!directory_.empty()) std::filesystem::remove_all(directory_);
  }

  // Resizes `source`'s region with Pillow (mode L or RGB) and returns its pixels.
  std::vector<uint8_t> resizeWithPillow(const Image& source, const Region& region, int width, int height) {
    std::string input = (directory_ / "input.raw").string();
    std::string output = (directory_ / "output.raw").string();
    std::ofstream(input, std::ios::binary)
        .write(reinterpret_cast<const char*>(source.pixels.data()), source.pixels.size());
    char script[1024];
    std::snprintf(script, sizeof(script),
                  "python3 -c \"import numpy as np; from PIL import Image; "
                  "a = np.fromfile('%s', np.uint8).reshape(%d, %d, %d); "
                  "im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a); "
                  "im.resize((%d, %d), Image.BILINEAR, box=(%.17g, %.17g, %.17g, %.17g))"
                  ".tobytes() and open('%s', 'wb').write(im.resize((%d, %d), Image.BILINEAR, "
                  "box=(%.17g, %.17g, %.17g, %.17g)).tobytes())\"",
                  input.c_str(), source.height, source.width, source.channels, width, height,
                  region.left, region.top, region.right, region.bottom, output.c_str(), width,
                  height, region.left, region.top, region.right, region.bottom);
    EXPECT_EQ(std::system(script), 0) << script;
    std::ifstream file(output, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  }

  std::filesystem::path directory_;
};

TEST_F(PillowParity, MatchesPillowBitForBit) {
  struct Case {
    int sourceWidth, sourceHeight, channels;
    Region region;
    int width, height;
  };
  const std::vector<Case> cases = {
      {512, 512, 3, {0, 0, 512, 512}, 224, 224},          // plain downscale, non-integer factor
      {300, 451, 3, {0, 0, 300, 451}, 256, 256},          // anisotropic
      {100, 80, 3, {0, 0, 100, 80}, 256, 256},            // upscale
      {640, 427, 3, {37, 12, 501, 399}, 256, 256},        // integer crop box
      {512, 512, 3, {10.5, 20.25, 300.75, 400.5}, 256, 256},  // fractional box
      {200, 150, 1, {3, 4, 190, 149}, 64, 48},            // greyscale
      {256, 256, 3, {16, 16, 240, 240}, 224, 224},        // close to CenterCrop geometry
  };
  uint64_t seed = 10;
  for (const Case& test : cases) {
    Image source = makeImage(test.sourceWidth, test.sourceHeight, test.channels, seed++);
    Image ours = resizeOrFail(source, test.region, test.width, test.height);
    std::vector<uint8_t> pillow = resizeWithPillow(source, test.region, test.width, test.height);
    ASSERT_EQ(pillow.size(), ours.pixels.size());
    int maxDifference = 0;
    size_t numDifferent = 0;
    for (size_t i = 0; i < pillow.size(); ++i) {
      int difference = std::abs(int(pillow[i]) - int(ours.pixels[i]));
      maxDifference = std::max(maxDifference, difference);
      numDifferent += difference != 0;
    }
    EXPECT_EQ(maxDifference, 0) << numDifferent << " of " << pillow.size() << " samples differ for a "
                                << test.sourceWidth << "x" << test.sourceHeight << " source to "
                                << test.width << "x" << test.height;
  }
}

}  // namespace
}  // namespace sluice::image
