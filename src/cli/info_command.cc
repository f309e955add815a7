// `sluice info`: version and build features.

#include <arrow/config.h>
#include <dnnl.hpp>
#include <jpeglib.h>
#include <spng.h>

#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/system_memory.h"
#ifndef SLUICE_WITH_CUDA
#define SLUICE_WITH_CUDA 0
#endif
#if SLUICE_WITH_CUDA
#include "backend/cuda/cuda_devices.h"
#endif

namespace sluice::cli {

namespace {

/// The CUDA lines: versions, then one line per visible GPU (or why there is none).
std::string cudaInfo() {
#if SLUICE_WITH_CUDA
  namespace cuda = backend::cuda;
  const auto& probe = cuda::probeCuda();
  std::string text = "cuda: runtime " + cuda::cudaVersionString(probe.runtimeVersion) + ", cuDNN " +
                     cuda::cudnnVersionString(probe.cudnnVersion) + ", driver " +
                     (probe.driverVersion > 0 ? "CUDA " + cuda::cudaVersionString(probe.driverVersion) : "none") +
                     " (precisions fp32, tf32, fp16, bf16)\n";
  for (const auto& gpu : probe.gpus) {
    text += "gpu " + std::to_string(gpu.index) + ": " + gpu.name + ", " + formatByteSize(gpu.memoryBytes) +
            ", compute capability " + std::to_string(gpu.computeMajor) + "." + std::to_string(gpu.computeMinor) + "\n";
  }
  if (probe.gpus.empty()) text += "gpus: none (" + probe.problem + "); --device auto runs on the CPU\n";
  return text;
#else
  return "cuda: not in this build (nvcc or cuDNN were missing at build time)\n";
#endif
}

void addInfoCommand(CLI::App& root, int& exitCode) {
  auto* info = root.add_subcommand("info", "print the version, backends and library versions of this build");
  info->callback([&exitCode] {
    const auto* dnnl = dnnl::version();
    const auto& arrow = arrow::GetBuildInfo();
    std::cout << "sluice " << SLUICE_VERSION << "\n"
              << "backends: cpu (oneDNN " << dnnl->major << "." << dnnl->minor << "." << dnnl->patch
              << ", fp32)" << (SLUICE_WITH_CUDA ? ", cuda (cuDNN)" : "") << "\n"
              << cudaInfo()
              << "arrow/parquet: " << arrow.version_string << " (S3 support: yes)\n"
              << "image decoders: libjpeg-turbo (JPEG lib " << JPEG_LIB_VERSION << "), libspng "
              << SPNG_VERSION_MAJOR << "." << SPNG_VERSION_MINOR << "." << SPNG_VERSION_PATCH << "\n"
              << "machine: " << std::thread::hardware_concurrency() << " cores, "
              << formatByteSize(physicalMemoryBytes()) << " memory\n";
    exitCode = 0;
  });
}

}  // namespace

SLUICE_REGISTER_COMMAND(addInfoCommand);

}  // namespace sluice::cli
