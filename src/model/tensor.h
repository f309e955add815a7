#pragma once
// A constant tensor of the model (weights, Reshape shapes), held in host memory.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::model {

/// Element type of a constant tensor. Int32 data is widened to int64 when read.
enum class DataType { kFloat, kInt64 };

struct Tensor {
  std::string name;
  DataType dataType = DataType::kFloat;
  std::vector<int64_t> dims;
  std::vector<float> floats;  // when dataType == kFloat
  std::vector<int64_t> ints;  // when dataType == kInt64

  int64_t numElements() const {
    int64_t count = 1;
    for (int64_t dim : dims) count *= dim;
    return count;
  }
};

}  // namespace sluice::model
