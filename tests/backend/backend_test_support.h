#pragma once
// What the backend tests share: a small classifier written as an ONNX file, random crops, a driver
// that keeps every slot of a backend busy, and a comparison of two backends' predictions.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backend/inference_backend.h"
#include "model/protobuf_test_encoder.h"

namespace sluice::backend::testing {

namespace t = sluice::testing;

constexpr int kCrop = 32;
constexpr int64_t kCropBytes = int64_t{kCrop} * kCrop * 3;
constexpr int64_t kClasses = 10;

inline std::vector<float> randomValues(size_t count, float scale, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> value(-scale, scale);
  std::vector<float> values(count);
  for (auto& v : values) v = value(random);
  return values;
}

/// Conv 3x3 stride 2 (+bias) -> Relu -> GlobalAveragePool -> Flatten -> Gemm (+bias): 10 classes.
inline std::string writeClassifier() {
  const std::string model = t::onnxModel(
      {t::onnxNode("Conv", "conv", {"x", "w", "b"}, {"c"},
                   {t::onnxIntsAttribute("pads", {1, 1, 1, 1}), t::onnxIntsAttribute("strides", {2, 2})}),
       t::onnxNode("Relu", "relu", {"c"}, {"r"}), t::onnxNode("GlobalAveragePool", "pool", {"r"}, {"p"}),
       t::onnxNode("Flatten", "flatten", {"p"}, {"f"}), t::onnxNode("Gemm", "fc", {"f", "fw", "fb"}, {"y"})},
      {t::onnxTensor("w", {16, 3, 3, 3}, randomValues(16 * 27, 0.5f, 1)),
       t::onnxTensor("b", {16}, randomValues(16, 0.2f, 2)),
       t::onnxTensor("fw", {16, kClasses}, randomValues(16 * kClasses, 1.0f, 3)),
       t::onnxTensor("fb", {kClasses}, randomValues(kClasses, 0.1f, 4))},
      t::onnxValueInfo("x", {-1, 3, kCrop, kCrop}), t::onnxValueInfo("y", {-1, kClasses}));
  // One file per test process: ctest runs each test as its own process, several at once, and a
  // shared name let one truncate the file while another loaded it. Removed when the process ends.
  struct TemporaryFile {
    std::filesystem::path path;
    ~TemporaryFile() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  };
  static const TemporaryFile file{std::filesystem::temp_directory_path() /
                                  ("sluice_backend_test_" + std::to_string(::getpid()) + ".onnx")};
  std::ofstream(file.path, std::ios::binary | std::ios::trunc) << model;
  return file.path.string();
}

inline BackendOptions optionsFor(const std::string& device, int64_t batchSize) {
  BackendOptions options;
  options.modelPath = writeClassifier();
  options.device = device;
  options.batchSize = batchSize;
  options.cropHeight = kCrop;
  options.cropWidth = kCrop;
  options.precision = Precision::kFp32;
  options.topk = 3;
  options.returnLogits = true;
  options.threads = 1;
  return options;
}

struct Predictions {
  std::vector<int32_t> labels;  // images x topk
  std::vector<float> scores;
  std::vector<float> logits;    // images x classes
};

/// Runs `crops` (images x kCropBytes) through `backend` batch by batch, keeping every slot busy:
/// a slot's results are collected just before it is filled again, and the rest at the end.
inline Predictions predict(InferenceBackend& backend, const std::vector<uint8_t>& crops, int64_t batchSize) {
  const int64_t images = static_cast<int64_t>(crops.size()) / kCropBytes;
  const int topk = backend.topk();
  Predictions out;
  out.labels.resize(images * topk);
  out.scores.resize(images * topk);
  out.logits.resize(images * kClasses);
  std::vector<int64_t> firstImage(backend.slots(), -1), counts(backend.slots(), 0);
  auto collect = [&](int slot) {
    auto outputs = backend.wait(slot);
    ASSERT_TRUE(outputs.ok()) << outputs.status().message();
    const int64_t first = firstImage[slot];
    std::copy_n(outputs->topkLabels, counts[slot] * topk, out.labels.begin() + first * topk);
    std::copy_n(outputs->topkScores, counts[slot] * topk, out.scores.begin() + first * topk);
    ASSERT_NE(outputs->logits, nullptr);
    std::copy_n(outputs->logits, counts[slot] * kClasses, out.logits.begin() + first * kClasses);
    firstImage[slot] = -1;
  };
  int slot = 0;
  for (int64_t first = 0; first < images; first += batchSize, slot = (slot + 1) % backend.slots()) {
    if (firstImage[slot] >= 0) collect(slot);
    const int64_t count = std::min(batchSize, images - first);
    std::copy_n(crops.begin() + first * kCropBytes, count * kCropBytes, backend.inputSlot(slot));
    EXPECT_TRUE(backend.launch(slot, count).ok());
    firstImage[slot] = first;
    counts[slot] = count;
  }
  for (int s = 0; s < backend.slots(); ++s) {
    if (firstImage[s] >= 0) collect(s);
  }
  return out;
}

/// Crops of noise around a colour of their own, so that images differ in class, not only in noise.
inline std::vector<uint8_t> randomCrops(int64_t images, uint32_t seed = 5) {
  std::mt19937 random(seed);
  std::vector<uint8_t> crops(images * kCropBytes);
  for (int64_t image = 0; image < images; ++image) {
    uint32_t base[3];
    for (auto& channel : base) channel = static_cast<uint32_t>(random() % 192);
    for (int64_t i = 0; i < kCropBytes; ++i) {
      crops[image * kCropBytes + i] = static_cast<uint8_t>(base[i % 3] + random() % 64);
    }
  }
  return crops;
}

/// Logits within 1e-4 of the largest, scores within 1e-5, top-1 labels equal where the top two
/// logits do not nearly tie.
inline void expectSamePredictions(const Predictions& expected, const Predictions& actual, int topk) {
  float largest = 0;
  for (float v : expected.logits) largest = std::max(largest, std::abs(v));
  ASSERT_EQ(actual.logits.size(), expected.logits.size());
  size_t worst = 0;
  for (size_t i = 0; i < expected.logits.size(); ++i) {
    if (std::abs(actual.logits[i] - expected.logits[i]) > std::abs(actual.logits[worst] - expected.logits[worst])) {
      worst = i;
    }
  }
  EXPECT_NEAR(actual.logits[worst], expected.logits[worst], 1e-4 * largest)
      << "logit " << worst % kClasses << " of image " << worst / kClasses << " differs the most";
  const size_t images = expected.logits.size() / kClasses;
  for (size_t image = 0; image < images; ++image) {
    for (int k = 0; k < topk; ++k) {
      EXPECT_NEAR(actual.scores[image * topk + k], expected.scores[image * topk + k], 1e-5) << "image " << image;
    }
    const auto logits = expected.logits.begin() + static_cast<int64_t>(image) * kClasses;
    std::vector<float> row(logits, logits + kClasses);
    std::sort(row.rbegin(), row.rend());
    if (row[0] - row[1] > 1e-3 * largest) {
      EXPECT_EQ(actual.labels[image * topk], expected.labels[image * topk]) << "image " << image;
    }
  }
}

}  // namespace sluice::backend::testing
