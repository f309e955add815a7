#include "model/window_geometry.h"

#include <gtest/gtest.h>

namespace sluice::model {
namespace {

// A square window with the same padding declared at both ends, its output size as ONNX floor mode gives it.
WindowGeometry window(int64_t input, int64_t kernel, int64_t stride, int64_t pad) {
  WindowGeometry geometry;
  geometry.kernel = {kernel, kernel};
  geometry.strides = {stride, stride};
  geometry.padsBegin = {pad, pad};
  geometry.padsEnd = {pad, pad};
  const int64_t output = (input + 2 * pad - kernel) / stride + 1;
  geometry.output = {output, output};
  return geometry;
}

TEST(WindowGeometryTest, ResNetWindowsMatchSymmetricPaddingEvenWhereTheStrideLeavesARemainder) {
  // ResNet50's stem (7x7/2, pad 3 on 224), max pool (3x3/2, pad 1 on 112), a strided 3x3 and the
  // strided 1x1 downsample: the last window ends before the declared end padding in each.
  for (const auto& [input, kernel, stride, pad] : {std::array<int64_t, 4>{224, 7, 2, 3}, {112, 3, 2, 1},
                                                   {56, 3, 2, 1}, {56, 1, 2, 0}, {56, 3, 1, 1}, {7, 1, 1, 0}}) {
    WindowGeometry geometry = window(input, kernel, stride, pad);
    EXPECT_TRUE(geometry.matchesSymmetricPadding({input, input}))
        << input << " " << kernel << "/" << stride << " pad " << pad;
    EXPECT_LE(geometry.effectivePadsEnd({input, input})[0], pad);
  }
}

TEST(WindowGeometryTest, EndPaddingThatChangesTheOutputSizeDoesNotMatch) {
  WindowGeometry geometry = window(10, 3, 1, 1);
  geometry.padsEnd = {3, 3};  // two more outputs than padding 1 at both ends gives
  geometry.output = {12, 12};
  EXPECT_FALSE(geometry.matchesSymmetricPadding({10, 10}));
  geometry.padsBegin = {0, 0};  // no begin padding but some at the end
  geometry.padsEnd = {2, 2};
  geometry.output = {10, 10};
  EXPECT_FALSE(geometry.matchesSymmetricPadding({10, 10}));
}

TEST(WindowGeometryTest, CeilModeWindowReachingPastTheEndPaddingMatchesOnlyWhenCuDnnGetsTheSameCount) {
  // 3x3/2 without padding on 8: floor gives 3 outputs, ceil 4 (the last window needs one more column).
  WindowGeometry geometry = window(8, 3, 2, 0);
  geometry.ceilMode = true;
  geometry.output = {4, 4};
  EXPECT_EQ(geometry.effectivePadsEnd({8, 8})[0], 1);
  EXPECT_FALSE(geometry.matchesSymmetricPadding({8, 8}));  // begin 0 at both ends gives 3
  geometry.padsBegin = geometry.padsEnd = {1, 1};           // with padding 1: floor 4, ceil 5
  geometry.output = {5, 5};
  EXPECT_FALSE(geometry.matchesSymmetricPadding({8, 8}));
  geometry.output = {4, 4};
  EXPECT_TRUE(geometry.matchesSymmetricPadding({8, 8}));
}

}  // namespace
}  // namespace sluice::model
