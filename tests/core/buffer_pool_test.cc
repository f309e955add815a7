#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice {
namespace {

TEST(BufferPoolTest, AGivenBufferIsTakenAgainWithItsMemoryAndBytes) {
  BufferPool pool(2);
  auto buffer = pool.take(1000);
  ASSERT_EQ(buffer.size(), 1000u);
  buffer[0] = 7;
  buffer[999] = 9;
  const uint8_t* memory = buffer.data();
  pool.give(std::move(buffer));
  EXPECT_EQ(pool.idle(), 1u);

  auto again = pool.take(1000);
  EXPECT_EQ(again.data(), memory);
  EXPECT_EQ(again[0], 7);  // not cleared: the caller writes what it reads
  EXPECT_EQ(again[999], 9);
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(BufferPoolTest, ASmallerRequestKeepsTheMemoryAndALargerOneZeroesOnlyTheNewBytes) {
  BufferPool pool(1);
  auto buffer = pool.take(1000);
  std::fill(buffer.begin(), buffer.end(), uint8_t{5});
  const uint8_t* memory = buffer.data();
  pool.give(std::move(buffer));

  auto smaller = pool.take(600);
  EXPECT_EQ(smaller.size(), 600u);
  EXPECT_EQ(smaller.data(), memory);
  pool.give(std::move(smaller));

  auto larger = pool.take(1000);
  ASSERT_EQ(larger.size(), 1000u);
  EXPECT_EQ(larger.data(), memory);  // within the capacity it had
  EXPECT_EQ(larger[599], 5);
  EXPECT_EQ(larger[600], 0);
  EXPECT_EQ(larger[999], 0);
}

TEST(BufferPoolTest, PrefersABufferThatIsAlreadyBigEnough) {
  BufferPool pool(3);
  auto small = pool.take(10);
  auto big = pool.take(5000);
  const uint8_t* bigMemory = big.data();
  pool.give(std::move(small));
  pool.give(std::move(big));
  EXPECT_EQ(pool.take(4000).data(), bigMemory);
}

TEST(BufferPoolTest, FreesWhatComesBackBeyondItsLimit) {
  BufferPool pool(1);
  pool.give(pool.take(10));
  pool.give(std::vector<uint8_t>(10));
  EXPECT_EQ(pool.idle(), 1u);
  pool.give({});  // nothing to keep
  EXPECT_EQ(pool.idle(), 1u);
}

TEST(BufferPoolTest, ThreadsTakeAndGiveConcurrently) {
  BufferPool pool(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        auto buffer = pool.take(64 + t);
        ASSERT_EQ(buffer.size(), static_cast<size_t>(64 + t));
        std::fill(buffer.begin(), buffer.end(), static_cast<uint8_t>(t));
        pool.give(std::move(buffer));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(pool.idle(), 4u);
}

}  // namespace
}  // namespace sluice
