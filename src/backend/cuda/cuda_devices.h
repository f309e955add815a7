#pragma once
// What CUDA sees on this machine, for `sluice info`, `--device auto` and clear errors. The header
// has no CUDA includes so that the engine and the CLI can use it.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::backend::cuda {

struct GpuInfo {
  int index = 0;
  std::string name;
  int64_t memoryBytes = 0;
  int computeMajor = 0;
  int computeMinor = 0;
};

struct CudaProbe {
  int runtimeVersion = 0;      // the CUDA runtime sluice was built with, e.g. 13000
  int driverVersion = 0;       // highest CUDA version the driver supports; 0: no driver
  int64_t cudnnVersion = 0;    // e.g. 91900
  std::vector<GpuInfo> gpus;   // visible and usable
  std::string problem;         // why there are no GPUs ("" when there are)
};

/// Asks the CUDA runtime once per process and remembers the answer.
const CudaProbe& probeCuda();

/// "13.0" from 13000.
std::string cudaVersionString(int version);
/// "9.19.0" from 91900.
std::string cudnnVersionString(int64_t version);

}  // namespace sluice::backend::cuda
