// ChannelCursor, the epilogue kernel's channel index, walked on the host the way a grid-stride loop
// walks it on the GPU (no GPU needed).
#include "backend/cuda/channel_cursor.h"

#include <gtest/gtest.h>

namespace sluice::backend::cuda {
namespace {

TEST(ChannelCursorTest, FollowsTheRemainderOfEveryElementAGridStrideLoopVisits) {
  // Strides below, at and far above the channel count, as the kernel's grids give (up to 2^28 threads).
  for (int64_t channels : {1, 3, 8, 64, 1000, 2048}) {
    for (int64_t stride : {int64_t{1}, int64_t{7}, channels, channels + 1, int64_t{256} * 1000 + 3,
                           int64_t{65535} * 16 * 256}) {
      for (int64_t first : {int64_t{0}, int64_t{5}, stride - 1}) {
        ChannelCursor cursor(first, stride, channels);
        for (int64_t k = 0; k < 5000; ++k, cursor.advance()) {
          ASSERT_EQ(cursor.channel(), (first + k * stride) % channels)
              << "channels " << channels << ", stride " << stride << ", first " << first << ", step " << k;
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::backend::cuda
