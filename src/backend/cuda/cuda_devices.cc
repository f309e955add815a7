#include "backend/cuda/cuda_devices.h"

#include <cuda_runtime.h>
#include <cudnn.h>

namespace sluice::backend::cuda {

namespace {

CudaProbe runProbe() {
  CudaProbe probe;
  cudaRuntimeGetVersion(&probe.runtimeVersion);
  cudaDriverGetVersion(&probe.driverVersion);
  probe.cudnnVersion = static_cast<int64_t>(cudnnGetVersion());
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    probe.problem = probe.driverVersion == 0 ? std::string("no NVIDIA driver is loaded")
                                             : std::string("CUDA reports: ") + cudaGetErrorString(error);
    cudaGetLastError();  // clear the error so that later calls start clean
    return probe;
  }
  if (count == 0) {
    probe.problem = "the driver sees no GPU (check CUDA_VISIBLE_DEVICES)";
    return probe;
  }
  // gpus[i] is CUDA device i everywhere else: a GPU that does not answer ends the list there.
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp properties{};
    error = cudaGetDeviceProperties(&properties, index);
    if (error != cudaSuccess) {
      probe.problem = "GPU " + std::to_string(index) + " did not answer a properties query (" +
                      cudaGetErrorString(error) + "); GPUs from " + std::to_string(index) + " on are not used";
      cudaGetLastError();
      break;
    }
    probe.gpus.push_back({index, properties.name, static_cast<int64_t>(properties.totalGlobalMem), properties.major,
                          properties.minor});
  }
  return probe;
}

}  // namespace

const CudaProbe& probeCuda() {
  static const CudaProbe probe = runProbe();
  return probe;
}

std::string cudaVersionString(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string cudnnVersionString(int64_t version) {
  return std::to_string(version / 10000) + "." + std::to_string((version % 10000) / 100) + "." +
         std::to_string(version % 100);
}

}  // namespace sluice::backend::cuda
