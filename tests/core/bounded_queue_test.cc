#include "core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(BoundedQueueTest, PopsInPushOrder) {
  BoundedQueue<int> queue(100);
  ASSERT_TRUE(queue.push(1, 10));
  ASSERT_TRUE(queue.push(2, 10));
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), 2);
}

TEST(BoundedQueueTest, PushBlocksWhenFull) {
  BoundedQueue<int> queue(20);
  ASSERT_TRUE(queue.push(1, 10));
  ASSERT_TRUE(queue.push(2, 10));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(queue.push(3, 10));
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  EXPECT_EQ(queue.pop(), 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(queue.stats().highWaterBytes, 20);
}

TEST(BoundedQueueTest, AdmitsOversizedItemWhenEmpty) {
  BoundedQueue<int> queue(10);
  EXPECT_TRUE(queue.push(1, 1000));
  EXPECT_EQ(queue.pop(), 1);
}

TEST(BoundedQueueTest, CloseLetsConsumersDrainThenEnd) {
  BoundedQueue<int> queue(100);
  ASSERT_TRUE(queue.push(7, 1));
  queue.close();
  EXPECT_EQ(queue.pop(), 7);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueueTest, CancelWakesBlockedProducerAndConsumer) {
  BoundedQueue<int> full(1);
  ASSERT_TRUE(full.push(1, 1));
  BoundedQueue<int> empty(1);
  std::thread producer([&] { EXPECT_FALSE(full.push(2, 1)); });
  std::thread consumer([&] { EXPECT_EQ(empty.pop(), std::nullopt); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  full.cancel();
  empty.cancel();
  producer.join();
  consumer.join();
}

TEST(OrderedQueueTest, ReleasesInSequenceOrder) {
  OrderedQueue<int> queue(100);
  ASSERT_TRUE(queue.push(2, 20, 1));
  ASSERT_TRUE(queue.push(0, 0, 1));
  ASSERT_TRUE(queue.push(1, 10, 1));
  EXPECT_EQ(queue.pop(), 0);
  EXPECT_EQ(queue.pop(), 10);
  EXPECT_EQ(queue.pop(), 20);
}

TEST(OrderedQueueTest, NextIsReadyOnlyWhenItsSequenceArrivedOrTheQueueClosed) {
  OrderedQueue<int> queue(100);
  EXPECT_FALSE(queue.nextReady());
  ASSERT_TRUE(queue.push(1, 11, 1));
  EXPECT_FALSE(queue.nextReady()) << "item 1 waits for item 0";
  ASSERT_TRUE(queue.push(0, 10, 1));
  EXPECT_TRUE(queue.nextReady());
  EXPECT_EQ(queue.pop(), 10);
  EXPECT_EQ(queue.pop(), 11);
  EXPECT_FALSE(queue.nextReady());
  queue.close();
  EXPECT_TRUE(queue.nextReady());
}

TEST(OrderedQueueTest, AlwaysAdmitsTheNextSequenceEvenWhenFull) {
  OrderedQueue<int> queue(10);
  ASSERT_TRUE(queue.push(1, 1, 10));
  // Over budget, but sequence 0 is the one the consumer waits for: refusing it would deadlock.
  ASSERT_TRUE(queue.push(0, 0, 10));
  EXPECT_EQ(queue.pop(), 0);
  EXPECT_EQ(queue.pop(), 1);
}

TEST(OrderedQueueTest, BlocksItemsAheadOfSequenceWhenFull) {
  OrderedQueue<int> queue(10);
  ASSERT_TRUE(queue.push(1, 1, 10));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(queue.push(2, 2, 10));
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  ASSERT_TRUE(queue.push(0, 0, 10));
  EXPECT_EQ(queue.pop(), 0);
  EXPECT_EQ(queue.pop(), 1);
  producer.join();
  EXPECT_EQ(queue.pop(), 2);
}

TEST(OrderedQueueTest, RaisingTheCapacityWakesAProducerWaitingForRoom) {
  OrderedQueue<int> queue(10);
  ASSERT_TRUE(queue.push(0, 0, 10));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(queue.push(2, 2, 10));  // not the next in sequence: waits for room
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  queue.setCapacity(20);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(queue.stats().capacityBytes, 20);
  EXPECT_EQ(queue.stats().highWaterBytes, 20);
}

TEST(OrderedQueueTest, ManyProducersDeliverEverythingInOrder) {
  OrderedQueue<int> queue(64);
  std::atomic<int> nextWork{0};
  constexpr int kItems = 2000;
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&] {
      for (int s = nextWork++; s < kItems; s = nextWork++) ASSERT_TRUE(queue.push(s, s, 8));
    });
  }
  std::thread closer([&] {
    for (auto& p : producers) p.join();
    queue.close();
  });
  int expected = 0;
  while (auto item = queue.pop()) EXPECT_EQ(*item, expected++);
  closer.join();
  EXPECT_EQ(expected, kItems);
}

TEST(OrderedQueueTest, CloseEndsPopWhenNextNeverArrives) {
  OrderedQueue<int> queue(10);
  ASSERT_TRUE(queue.push(1, 1, 1));
  queue.close();
  EXPECT_EQ(queue.pop(), std::nullopt);
}

}  // namespace
}  // namespace sluice
