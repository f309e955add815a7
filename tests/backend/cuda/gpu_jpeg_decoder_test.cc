// The nvJPEG decoder and its resize + crop kernels against the CPU preprocessing they replace
// (image::EncodedImagePreprocessor and image::BilinearResampler, the reference). Skipped, with the
// reason, where no GPU is visible or sluice was built without nvJPEG; they run on the GPU machine.
#include <gtest/gtest.h>

#if SLUICE_WITH_NVJPEG

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "backend/cuda/cuda_devices.h"
#include "backend/cuda/gpu_test_support.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/gpu_jpeg_decoder.h"
#include "backend/cuda/gpu_jpeg_decoder_kernels.h"
#include "image/bilinear_resampler.h"
#include "image/encoded_image_preprocessor.h"
#include "image/preprocess.h"
#include "image/test_image_encoding.h"

namespace sluice::backend::cuda {
namespace {

constexpr int kCropSize = 224;
constexpr int64_t kCropBytes = int64_t{kCropSize} * kCropSize * 3;

// A photo-like image: smooth gradients, a few hard edges and fine texture, so that resampling and
// chroma upsampling both matter (a flat pattern would hide filter differences).
std::vector<uint8_t> photoLikeImage(int width, int height, int channels, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> noise(-12, 12);
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        double value = 128 + 90 * std::sin(0.013 * (x + 37 * c) + 0.021 * y) + ((x / 40 + y / 55) % 3 == 0 ? 40 : -20);
        value += ((x * 7 + y * 3) % 11 < 2 ? 30 : 0) + noise(random);
        pixels[(static_cast<size_t>(y) * width + x) * channels + c] =
            static_cast<uint8_t>(std::clamp(static_cast<int>(value), 0, 255));
      }
    }
  }
  return pixels;
}

struct Difference {
  double mean = 0;
  int max = 0;
};

Difference compare(const uint8_t* a, const uint8_t* b, int64_t bytes) {
  Difference difference;
  int64_t total = 0;
  for (int64_t i = 0; i < bytes; ++i) {
    const int delta = std::abs(int{a[i]} - int{b[i]});
    total += delta;
    difference.max = std::max(difference.max, delta);
  }
  difference.mean = static_cast<double>(total) / bytes;
  return difference;
}

/// One request per encoded image, crop i at crops + i * kCropBytes.
std::vector<GpuDecodeRequest> requestsFor(const std::vector<std::vector<uint8_t>>& encoded,
                                          std::vector<uint8_t>& crops) {
  std::vector<GpuDecodeRequest> requests;
  for (size_t i = 0; i < encoded.size(); ++i) {
    requests.push_back({encoded[i].data(), encoded[i].size(), crops.data() + i * kCropBytes});
  }
  return requests;
}

std::vector<uint8_t> cpuCrop(const std::vector<uint8_t>& encoded) {
  // Full-size decoding (no DCT scaling): the GPU decodes at full size too.
  image::EncodedImagePreprocessor cpu({.resizeSize = 256, .cropSize = kCropSize, .dctScalingMargin = 0});
  std::vector<uint8_t> crop(kCropBytes);
  image::MutableImageView view{crop.data(), kCropSize, kCropSize, 3, static_cast<size_t>(kCropSize) * 3};
  EXPECT_TRUE(cpu.process(encoded.data(), encoded.size(), view).ok());
  return crop;
}

std::unique_ptr<GpuJpegDecoder> makeDecoder(bool allowHardware) {
  auto decoder = GpuJpegDecoder::Make({.deviceIndex = 0,
                                       .resizeCrop = {.resizeSize = 256, .cropSize = kCropSize},
                                       .maxBatchImages = 4,  // several batches in one call
                                       .allowHardwareBackend = allowHardware});
  EXPECT_TRUE(decoder.ok()) << decoder.status().message();
  return decoder.ok() ? std::move(*decoder) : nullptr;
}

