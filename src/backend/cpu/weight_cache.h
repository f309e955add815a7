#pragma once
// Constant tensors (weights, biases, normalization parameters) in the layouts primitives chose,
// reordered once and shared by the plans of every batch size.

#include <dnnl.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sluice::backend {

/// Not thread-safe: used while building a plan, under the executor's one-caller-at-a-time rule.
class WeightCache {
 public:
  explicit WeightCache(dnnl::engine engine) : engine_(std::move(engine)), stream_(engine_) {}

  /// The tensor `key` (plain layout `plainDesc`, values `data`) in layout `targetDesc`; built on
  /// first request, returned from the cache afterwards (`data` is then not read).
  dnnl::memory get(const std::string& key, const dnnl::memory::desc& plainDesc,
                   const float* data, const dnnl::memory::desc& targetDesc);

  /// Total bytes held (for memory reporting).
  int64_t bytes() const { return bytes_; }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::map<std::string, std::vector<std::pair<dnnl::memory::desc, dnnl::memory>>> entries_;
  int64_t bytes_ = 0;
};

}  // namespace sluice::backend
