#include "backend/topk.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sluice::backend {
namespace {

TEST(TopKTest, ReturnsBestClassesHighestFirstWithSoftmaxScores) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f};
  int32_t labels[2];
  float scores[2];
  softmaxTopK(logits.data(), 4, 2, false, labels, scores);
  EXPECT_EQ(labels[0], 1);
  EXPECT_EQ(labels[1], 2);
  double sum = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + std::exp(0.0);
  EXPECT_NEAR(scores[0], std::exp(3.0) / sum, 1e-6);
  EXPECT_NEAR(scores[1], std::exp(2.0) / sum, 1e-6);
}

TEST(TopKTest, TiesGoToTheLowerClass) {
  std::vector<float> logits = {5.0f, 7.0f, 7.0f, 7.0f};
  int32_t labels[3];
  float scores[3];
  softmaxTopK(logits.data(), 4, 3, false, labels, scores);
  EXPECT_EQ(labels[0], 1);
  EXPECT_EQ(labels[1], 2);
  EXPECT_EQ(labels[2], 3);
}

TEST(TopKTest, NanRanksBelowMinusInfinityAndTakesNoPartInTheSoftmax) {
  const float nan = std::nanf(""), inf = INFINITY;
  const std::vector<float> logits = {nan, -inf, 3.0f, -inf, nan, 1.0f, -inf, nan};
  int32_t labels[7];
  float scores[7];
  softmaxTopK(logits.data(), 8, 7, false, labels, scores);
  EXPECT_EQ(std::vector<int32_t>(labels, labels + 7), (std::vector<int32_t>{2, 5, 1, 3, 6, 0, 4}));
  EXPECT_NEAR(scores[0], std::exp(3.0f) / (std::exp(3.0f) + std::exp(1.0f)), 1e-6f);
  EXPECT_EQ(scores[2], 0.0f);
  EXPECT_TRUE(std::isnan(scores[5]));
}

TEST(TopKTest, LargeLogitsDoNotOverflow) {
  std::vector<float> logits = {1000.0f, 999.0f};
  int32_t labels[2];
  float scores[2];
  softmaxTopK(logits.data(), 2, 2, false, labels, scores);
  EXPECT_TRUE(std::isfinite(scores[0]));
  EXPECT_NEAR(scores[0] + scores[1], 1.0f, 1e-6);
}

TEST(TopKTest, ProbabilitiesArePassedThroughUnchanged) {
  std::vector<float> probabilities = {0.1f, 0.6f, 0.3f};
  int32_t labels[1];
  float scores[1];
  softmaxTopK(probabilities.data(), 3, 1, true, labels, scores);
  EXPECT_EQ(labels[0], 1);
  EXPECT_FLOAT_EQ(scores[0], 0.6f);
}

}  // namespace
}  // namespace sluice::backend
