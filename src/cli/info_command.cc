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

namespace sluice::cli {

namespace {

void addInfoCommand(CLI::App& root, int& exitCode) {
  auto* info = root.add_subcommand("info", "print the version, backends and library versions of this build");
  info->callback([&exitCode] {
    const auto* dnnl = dnnl::version();
    const auto& arrow = arrow::GetBuildInfo();
    std::cout << "sluice " << SLUICE_VERSION << "\n"
              << "backends: cpu (oneDNN " << dnnl->major << "." << dnnl->minor << "." << dnnl->patch
              << ", fp32)\n"
              << "cuda: not in this build\n"
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
