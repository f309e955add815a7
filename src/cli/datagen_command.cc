// `sluice datagen`: writes the benchmark's seed dataset (raw 256x256x3 images in Parquet), every
// image cut from a real photograph, so benchmarks run on data that looks like their real input.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "datagen/dataset_generator.h"

namespace sluice::cli {

namespace {

struct DatagenCommandOptions {
  datagen::DatagenOptions dataset;
  std::string format = "raw";
  bool progress = false;
};

Status runDatagen(const DatagenCommandOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  datagen::DatagenOptions dataset = options.dataset;
  dataset.format = options.format == "jpeg" ? datagen::ImageFormat::kJpeg : datagen::ImageFormat::kRaw;
  auto reportProgress = [&](int64_t imagesDone) {
    if (!options.progress) return;
    std::fprintf(stderr, "\rdatagen: %lld / %lld images", static_cast<long long>(imagesDone),
                 static_cast<long long>(dataset.numImages));
    if (imagesDone == dataset.numImages) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
  SLUICE_RETURN_IF_ERROR(datagen::generateDataset(dataset, reportProgress));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const int64_t numFiles = (dataset.numImages + dataset.imagesPerFile - 1) / dataset.imagesPerFile;
  uintmax_t bytes = 0;
  for (int64_t file = 0; file < numFiles; ++file) {
    std::error_code error;
    uintmax_t size = std::filesystem::file_size(
        std::filesystem::path(dataset.outputDir) / datagen::datasetFileName(file), error);
    if (!error) bytes += size;
  }
  std::printf("datagen: wrote %lld files, %lld images, %llu bytes (%.1f KB per image) to %s in %.1f s\n",
              static_cast<long long>(numFiles), static_cast<long long>(dataset.numImages),
              static_cast<unsigned long long>(bytes), bytes / 1000.0 / dataset.numImages,
              dataset.outputDir.c_str(), seconds);
  return Status::OK();
}

void addDatagenCommand(CLI::App& root, int& exitCode) {
  auto options = std::make_shared<DatagenCommandOptions>();
  datagen::DatagenOptions& dataset = options->dataset;
  CLI::App* command = root.add_subcommand(
      "datagen", "Generate a benchmark dataset of raw RGB images cut from real photographs");
  command->add_option("--out", dataset.outputDir, "Output folder (created if missing)")->required();
  command->add_option("--images", dataset.numImages, "Number of images")
      ->capture_default_str()->check(wholeNumberAtLeast(1));
  command->add_option("--images-per-file", dataset.imagesPerFile, "Images per Parquet file")
      ->capture_default_str()->check(wholeNumberAtLeast(1));
  command->add_option("--rows-per-group", dataset.rowsPerGroup, "Rows per Parquet row group")
      ->capture_default_str()->check(wholeNumberAtLeast(1));
  command->add_option("--format", options->format,
                      "Image encoding in the `image` column: raw (list<uint8> pixels, --height x --width) or "
                      "jpeg (binary JPEG/PNG bytes of ImageNet-like sizes)")
      ->capture_default_str()->check(CLI::IsMember({"raw", "jpeg"}));
  command->add_option("--seed", dataset.seed, "Random seed (same seed, same pixels)")->capture_default_str();
  command->add_option("--photos", dataset.photoDir,
                      "Folder of PNG/JPEG photos to cut images from (default: scikit-image's sample photos)");
  command->add_option("--height", dataset.height, "Image height")
      ->capture_default_str()->check(CLI::Range(1, 16384));
  command->add_option("--width", dataset.width, "Image width")
      ->capture_default_str()->check(CLI::Range(1, 16384));
  command->add_option("--threads", dataset.numThreads, "Threads generating pixels (0 = all cores)")
      ->capture_default_str()->check(wholeNumberAtLeast(0));
  command->add_flag("--progress", options->progress, "Print progress on stderr");
  command->callback([options, &exitCode] { exitCode = reportStatus(runDatagen(*options)); });
}

}  // namespace

SLUICE_REGISTER_COMMAND(addDatagenCommand);

}  // namespace sluice::cli
