#pragma once
// Generates the benchmark's "seed" dataset: Parquet files of already-decoded images (one
// list<uint8> column of HWC RGB pixels plus an int32 label), every image cut from a real photo.

#include <cstdint>
#include <functional>
#include <string>

#include "sluice/status.h"

namespace sluice::datagen {

/// How the `image` column stores images.
enum class ImageFormat {
  kRaw,   // list<uint8> of height*width*3 HWC RGB values, every image the same size
  kJpeg,  // binary JPEG (a few PNG) bytes of ImageNet-like sizes, as real datasets store them
};

/// What to generate. The defaults reproduce the benchmark's "10 GB" dataset (16,232 images).
struct DatagenOptions {
  std::string outputDir;
  int64_t numImages = 16232;
  int64_t imagesPerFile = 1000;
  int64_t rowsPerGroup = 100;
  uint64_t seed = 0;
  std::string photoDir;  // empty = scikit-image's sample photographs
  int height = 256;
  int width = 256;
  int numThreads = 0;  // threads generating pixels; 0 = one per hardware thread
  ImageFormat format = ImageFormat::kRaw;  // kJpeg ignores height and width
};

/// With ImageFormat::kJpeg the `image` column is binary instead: each image is a crop of a photo
/// at an ImageNet-like size (half are 500x375 or 375x500, the rest have a long side of 200 to 1,000
/// px and an aspect ratio of 1 to 2; 3/4 landscape), with seeded sensor-like grain, encoded as a
/// JPEG of quality 75 to 95 (libjpeg-turbo, 4:2:0), except 3% PNGs (libspng); 2% are greyscale.
/// Writes part-00000.parquet, part-00001.parquet, ... into options.outputDir (created if missing),
/// `imagesPerFile` rows each (the last one fewer) in row groups of `rowsPerGroup` rows, with columns
/// `image` (list<uint8>, height*width*3 HWC RGB values) and `label` (int32, the index of the source
/// photo in the sorted photo list). Each image is a seeded random photo, randomly cropped (8%-100%
/// of its area, aspect 3/4-4/3), randomly mirrored and resized with Pillow's BILINEAR filter; the
/// same options always give the same pixels, whatever the thread count. Each file is written
/// under a temporary name (.part-NNNNN.parquet.tmp) and renamed when complete, so an interrupted
/// run leaves no partial file. `onProgress`, if set, is called from the calling thread with the
/// number of images written so far.
Status generateDataset(const DatagenOptions& options,
                       const std::function<void(int64_t imagesDone)>& onProgress = {});

/// The name of the `index`-th file: "part-00000.parquet" for 0.
std::string datasetFileName(int64_t index);

}  // namespace sluice::datagen
