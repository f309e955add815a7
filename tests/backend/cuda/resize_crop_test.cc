// The GPU decoder's Resize + CenterCrop arithmetic (resize_crop.h), run on the host over the index
// ranges its kernels launch, against image::BilinearResampler (itself tested bit for bit against
// Pillow). Needs no GPU: it checks the indexing, the batch layout and the buffer sizes everywhere.
#include "backend/cuda/resize_crop.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "image/bilinear_resampler.h"

namespace sluice::backend::cuda {
namespace {

constexpr uint8_t kGuard = 0xA5;
constexpr size_t kGuardBytes = 4096;

// A buffer followed by guard bytes, so that a write past the planned size shows.
struct GuardedBytes {
  std::vector<uint8_t> bytes;
  size_t size = 0;

  explicit GuardedBytes(size_t n) : bytes(n + kGuardBytes, kGuard), size(n) {}
  uint8_t* data() { return bytes.data(); }
  bool guardIntact() const {
    for (size_t i = size; i < bytes.size(); ++i) {
      if (bytes[i] != kGuard) return false;
    }
    return true;
  }
};

int roundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

struct Source {
  int width;
  int height;
  std::vector<uint8_t> pixels;
};

Source randomImage(int width, int height, uint32_t seed) {
  std::mt19937 random(seed);
  Source image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  // Smooth gradients plus noise: sharp edges and flat areas both occur.
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int smooth = (x * (c + 1) * 7 + y * (3 - c) * 5) % 256;
        image.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(random() % 4 == 0 ? random() % 256 : smooth);
      }
    }
  }
  return image;
}

// Runs the three kernels' functions over the grids launchResizeCrop launches (blocks of 128 for the
// coefficients, 32 x 8 for the passes, extra threads included) and returns the crops.
std::vector<uint8_t> resizeCropOnHost(const std::vector<Source>& images, int resizeSize, int cropSize) {
  std::vector<ResizeCropJob> jobs;
  int64_t decodedBytes = 0;
  for (const Source& image : images) {
    ResizeCropJob job = resizeCropJob(image.width, image.height, resizeSize, cropSize);
    job.sourceOffset = decodedBytes;
    decodedBytes += static_cast<int64_t>(image.pixels.size()) + 256;  // as the decoder, aligned apart
    jobs.push_back(job);
  }
  const ResizeCropPlan plan = planResizeCrop(jobs, cropSize);
  const int numJobs = static_cast<int>(jobs.size());

  GuardedBytes decoded(static_cast<size_t>(decodedBytes));
  for (int i = 0; i < numJobs; ++i) {
    std::memcpy(decoded.data() + jobs[i].sourceOffset, images[i].pixels.data(), images[i].pixels.size());
  }
  const auto coefficientBytes = static_cast<size_t>(numJobs * resizeCoefficientCount(cropSize, plan.tapStride) * 4);
  GuardedBytes coefficientStorage(coefficientBytes);
  auto* coefficients = reinterpret_cast<int32_t*>(coefficientStorage.data());
  GuardedBytes intermediate(static_cast<size_t>(plan.intermediateBytes));
  GuardedBytes crops(static_cast<size_t>(numJobs) * cropSize * cropSize * 3);

  for (int image = 0; image < numJobs; ++image) {
    for (int axis = 0; axis < 2; ++axis) {
      for (int out = 0; out < roundUp(cropSize, 128); ++out) {
        resize_crop::computeCoefficients(jobs[image], image, axis, out, cropSize, plan.tapStride, coefficients);
      }
    }
  }
  for (int image = 0; image < numJobs; ++image) {
    for (int y = 0; y < roundUp(plan.firstPassHeight, 8); ++y) {
      for (int x = 0; x < roundUp(plan.firstPassWidth, 32); ++x) {
        resize_crop::firstPassPixel(jobs[image], image, x, y, cropSize, plan.tapStride, decoded.data(), coefficients,
                                    intermediate.data());
      }
    }
  }
  for (int image = 0; image < numJobs; ++image) {
    for (int y = 0; y < roundUp(cropSize, 8); ++y) {
      for (int x = 0; x < roundUp(cropSize, 32); ++x) {
        resize_crop::secondPassPixel(jobs[image], image, x, y, cropSize, plan.tapStride, intermediate.data(),
                                     coefficients, crops.data());
      }
    }
  }
  EXPECT_TRUE(decoded.guardIntact());
  EXPECT_TRUE(coefficientStorage.guardIntact()) << "coefficients written past the planned size";
  EXPECT_TRUE(intermediate.guardIntact()) << "first pass written past the planned size";
  EXPECT_TRUE(crops.guardIntact()) << "crops written past the batch";
  crops.bytes.resize(crops.size);
  return crops.bytes;
}