TEST(GpuJpegDecoderTest, ResizeKernelsMatchTheCpuResamplerBitForBit) {
  SKIP_WITHOUT_GPU();
  // Widths x heights that take both pass orders, downscaling by 1-8x and upscaling.
  const std::vector<std::pair<int, int>> sizes = {{500, 375}, {375, 500}, {1024, 683}, {256, 256}, {300, 1400},
                                                  {2000, 260}, {230, 240}, {640, 480}, {1999, 1501}};
  std::vector<std::vector<uint8_t>> images;
  std::vector<ResizeCropJob> jobs;
  int64_t decodedBytes = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto [width, height] = sizes[i];
    images.push_back(photoLikeImage(width, height, 3, static_cast<uint32_t>(i)));
    ResizeCropJob job = resizeCropJob(width, height, 256, kCropSize);
    job.sourceOffset = decodedBytes;
    decodedBytes += static_cast<int64_t>(images.back().size());
    jobs.push_back(job);
  }
  const ResizeCropPlan plan = planResizeCrop(jobs, kCropSize);
  DeviceBuffer decoded, intermediate, coefficients, crops, jobsOnDevice;
  ASSERT_TRUE(decoded.allocate(decodedBytes).ok());
  ASSERT_TRUE(intermediate.allocate(plan.intermediateBytes).ok());
  const auto numJobs = static_cast<int64_t>(jobs.size());
  ASSERT_TRUE(coefficients.allocate(numJobs * resizeCoefficientCount(kCropSize, plan.tapStride) * 4).ok());
  ASSERT_TRUE(crops.allocate(numJobs * kCropBytes).ok());
  ASSERT_TRUE(jobsOnDevice.allocate(numJobs * int64_t{sizeof(ResizeCropJob)}).ok());
  for (size_t i = 0; i < images.size(); ++i) {
    ASSERT_EQ(cudaMemcpy(decoded.as<uint8_t>() + jobs[i].sourceOffset, images[i].data(), images[i].size(),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  ASSERT_EQ(cudaMemcpy(jobsOnDevice.data(), jobs.data(), numJobs * sizeof(ResizeCropJob), cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(launchResizeCrop(jobsOnDevice.as<ResizeCropJob>(), static_cast<int>(numJobs), kCropSize, plan,
                             decoded.as<uint8_t>(), intermediate.as<uint8_t>(), coefficients.as<int32_t>(),
                             crops.as<uint8_t>(), nullptr),
            cudaSuccess);
  std::vector<uint8_t> gpu(numJobs * kCropBytes);
  ASSERT_EQ(cudaMemcpy(gpu.data(), crops.data(), gpu.size(), cudaMemcpyDeviceToHost), cudaSuccess);

  image::BilinearResampler resampler(image::ResampleKernels::kPortable);
  for (size_t i = 0; i < images.size(); ++i) {
    const ResizeCropJob& job = jobs[i];
    std::vector<uint8_t> expected(kCropBytes);
    image::ImageView source{images[i].data(), job.sourceWidth, job.sourceHeight, 3,
                            static_cast<size_t>(job.sourceWidth) * 3};
    image::MutableImageView crop{expected.data(), kCropSize, kCropSize, 3, static_cast<size_t>(kCropSize) * 3};
    ASSERT_TRUE(resampler.resizeWindow(source, job.resizedWidth, job.resizedHeight, job.cropLeft, job.cropTop, crop)
                    .ok());
    const Difference difference = compare(expected.data(), gpu.data() + i * kCropBytes, kCropBytes);
    EXPECT_EQ(difference.max, 0) << job.sourceWidth << "x" << job.sourceHeight << ": mean |diff| "
                                 << difference.mean;
  }
}

// A100 (8.0) and H100/H200 (9.0) have JPEG decode engines: a decoder there that fell back to the
// hybrid backend would pass every other test here without the engine ever running.
TEST(GpuJpegDecoderTest, UsesTheHardwareEngineOnGpusThatHaveOne) {
  SKIP_WITHOUT_GPU();
  const GpuInfo& gpu = probeCuda().gpus.at(0);
  if (!((gpu.computeMajor == 8 || gpu.computeMajor == 9) && gpu.computeMinor == 0)) {
    GTEST_SKIP() << gpu.name << " (compute " << gpu.computeMajor << "." << gpu.computeMinor
                 << ") is not known to have JPEG decode engines";
  }
  auto decoder = makeDecoder(true);
  ASSERT_TRUE(decoder);
  EXPECT_EQ(decoder->backendName(), "hardware") << gpu.name << ": " << decoder->hardwareUnavailable();
  EXPECT_EQ(decoder->hardwareUnavailable(), "");
}

// Scaled up 8x, the crop of a 32 x 6000 image reads about 30 of its rows; the batch must not ask
// the device for all of them, and the crop must still match the CPU's. The hybrid backend, which
// takes any baseline size.
TEST(GpuJpegDecoderTest, DecodesATallNarrowImageWithinTheBounds) {
  SKIP_WITHOUT_GPU();
  auto decoder = makeDecoder(false);
  ASSERT_TRUE(decoder);
  auto pixels = photoLikeImage(32, 6000, 3, 11);
  const auto encoded = image::testing::encodeJpeg(32, 6000, 3, pixels.data(), 90);
  std::vector<uint8_t> crop(kCropBytes, 0);
  auto done = decoder->decode({{encoded.data(), encoded.size(), crop.data()}});
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_TRUE((*done)[0]) << decoder->backendName() << " declined it";
  const Difference difference = compare(cpuCrop(encoded).data(), crop.data(), kCropBytes);
  EXPECT_LE(difference.mean, 1.0);
  EXPECT_LE(difference.max, 8);
}

// Both backends where the GPU has the hardware engine (the hybrid one alone elsewhere).
class GpuJpegDecoderBackendTest : public ::testing::TestWithParam<bool> {};

TEST_P(GpuJpegDecoderBackendTest, CropsMeetTheFidelityBoundsAgainstTheCpuDecoder) {
  SKIP_WITHOUT_GPU();
  auto decoder = makeDecoder(GetParam());
  ASSERT_TRUE(decoder);
  struct Case {
    int width, height, channels, quality;
  };
  const std::vector<Case> cases = {{500, 375, 3, 90}, {375, 500, 3, 75}, {1024, 768, 3, 95}, {300, 300, 3, 85},
                                   {200, 180, 3, 90}, {640, 427, 1, 90}, {1600, 1200, 3, 80}, {333, 999, 3, 92}};
  std::vector<std::vector<uint8_t>> encoded;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    auto pixels = photoLikeImage(c.width, c.height, c.channels, static_cast<uint32_t>(100 + i));
    encoded.push_back(image::testing::encodeJpeg(c.width, c.height, c.channels, pixels.data(), c.quality));
  }
  std::vector<uint8_t> crops(encoded.size() * kCropBytes);
  auto done = decoder->decode(requestsFor(encoded, crops));
  ASSERT_TRUE(done.ok()) << done.status().message();
  for (size_t i = 0; i < encoded.size(); ++i) {
    ASSERT_TRUE((*done)[i]) << decoder->backendName() << " declined case " << i;
    const Difference difference = compare(cpuCrop(encoded[i]).data(), crops.data() + i * kCropBytes, kCropBytes);
    EXPECT_LE(difference.mean, 1.0) << "case " << i << " on " << decoder->backendName();
    EXPECT_LE(difference.max, 8) << "case " << i << " on " << decoder->backendName();
  }
}

TEST_P(GpuJpegDecoderBackendTest, DeclinesWhatItCannotDecodeAndStillDecodesTheRest) {
  SKIP_WITHOUT_GPU();
  auto decoder = makeDecoder(GetParam());
  ASSERT_TRUE(decoder);
  auto pixels = photoLikeImage(400, 300, 3, 7);
  const auto jpeg = image::testing::encodeJpeg(400, 300, 3, pixels.data(), 90);
  const auto truncated = std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2);
  std::vector<uint8_t> png = image::testing::encodePng(400, 300, image::testing::kPngRgb, 8, pixels.data(), pixels.size());
  std::vector<uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0x00, 0x12, 0x34, 0xFF, 0xD9};
  // Stored as RGB (no YCbCr): libjpeg does not convert it, and nvJPEG is not known to know that.
  const auto rgbCoded = image::testing::encodeJpeg(400, 300, 3, pixels.data(), 90, false,
                                                   image::testing::JpegColorCoding::kRgbWithAdobeMarker);
  auto withTrailer = jpeg;  // bytes after the end-of-image marker (a camera's trailer) are ignored
  withTrailer.insert(withTrailer.end(), 2048, 0x42);
  const std::vector<std::vector<uint8_t>> inputs = {png, truncated, garbage, rgbCoded, jpeg, withTrailer};
  std::vector<uint8_t> crops(inputs.size() * kCropBytes, 0);
  auto done = decoder->decode(requestsFor(inputs, crops));
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_FALSE((*done)[0]) << "PNG";
  EXPECT_FALSE((*done)[1]) << "truncated JPEG";
  EXPECT_FALSE((*done)[2]) << "garbage after a JPEG signature";
  EXPECT_FALSE((*done)[3]) << "RGB-coded JPEG";
  for (size_t i : {size_t{4}, size_t{5}}) {
    ASSERT_TRUE((*done)[i]) << (i == 4 ? "a good JPEG after bad ones" : "a good JPEG with a trailer");
    const Difference difference = compare(cpuCrop(jpeg).data(), crops.data() + i * kCropBytes, kCropBytes);
    EXPECT_LE(difference.mean, 1.0);
    EXPECT_LE(difference.max, 8);
  }
}

TEST_P(GpuJpegDecoderBackendTest, AnImageWithBrokenEntropyDataDoesNotSendItsBatchMatesToTheCpu) {
  SKIP_WITHOUT_GPU();
  auto decoder = makeDecoder(GetParam());
  ASSERT_TRUE(decoder);
  auto pixels = photoLikeImage(480, 360, 3, 11);
  const auto jpeg = image::testing::encodeJpeg(480, 360, 3, pixels.data(), 90);
  // Headers and end marker intact (so it is not declined up front), the scan's middle overwritten:
  // the hardware engine may refuse it, and refuses its whole batch with it.
  auto broken = jpeg;
  for (size_t i = broken.size() / 2; i < broken.size() / 2 + 256; ++i) broken[i] = static_cast<uint8_t>(i * 37 % 255);
  std::vector<std::vector<uint8_t>> inputs(9, jpeg);
  inputs[4] = broken;
  std::vector<uint8_t> crops(inputs.size() * kCropBytes, 0);
  auto done = decoder->decode(requestsFor(inputs, crops));
  ASSERT_TRUE(done.ok()) << done.status().message();
  const auto expected = cpuCrop(jpeg);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i == 4) continue;  // decoded or declined: either is right (the CPU then words its error)
    ASSERT_TRUE((*done)[i]) << "good image " << i << " was left to the CPU on " << decoder->backendName();
    const Difference difference = compare(expected.data(), crops.data() + i * kCropBytes, kCropBytes);
    EXPECT_LE(difference.max, 8) << "image " << i;
  }
  // Only a refused batch is halved: where the engine took the broken image without a word, the
  // halving (and its wait between halves, which the crops above check) did not run.
  if (decoder->backendName() == "hardware" && decoder->engineRefusals() == 0) {
    GTEST_SKIP() << "the hardware engine decoded the broken image without refusing its batch";
  }
}

