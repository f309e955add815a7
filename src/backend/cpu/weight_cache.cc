#include "backend/cpu/weight_cache.h"

#include <cstring>

namespace sluice::backend {

dnnl::memory WeightCache::get(const std::string& key, const dnnl::memory::desc& plainDesc,
                              const float* data, const dnnl::memory::desc& targetDesc) {
  auto& versions = entries_[key];
  for (const auto& [desc, memory] : versions) {
    if (desc == targetDesc) return memory;
  }
  dnnl::memory plain(plainDesc, engine_);
  std::memcpy(plain.get_data_handle(), data, plainDesc.get_size());
  dnnl::memory target = plain;
  if (!(plainDesc == targetDesc)) {
    target = dnnl::memory(targetDesc, engine_);
    dnnl::reorder(plain, target).execute(stream_, plain, target);
    stream_.wait();
  }
  versions.emplace_back(targetDesc, target);
  bytes_ += static_cast<int64_t>(targetDesc.get_size());
  return target;
}

}  // namespace sluice::backend
