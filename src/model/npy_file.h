#pragma once
// Reading and writing float32 NumPy .npy files (C order), the tensor format of `sluice model-run`.

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/status.h"

namespace sluice::model {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
};

/// Reads a little-endian float32, C-order .npy file (format versions 1 to 3).
Result<NpyArray> readNpyFile(const std::string& path);

/// Writes `data` (C order, product(shape) floats) as a version 1 .npy file.
Status writeNpyFile(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace sluice::model