TEST_P(GpuJpegDecoderBackendTest, ProgressiveJpegsAreDecodedWithinTheBoundsOrDeclined) {
  SKIP_WITHOUT_GPU();
  auto decoder = makeDecoder(GetParam());
  ASSERT_TRUE(decoder);
  auto pixels = photoLikeImage(480, 360, 3, 9);
  const auto progressive = image::testing::encodeJpeg(480, 360, 3, pixels.data(), 90, /*progressive=*/true);
  std::vector<uint8_t> crop(kCropBytes, 0);
  auto done = decoder->decode({{progressive.data(), progressive.size(), crop.data()}});
  ASSERT_TRUE(done.ok()) << done.status().message();
  if (!(*done)[0]) GTEST_SKIP() << "the " << decoder->backendName() << " backend declines progressive JPEGs";
  const Difference difference = compare(cpuCrop(progressive).data(), crop.data(), kCropBytes);
  EXPECT_LE(difference.mean, 1.0);
  EXPECT_LE(difference.max, 8);
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuJpegDecoderBackendTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "HardwareWhereAvailable" : "Hybrid"; });

}  // namespace
}  // namespace sluice::backend::cuda

#else

TEST(GpuJpegDecoderTest, NeedsNvjpeg) {
  GTEST_SKIP() << "sluice was built without nvJPEG (not in the CUDA toolkit nor the nvidia-nvjpeg wheel)";
}

#endif
