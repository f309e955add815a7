#include "backend/op_profile.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::backend {
namespace {

ModelProfile threeConvolutionsAndAPool() {
  ModelProfile profile;
  profile.batchSize = 256;
  profile.runs = 5;
  profile.forwardMilliseconds = 9.5;
  // 2e12 FLOPs in 4 ms is 500 TFLOP/s; 8e9 bytes in 4 ms is 2,000 GB/s.
  profile.ops = {{"conv0", "Conv 3x3", "a -> b", "stride 1", 4.0, 2e12, 8e9},
                 {"conv1", "Conv 1x1", "b -> c", "stride 1", 1.0, 1e11, 1e9},
                 {"pool", "MaxPool", "c -> d", "cuDNN", 1.0, 0, 3e9},
                 {"conv2", "Conv 3x3", "d -> e", "stride 2", 4.0, 1e12, 2e9}};
  return profile;
}

TEST(OpProfileTest, TotalsAddUpEveryOp) {
  const ModelProfile profile = threeConvolutionsAndAPool();
  EXPECT_DOUBLE_EQ(profile.totalMilliseconds(), 10.0);
  EXPECT_DOUBLE_EQ(profile.totalFlops(), 3.1e12);
}

TEST(OpProfileTest, KindsAreSummedAndOrderedByTime) {
  const auto kinds = totalsByKind(threeConvolutionsAndAPool());
  ASSERT_EQ(kinds.size(), 3u);
  EXPECT_EQ(kinds[0].kind, "Conv 3x3");
  EXPECT_EQ(kinds[0].ops, 2);
  EXPECT_DOUBLE_EQ(kinds[0].milliseconds, 8.0);
  EXPECT_DOUBLE_EQ(kinds[0].flops, 3e12);
  EXPECT_DOUBLE_EQ(kinds[0].bytes, 1e10);
  // Equal times keep the kinds' alphabetical order.
  EXPECT_EQ(kinds[1].kind, "Conv 1x1");
  EXPECT_EQ(kinds[2].kind, "MaxPool");
}

TEST(OpProfileTest, SlowestOpsComeFirstAndTiesKeepForwardOrder) {
  const auto slowest = slowestOps(threeConvolutionsAndAPool(), 3);
  ASSERT_EQ(slowest.size(), 3u);
  EXPECT_EQ(slowest[0].node, "conv0");
  EXPECT_EQ(slowest[1].node, "conv2");
  EXPECT_EQ(slowest[2].node, "conv1");
  EXPECT_EQ(slowestOps(threeConvolutionsAndAPool(), 10).size(), 4u);
}

TEST(OpProfileTest, TheTableGivesSharesAndRates) {
  const std::string text = formatProfile(threeConvolutionsAndAPool(), 2);
  EXPECT_NE(text.find("batch 256, mean of 5 eager passes: 10.000 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("the benchmark's pass: 9.500 ms, 326.3 TFLOP/s"), std::string::npos) << text;
  EXPECT_NE(text.find("310.0 TFLOP/s over the pass"), std::string::npos) << text;
  // Conv 3x3: 8 of 10 ms, 3e12 FLOPs in 8 ms = 375 TFLOP/s, 1e10 bytes in 8 ms = 1,250 GB/s.
  EXPECT_NE(text.find("80.0%     375.0   1250.0"), std::string::npos) << text;
  // A pool counts no FLOPs: a dash, not a zero rate.
  EXPECT_NE(text.find("10.0%         -   3000.0"), std::string::npos) << text;
  EXPECT_NE(text.find("slowest 2 ops"), std::string::npos) << text;
  EXPECT_NE(text.find("a -> b, stride 1"), std::string::npos) << text;
  EXPECT_EQ(text.find("b -> c"), std::string::npos) << "only the 2 slowest are listed:\n" << text;
}

TEST(OpProfileTest, LongRowsAreWrittenWhole) {
  ModelProfile profile;
  const std::string name(300, 'n'), detail(400, 'd');
  profile.ops = {{name, "Conv 3x3", "a -> b", detail, 1.0, 1e9, 1e6}};
  const std::string text = formatProfile(profile);
  EXPECT_NE(text.find(name + " Conv 3x3"), std::string::npos) << text;
  EXPECT_NE(text.find(", " + detail + "\n"), std::string::npos) << text;
}

TEST(OpProfileTest, AnEmptyProfileFormatsWithoutDividingByZero) {
  const std::string text = formatProfile(ModelProfile{});
  EXPECT_NE(text.find("0.000 ms per pass"), std::string::npos) << text;
  EXPECT_EQ(text.find("slowest"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::backend