// What the CPU decoder writes for the same image: BilinearResampler's fused resize + crop.
std::vector<uint8_t> resizeCropOnCpu(const Source& image, int resizeSize, int cropSize) {
  const ResizeCropJob job = resizeCropJob(image.width, image.height, resizeSize, cropSize);
  std::vector<uint8_t> crop(static_cast<size_t>(cropSize) * cropSize * 3);
  image::BilinearResampler resampler(image::ResampleKernels::kPortable);
  const image::ImageView source{image.pixels.data(), image.width, image.height, 3, static_cast<size_t>(image.width) * 3};
  const image::MutableImageView destination{crop.data(), cropSize, cropSize, 3, static_cast<size_t>(cropSize) * 3};
  EXPECT_TRUE(resampler.resizeWindow(source, job.resizedWidth, job.resizedHeight, job.cropLeft, job.cropTop,
                                     destination).ok());
  return crop;
}

void expectSameCrops(const std::vector<Source>& images, int resizeSize, int cropSize) {
  const std::vector<uint8_t> gpu = resizeCropOnHost(images, resizeSize, cropSize);
  const size_t cropBytes = static_cast<size_t>(cropSize) * cropSize * 3;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<uint8_t> cpu = resizeCropOnCpu(images[i], resizeSize, cropSize);
    const std::vector<uint8_t> mine(gpu.begin() + static_cast<std::ptrdiff_t>(i * cropBytes),
                                    gpu.begin() + static_cast<std::ptrdiff_t>((i + 1) * cropBytes));
    size_t differing = 0;
    for (size_t b = 0; b < cropBytes; ++b) differing += mine[b] != cpu[b];
    EXPECT_EQ(differing, 0u) << "image " << i << " (" << images[i].width << "x" << images[i].height
                             << ", resize " << resizeSize << ", crop " << cropSize << ")";
  }
}

TEST(ResizeCropTest, JobsFollowTorchvisionAndPillowsPassOrder) {
  // 300 x 2000 loses far more height than width: Pillow 13 filters vertically first.
  const ResizeCropJob tall = resizeCropJob(300, 2000, 256, 224);
  EXPECT_EQ(tall.resizedWidth, 256);
  EXPECT_EQ(tall.resizedHeight, 1706);
  EXPECT_EQ(tall.cropLeft, 16);
  EXPECT_EQ(tall.cropTop, 741);
  EXPECT_EQ(tall.verticalFirst, 1);
  const ResizeCropJob wide = resizeCropJob(2000, 300, 256, 224);
  EXPECT_EQ(wide.resizedWidth, 1706);
  EXPECT_EQ(wide.resizedHeight, 256);
  EXPECT_EQ(wide.verticalFirst, 0);
}

