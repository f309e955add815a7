// sluice's CUDA kernels against the CPU code they replace. Skipped, with the reason, where no GPU
// is visible; they run on the GPU machine.
#include "backend/cuda/kernels.h"

#include <gtest/gtest.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cuda/cuda_devices.h"
#include "backend/cuda/gpu_test_support.h"
#include "backend/cuda/device_memory.h"
#include "backend/topk.h"
#include "image/preprocess.h"

namespace sluice::backend::cuda {
namespace {

template <typename T>
DeviceBuffer upload(const std::vector<T>& values) {
  DeviceBuffer buffer;
  EXPECT_TRUE(buffer.allocate(static_cast<int64_t>(values.size() * sizeof(T))).ok());
  EXPECT_EQ(cudaMemcpy(buffer.data(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return buffer;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& buffer, int64_t count) {
  std::vector<T> values(count);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(values.data(), buffer.data(), count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return values;
}

std::vector<float> randomFloats(int64_t count, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(random);
  return values;
}

TEST(CudaKernelsTest, NormalizeMatchesTheCpuNormalizationAndZeroesPaddingChannels) {
  SKIP_WITHOUT_GPU();
  const int images = 3, height = 5, width = 7, channels = 8;
  std::vector<uint8_t> crops(images * height * width * 3);
  std::mt19937 random(1);
  for (auto& value : crops) value = static_cast<uint8_t>(random() % 256);
  for (auto normalization : {image::Normalization::kImagenet, image::Normalization::kSeed}) {
    std::vector<float> expected(crops.size());
    image::normalizeToNchw(crops.data(), images, height, width, normalization, expected.data());
    const auto table = image::normalizationTable(normalization);
    DeviceBuffer deviceCrops = upload(crops);
    DeviceBuffer deviceTable = upload(std::vector<float>(table.begin(), table.end()));
    DeviceBuffer out;
    ASSERT_TRUE(out.allocate(images * height * width * channels * 4).ok());
    ASSERT_EQ(launchNormalize(deviceCrops.as<uint8_t>(), images, height, width, channels, deviceTable.as<float>(),
                              StorageType::kFloat, out.data(), nullptr),
              cudaSuccess);
    auto actual = download<float>(out, images * height * width * channels);
    for (int n = 0; n < images; ++n) {
      for (int p = 0; p < height * width; ++p) {
        for (int c = 0; c < channels; ++c) {
          float value = actual[(n * height * width + p) * channels + c];
          if (c >= 3) {
            ASSERT_EQ(value, 0.0f);
          } else {
            ASSERT_EQ(value, expected[(n * 3 + c) * height * width + p]) << "image " << n << " pixel " << p;
          }
        }
      }
    }
  }
}

TEST(CudaKernelsTest, SoftmaxTopKMatchesTheHostTopKIncludingTies) {
  SKIP_WITHOUT_GPU();
  const int rows = 4, classes = 1000, k = 5;
  std::vector<float> outputs = randomFloats(rows * classes, 2);
  outputs[1 * classes + 10] = outputs[1 * classes + 20] = 50.0f;  // a tie: the lower class first
  DeviceBuffer deviceOutputs = upload(outputs);
  DeviceBuffer labels, scores, logits;
  ASSERT_TRUE(labels.allocate(rows * k * 4).ok());
  ASSERT_TRUE(scores.allocate(rows * k * 4).ok());
  ASSERT_TRUE(logits.allocate(rows * classes * 4).ok());
  ASSERT_EQ(launchSoftmaxTopK(deviceOutputs.data(), rows, classes, k, false, StorageType::kFloat,
                              labels.as<int32_t>(), scores.as<float>(), logits.as<float>(), nullptr),
            cudaSuccess);
  auto actualLabels = download<int32_t>(labels, rows * k);
  auto actualScores = download<float>(scores, rows * k);
  EXPECT_EQ(download<float>(logits, rows * classes), outputs);
  for (int r = 0; r < rows; ++r) {
    int32_t expectedLabels[k];
    float expectedScores[k];
    softmaxTopK(outputs.data() + r * classes, classes, k, false, expectedLabels, expectedScores);
    for (int i = 0; i < k; ++i) {
      EXPECT_EQ(actualLabels[r * k + i], expectedLabels[i]) << "row " << r << " rank " << i;
      EXPECT_NEAR(actualScores[r * k + i], expectedScores[i], 1e-6f + 1e-5f * expectedScores[i]);
    }
  }
  EXPECT_EQ(actualLabels[1 * k + 0], 10);
  EXPECT_EQ(actualLabels[1 * k + 1], 20);
}

TEST(CudaKernelsTest, SoftmaxTopKRanksNanAndInfinityLastAndNeverRepeatsAClass) {
  SKIP_WITHOUT_GPU();
  const int rows = 2, classes = 8, k = 5;
  const float nan = std::nanf(""), inf = INFINITY;
  // Row 0: every output NaN (an fp16 overflow); row 1: two numbers among -inf and NaN.
  std::vector<float> outputs(rows * classes, nan);
  const float second[classes] = {nan, -inf, 3.0f, -inf, nan, 1.0f, -inf, nan};
  std::copy(second, second + classes, outputs.begin() + classes);
  DeviceBuffer deviceOutputs = upload(outputs);
  DeviceBuffer labels, scores;
  ASSERT_TRUE(labels.allocate(rows * k * 4).ok());
  ASSERT_TRUE(scores.allocate(rows * k * 4).ok());
  ASSERT_EQ(launchSoftmaxTopK(deviceOutputs.data(), rows, classes, k, false, StorageType::kFloat,
                              labels.as<int32_t>(), scores.as<float>(), nullptr, nullptr),
            cudaSuccess);
  auto actual = download<int32_t>(labels, rows * k);
  EXPECT_EQ(std::vector<int32_t>(actual.begin(), actual.begin() + k), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int32_t>(actual.begin() + k, actual.end()), (std::vector<int32_t>{2, 5, 1, 3, 6}));
  auto actualScores = download<float>(scores, rows * k);
  EXPECT_NEAR(actualScores[k], std::exp(3.0f) / (std::exp(3.0f) + std::exp(1.0f)), 1e-6f);
  EXPECT_EQ(actualScores[k + 2], 0.0f);
}

TEST(CudaKernelsTest, SoftmaxTopKRunsAtTheLargestSupportedClassCount) {
  SKIP_WITHOUT_GPU();
  const int64_t classes = maxTopKClasses();
  const int k = 3;
  std::vector<float> outputs = randomFloats(classes, 9);
  DeviceBuffer deviceOutputs = upload(outputs);
  DeviceBuffer labels, scores;
  ASSERT_TRUE(labels.allocate(k * 4).ok());
  ASSERT_TRUE(scores.allocate(k * 4).ok());
  ASSERT_EQ(launchSoftmaxTopK(deviceOutputs.data(), 1, classes, k, false, StorageType::kFloat, labels.as<int32_t>(),
                              scores.as<float>(), nullptr, nullptr),
            cudaSuccess);
  auto actual = download<int32_t>(labels, k);
  int32_t expected[k];
  float expectedScores[k];
  softmaxTopK(outputs.data(), classes, k, false, expected, expectedScores);
  EXPECT_EQ(actual, (std::vector<int32_t>(expected, expected + k)));
}

TEST(CudaKernelsTest, BiasAddReluEpilogueMatchesTheFormula) {
  SKIP_WITHOUT_GPU();
  const int64_t count = 6 * 16, channels = 16;
  auto x = randomFloats(count, 3), z = randomFloats(count, 4), bias = randomFloats(channels, 5);
  DeviceBuffer dx = upload(x), dz = upload(z), dbias = upload(bias), dy;
  ASSERT_TRUE(dy.allocate(count * 4).ok());
  ASSERT_EQ(launchBiasAddRelu(dx.data(), dbias.as<float>(), dz.data(), dy.data(), count, channels, true,
                              StorageType::kFloat, nullptr),
            cudaSuccess);
  auto y = download<float>(dy, count);
  for (int64_t i = 0; i < count; ++i) EXPECT_FLOAT_EQ(y[i], std::max(0.0f, x[i] + bias[i % channels] + z[i]));
}

TEST(CudaKernelsTest, GlobalAveragePoolAndNhwcToNchwMatchDirectLoops) {
  SKIP_WITHOUT_GPU();
  const int64_t n = 2, spatial = 12, channels = 5;
  auto x = randomFloats(n * spatial * channels, 6);
  DeviceBuffer dx = upload(x), pooled, transposed;
  ASSERT_TRUE(pooled.allocate(n * channels * 4).ok());
  ASSERT_TRUE(transposed.allocate(n * spatial * channels * 4).ok());
  ASSERT_EQ(launchGlobalAveragePool(dx.data(), pooled.data(), n, spatial, channels, StorageType::kFloat, nullptr),
            cudaSuccess);
  ASSERT_EQ(launchNhwcToNchw(dx.data(), transposed.data(), n, spatial, channels, StorageType::kFloat, nullptr),
            cudaSuccess);
  auto mean = download<float>(pooled, n * channels);
  auto nchw = download<float>(transposed, n * spatial * channels);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0;
      for (int64_t s = 0; s < spatial; ++s) {
        sum += x[(b * spatial + s) * channels + c];
        EXPECT_EQ(nchw[(b * channels + c) * spatial + s], x[(b * spatial + s) * channels + c]);
      }
      EXPECT_NEAR(mean[b * channels + c], sum / spatial, 1e-5);
    }
  }
}

// The pooling kernel against direct loops: 3x3 windows, stride 2, padding 1 before and 2 after
// (floor((7 + 1 + 2 - 3) / 2) + 1 = 4 rows; a fifth would lie wholly in the padding).
TEST(CudaKernelsTest, PoolingMatchesDirectLoopsForMaxAndBothAverages) {
  SKIP_WITHOUT_GPU();
  PoolWindow window{.n = 2, .height = 7, .width = 6, .channels = 3, .outHeight = 4, .outWidth = 4, .kernelH = 3,
                    .kernelW = 3, .strideH = 2, .strideW = 2, .padTop = 1, .padLeft = 1, .padBottom = 2,
                    .padRight = 2};
  auto x = randomFloats(window.n * window.height * window.width * window.channels, 8);
  DeviceBuffer dx = upload(x), dy;
  const int64_t count = window.n * window.outHeight * window.outWidth * window.channels;
  ASSERT_TRUE(dy.allocate(count * 4).ok());
  for (auto mode : {PoolWindow::Mode::kMax, PoolWindow::Mode::kAverageExcludePadding,
                    PoolWindow::Mode::kAverageIncludePadding}) {
    window.mode = mode;
    ASSERT_EQ(launchPool2d(dx.data(), dy.data(), window, StorageType::kFloat, nullptr), cudaSuccess);
    auto y = download<float>(dy, count);
    for (int64_t b = 0; b < window.n; ++b)
      for (int64_t oy = 0; oy < window.outHeight; ++oy)
        for (int64_t ox = 0; ox < window.outWidth; ++ox)
          for (int64_t c = 0; c < window.channels; ++c) {
            float best = -INFINITY, sum = 0;
            int inside = 0, padded = 0;
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 3; ++kx) {
                const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                if (iy < window.height + 2 && ix < window.width + 2) ++padded;  // inside the declared padding
                if (iy < 0 || ix < 0 || iy >= window.height || ix >= window.width) continue;
                const float v = x[((b * window.height + iy) * window.width + ix) * window.channels + c];
                best = std::max(best, v);
                sum += v;
                ++inside;
              }
            const float expected = mode == PoolWindow::Mode::kMax                      ? best
                                   : mode == PoolWindow::Mode::kAverageExcludePadding ? sum / inside
                                                                                       : sum / padded;
            EXPECT_NEAR(y[((b * window.outHeight + oy) * window.outWidth + ox) * window.channels + c], expected, 1e-5)
                << "mode " << static_cast<int>(mode) << " at " << b << "," << oy << "," << ox << "," << c;
          }
  }
}

TEST(CudaKernelsTest, CastRoundsToHalfAndBfloat16LikeTheHostConversions) {
  SKIP_WITHOUT_GPU();
  auto values = randomFloats(257, 7);
  DeviceBuffer in = upload(values), half, bf16;
  ASSERT_TRUE(half.allocate(values.size() * 2).ok());
  ASSERT_TRUE(bf16.allocate(values.size() * 2).ok());
  ASSERT_EQ(launchCast(in.as<float>(), half.data(), values.size(), StorageType::kHalf, nullptr), cudaSuccess);
  ASSERT_EQ(launchCast(in.as<float>(), bf16.data(), values.size(), StorageType::kBfloat16, nullptr), cudaSuccess);
  auto halves = download<__half>(half, values.size());
  auto bfloats = download<__nv_bfloat16>(bf16, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(__half2float(halves[i]), __half2float(__float2half_rn(values[i])));
    EXPECT_EQ(__bfloat162float(bfloats[i]), __bfloat162float(__float2bfloat16_rn(values[i])));
  }
}

TEST(CudaKernelsTest, SoftmaxRowsSumToOne) {
  SKIP_WITHOUT_GPU();
  const int64_t rows = 3, classes = 37;
  auto x = randomFloats(rows * classes, 8);
  DeviceBuffer dx = upload(x), dy;
  ASSERT_TRUE(dy.allocate(rows * classes * 4).ok());
  ASSERT_EQ(launchSoftmax(dx.data(), dy.data(), rows, classes, StorageType::kFloat, nullptr), cudaSuccess);
  auto y = download<float>(dy, rows * classes);
  for (int64_t r = 0; r < rows; ++r) {
    double maximum = -INFINITY, total = 0;
    for (int64_t c = 0; c < classes; ++c) maximum = std::max<double>(maximum, x[r * classes + c]);
    for (int64_t c = 0; c < classes; ++c) total += std::exp(x[r * classes + c] - maximum);
    for (int64_t c = 0; c < classes; ++c) {
      EXPECT_NEAR(y[r * classes + c], std::exp(x[r * classes + c] - maximum) / total, 1e-6);
    }
  }
}

}  // namespace
}  // namespace sluice::backend::cuda
