#pragma once
// Queues that connect pipeline stages. Both are bounded by a byte budget so that memory stays
// bounded whatever the dataset size: a full queue blocks its producers (backpressure).
// Cancel() wakes every waiter; after it, push returns false and pop returns nothing.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "core/stage_stats.h"

namespace sluice {

/// High-water marks of one queue, for the job report.
struct QueueStats {
  int64_t capacityBytes = 0;
  int64_t highWaterBytes = 0;
  int64_t highWaterItems = 0;
};

/// What both queues share: the lock, the two conditions, closing, cancelling and statistics.
class QueueBase {
 public:
  /// No more pushes will come; consumers drain what is left and then see the end.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    notEmpty_.notify_all();
  }

  /// Wakes every waiter: pushes return false and pops return nothing from now on.
  void cancel() {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    notEmpty_.notify_all();
    notFull_.notify_all();
  }

  /// A new byte budget, e.g. once a stage that started late says what memory it holds. Waiting
  /// producers check it again; items already queued stay.
  void setCapacity(int64_t capacityBytes) {
    std::lock_guard lock(mutex_);
    stats_.capacityBytes = capacityBytes;
    notFull_.notify_all();
  }

  QueueStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 protected:
  explicit QueueBase(int64_t capacityBytes) { stats_.capacityBytes = capacityBytes; }

  void recordHighWater(size_t items) {
    stats_.highWaterBytes = std::max(stats_.highWaterBytes, usedBytes_);
    stats_.highWaterItems = std::max<int64_t>(stats_.highWaterItems, static_cast<int64_t>(items));
  }

  mutable std::mutex mutex_;
  std::condition_variable notEmpty_;
  std::condition_variable notFull_;
  int64_t usedBytes_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  QueueStats stats_;
};

/// A FIFO queue bounded by bytes. An item larger than the whole budget is still admitted when the
/// queue is empty, so an oversized item slows the pipeline down but never deadlocks it.
/// Any number of producers and consumers.
template <typename T>
class BoundedQueue : public QueueBase {
 public:
  explicit BoundedQueue(int64_t capacityBytes) : QueueBase(capacityBytes) {}

  /// Blocks while the queue is over budget. Returns false if the queue was cancelled.
  /// Time spent waiting is added to `blockedSeconds` when given.
  bool push(T item, int64_t bytes, double* blockedSeconds = nullptr) {
    std::unique_lock lock(mutex_);
    auto start = std::chrono::steady_clock::now();
    notFull_.wait(lock, [&] {
      return cancelled_ || items_.empty() || usedBytes_ + bytes <= stats_.capacityBytes;
    });
    if (blockedSeconds) *blockedSeconds += secondsSince(start);
    if (cancelled_) return false;
    usedBytes_ += bytes;
    items_.emplace_back(std::move(item), bytes);
    recordHighWater(items_.size());
    notEmpty_.notify_one();
    return true;
  }

  /// Blocks until an item is available. Returns nothing once the queue is closed and drained,
  /// or cancelled.
  std::optional<T> pop(double* blockedSeconds = nullptr) {
    std::unique_lock lock(mutex_);
    auto start = std::chrono::steady_clock::now();
    notEmpty_.wait(lock, [&] { return cancelled_ || closed_ || !items_.empty(); });
    if (blockedSeconds) *blockedSeconds += secondsSince(start);
    if (cancelled_ || items_.empty()) return std::nullopt;
    auto [item, bytes] = std::move(items_.front());
    items_.pop_front();
    usedBytes_ -= bytes;
    notFull_.notify_all();
    return std::move(item);
  }

 private:
  std::deque<std::pair<T, int64_t>> items_;
};

/// A queue that releases items in sequence order (0, 1, 2, ...) whatever order they are pushed
/// in, bounded by bytes. The item whose sequence number is the next one to be released is always
/// admitted, so producers that take work in sequence order can never deadlock on it.
template <typename T>
class OrderedQueue : public QueueBase {
 public:
  explicit OrderedQueue(int64_t capacityBytes) : QueueBase(capacityBytes) {}

  /// Blocks while the queue is over budget, unless `sequence` is the next one to be released.
  /// Returns false if the queue was cancelled.
  bool push(int64_t sequence, T item, int64_t bytes, double* blockedSeconds = nullptr) {
    std::unique_lock lock(mutex_);
    auto start = std::chrono::steady_clock::now();
    notFull_.wait(lock, [&] {
      return cancelled_ || sequence == nextSequence_ || items_.empty() ||
             usedBytes_ + bytes <= stats_.capacityBytes;
    });
    if (blockedSeconds) *blockedSeconds += secondsSince(start);
    if (cancelled_) return false;
    usedBytes_ += bytes;
    items_.emplace(sequence, std::make_pair(std::move(item), bytes));
    recordHighWater(items_.size());
    if (sequence == nextSequence_) notEmpty_.notify_all();
    return true;
  }

  /// True when pop() would return at once: the next item in sequence is here, or the queue is
  /// closed or cancelled. Another consumer may take the item first.
  bool nextReady() const {
    std::lock_guard lock(mutex_);
    return cancelled_ || closed_ || (!items_.empty() && items_.begin()->first == nextSequence_);
  }

  /// Blocks until the next item in sequence is available. Returns nothing once the queue is
  /// closed and that item will never come, or cancelled.
  std::optional<T> pop(double* blockedSeconds = nullptr) {
    std::unique_lock lock(mutex_);
    auto start = std::chrono::steady_clock::now();
    notEmpty_.wait(lock, [&] {
      return cancelled_ || closed_ || (!items_.empty() && items_.begin()->first == nextSequence_);
    });
    if (blockedSeconds) *blockedSeconds += secondsSince(start);
    if (cancelled_ || items_.empty() || items_.begin()->first != nextSequence_) return std::nullopt;
    auto node = items_.extract(items_.begin());
    auto& [item, bytes] = node.mapped();
    usedBytes_ -= bytes;
    ++nextSequence_;
    notFull_.notify_all();
    return std::move(item);
  }

 private:
  std::map<int64_t, std::pair<T, int64_t>> items_;
  int64_t nextSequence_ = 0;
};

}  // namespace sluice
