#include "core/byte_size.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ByteSizeTest, ParsesPlainBytesAndSuffixes) {
  EXPECT_EQ(*parseByteSize("1048576"), 1048576);
  EXPECT_EQ(*parseByteSize("512M"), 512LL << 20);
  EXPECT_EQ(*parseByteSize("4GiB"), 4LL << 30);
  EXPECT_EQ(*parseByteSize("1.5g"), 3LL << 29);
  EXPECT_EQ(*parseByteSize("2KB"), 2048);
  EXPECT_EQ(*parseByteSize("7B"), 7);
}

TEST(ByteSizeTest, RejectsTextThatIsNotASize) {
  EXPECT_FALSE(parseByteSize("lots").ok());
  EXPECT_FALSE(parseByteSize("12X").ok());
  EXPECT_FALSE(parseByteSize("-3G").ok());
  EXPECT_FALSE(parseByteSize("").ok());
  EXPECT_EQ(parseByteSize("12X").status().code(), StatusCode::kInvalidArgument);
}

TEST(ByteSizeTest, FormatsForPeople) {
  EXPECT_EQ(formatByteSize(512), "512 B");
  EXPECT_EQ(formatByteSize(3LL << 29), "1.5 GiB");
}

}  // namespace
}  // namespace sluice