TEST(ResizeCropTest, PlanCoversEveryImageOfTheBatch) {
  std::vector<ResizeCropJob> jobs = {resizeCropJob(300, 2000, 256, 224), resizeCropJob(2000, 300, 256, 224),
                                     resizeCropJob(100, 90, 256, 224)};
  const ResizeCropPlan plan = planResizeCrop(jobs, 224);
  EXPECT_EQ(plan.tapStride, resizeTapStride(2000, 1706));
  // The vertical-first tall image keeps the columns its crop reads: 18 to 282 of 300 (the crop's
  // columns 16 and 239 of 256, centred at 19.3 and 280.7, +-1.17); the horizontal-first wide one
  // the same rows; the small upscaled one rows 5 to 85 of 90.
  EXPECT_EQ(plan.firstPassWidth, 264);
  EXPECT_EQ(plan.firstPassHeight, 264);
  EXPECT_EQ(jobs[0].intermediateOffset, 0);
  EXPECT_GE(jobs[1].intermediateOffset, 264 * 224 * 3);
  EXPECT_EQ(jobs[1].intermediateOffset % 256, 0);
  EXPECT_GE(plan.intermediateBytes, jobs[2].intermediateOffset + 224 * 80 * 3);
}

TEST(ResizeCropTest, PlanHoldsOnlyTheRowsAnUpscaledTallNarrowImageReads) {
  // 32 x 60000 is scaled up 8x to 256 x 480000, and its 224 crop rows read about 30 source rows:
  // planning all 60000 would ask 40 MB of the device for a 180 KB image.
  std::vector<ResizeCropJob> jobs = {resizeCropJob(32, 60000, 256, 224)};
  const ResizeCropPlan plan = planResizeCrop(jobs, 224);
  EXPECT_EQ(jobs[0].verticalFirst, 0);
  EXPECT_LE(plan.firstPassHeight, 32);
  EXPECT_LE(plan.intermediateBytes, 224 * 32 * 3 + 256);
  EXPECT_EQ(firstPassBytes(jobs[0], 224), plan.intermediateBytes);
}

TEST(ResizeCropTest, TallNarrowAndWideShortImagesMatchTheCpuResampler) {
  expectSameCrops({randomImage(24, 2400, 5), randomImage(2400, 24, 6), randomImage(7, 300, 7)}, 256, 224);
}

TEST(ResizeCropTest, OneImageMatchesTheCpuResampler) {
  for (auto [width, height] : {std::pair{500, 375}, {375, 500}, {256, 256}, {224, 224}, {1024, 683}}) {
    expectSameCrops({randomImage(width, height, static_cast<uint32_t>(width * 31 + height))}, 256, 224);
  }
}

TEST(ResizeCropTest, BothPassOrdersMatchTheCpuResampler) {
  expectSameCrops({randomImage(300, 2000, 1)}, 256, 224);  // vertical first
  expectSameCrops({randomImage(2000, 300, 2)}, 256, 224);  // horizontal first
}

TEST(ResizeCropTest, UpscaledAndOddSizesMatchTheCpuResampler) {
  expectSameCrops({randomImage(13, 10, 3), randomImage(1, 1, 4), randomImage(224, 3, 5), randomImage(257, 255, 6)},
                  256, 224);
}

TEST(ResizeCropTest, MixedBatchMatchesImageByImage) {
  // One batch with every shape: the widest filter, the largest first pass and the offsets are the
  // batch's, not each image's own.
  std::vector<Source> batch;
  std::mt19937 random(7);
  for (int i = 0; i < 12; ++i) {
    const int width = 40 + static_cast<int>(random() % 900);
    const int height = 40 + static_cast<int>(random() % 900);
    batch.push_back(randomImage(width, height, 100 + i));
  }
  batch.push_back(randomImage(300, 2000, 8));
  batch.push_back(randomImage(2000, 300, 9));
  expectSameCrops(batch, 256, 224);
}

TEST(ResizeCropTest, OtherResizeAndCropSizesMatchTheCpuResampler) {
  const std::vector<Source> batch = {randomImage(640, 480, 10), randomImage(333, 999, 11), randomImage(50, 70, 12)};
  expectSameCrops(batch, 160, 128);
  expectSameCrops(batch, 224, 224);  // the crop is the whole short side
  expectSameCrops(batch, 299, 1);
}

}  // namespace
}  // namespace sluice::backend::cuda
