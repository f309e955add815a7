// `sluice datagen`: writes the benchmark's seed dataset (raw 256x256x3 images in Parquet), every
// image cut from a real photograph, so benchmarks run on data that looks like their real input.

#include <unistd.h>

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
  bool noProgress = false;
  bool sizeGiven = false;  // --height or --width
};

Status runDatagen(const DatagenCommandOptions& options) {
  if (options.format == "jpeg" && options.sizeGiven) {
    return Status::InvalidArgument("--height and --width size raw images; --format jpeg draws ImageNet-like sizes "
                                   "(about 200 to 1,000 px a side) by itself");
  }
  const auto start = std::chrono::steady_clock::now();
  datagen::DatagenOptions dataset = options.dataset;
  dataset.format = options.format == "jpeg" ? datagen::ImageFormat::kJpeg : datagen::ImageFormat::kRaw;
  // On a terminal one line rewritten in place; in a log a line per tenth of the images.
  const bool terminal = isatty(STDERR_FILENO);
  const bool progress = options.progress || (terminal && !options.noProgress);
  int64_t lastTenth = 0;
  auto reportProgress = [&](int64_t imagesDone) {
    if (!progress) return;
    const int64_t tenth = imagesDone * 10 / dataset.numImages;
    if (!terminal && tenth == lastTenth) return;
    lastTenth = tenth;
    std::fprintf(stderr, terminal ? "\rdatagen: %lld / %lld images" : "datagen: %lld / %lld images\n",
                 static_cast<long long>(imagesDone), static_cast<long long>(dataset.numImages));
    if (terminal && imagesDone == dataset.numImages) std::fputc('\n', stderr);
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
  // Files of an earlier, larger run stay beside the new ones; a reader of the folder would mix them.
  int64_t older = 0;
  for (int64_t file = numFiles;; ++file) {
    std::error_code error;
    if (!std::filesystem::exists(std::filesystem::path(dataset.outputDir) / datagen::datasetFileName(file), error)) {
      break;
    }
    ++older;
  }
  if (older > 0) {
    std::fprintf(stderr, "datagen: warning: %s also holds %lld older file(s) from %s on, not written by this run\n",
                 dataset.outputDir.c_str(), static_cast<long long>(older),
                 datagen::datasetFileName(numFiles).c_str());
  }
  return Status::OK();
}

void addDatagenCommand(CLI::App& root, int& exitCode) {
  auto options = std::make_shared<DatagenCommandOptions>();
  datagen::DatagenOptions& dataset = options->dataset;
  CLI::App* command = root.add_subcommand(
      "datagen", "Generate a benchmark dataset cut from real photographs: raw RGB pixels (the benchmark's "
                 "format) or ImageNet-like JPEG/PNG bytes");
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
  auto* height = command->add_option("--height", dataset.height, "Image height (raw format)")
                     ->capture_default_str()->check(CLI::Range(1, 16384));
  auto* width = command->add_option("--width", dataset.width, "Image width (raw format)")
                    ->capture_default_str()->check(CLI::Range(1, 16384));
  command->add_option("--threads", dataset.numThreads, "Threads generating pixels (0 = all cores)")
      ->capture_default_str()->check(wholeNumberAtLeast(0));
  auto* progress =
      command->add_flag("--progress", options->progress, "Print progress on stderr (default: when it is a terminal)");
  command->add_flag("--no-progress", options->noProgress, "No progress")->excludes(progress);
  command->callback([options, height, width, &exitCode] {
    options->sizeGiven = height->count() > 0 || width->count() > 0;
    exitCode = reportStatus(runDatagen(*options));
  });
}

}  // namespace

SLUICE_REGISTER_COMMAND(addDatagenCommand);

}  // namespace sluice::cli
