#include "datagen/dataset_generator.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <limits>
#include <thread>
#include <vector>

#include "datagen/photo_library.h"
#include "image/bilinear_resampler.h"
#include "image/image_encoder.h"
#include "io/arrow_status.h"

namespace sluice::datagen {

namespace {

namespace fs = std::filesystem;

// splitmix64: a tiny, well-mixed generator whose output is specified bit for bit, unlike the
// standard library's distributions, so datasets are identical across compilers and platforms.
class Random {
 public:
  explicit Random(uint64_t state) : state_(state) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  /// Uniform integer in [0, bound); bound > 0. The modulo bias is negligible for image sizes.
  int64_t below(int64_t bound) { return static_cast<int64_t>(next() % static_cast<uint64_t>(bound)); }

 private:
  uint64_t state_;
};

// Every image has its own generator derived from (seed, index), so results do not depend on which
// thread makes which image.
Random imageRandom(uint64_t seed, int64_t index) {
  Random mixer(seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(index + 1)));
  return Random(mixer.next());
}

// The crop torchvision's RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3)) picks: up to 10
// tries at a random area and log-uniform aspect ratio, else the largest centred crop whose aspect
// ratio is within bounds.
image::Region randomResizedCrop(Random& random, int width, int height) {
  const double area = static_cast<double>(width) * height;
  const double logMinRatio = std::log(3.0 / 4.0);
  const double logMaxRatio = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double targetArea = area * random.uniform(0.08, 1.0);
    double aspect = std::exp(random.uniform(logMinRatio, logMaxRatio));
    int cropWidth = static_cast<int>(std::lround(std::sqrt(targetArea * aspect)));
    int cropHeight = static_cast<int>(std::lround(std::sqrt(targetArea / aspect)));
    if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
      int top = static_cast<int>(random.below(height - cropHeight + 1));
      int left = static_cast<int>(random.below(width - cropWidth + 1));
      return {double(left), double(top), double(left + cropWidth), double(top + cropHeight)};
    }
  }
  double ratio = static_cast<double>(width) / height;
  int cropWidth = width, cropHeight = height;
  if (ratio < 3.0 / 4.0) {
    cropHeight = static_cast<int>(std::lround(width / (3.0 / 4.0)));
  } else if (ratio > 4.0 / 3.0) {
    cropWidth = static_cast<int>(std::lround(height * (4.0 / 3.0)));
  }
  int top = (height - cropHeight) / 2;
  int left = (width - cropWidth) / 2;
  return {double(left), double(top), double(left + cropWidth), double(top + cropHeight)};
}

void mirrorHorizontally(const image::MutableImageView& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.row(y);
    for (int left = 0, right = image.width - 1; left < right; ++left, --right) {
      std::swap_ranges(row + left * 3, row + left * 3 + 3, row + right * 3);
    }
  }
}

// The size of an ImageNet-like image: ImageNet's most common size is 500x375 (or 375x500); the
// rest spread from ~200 to ~1,000 px on the long side, mostly smaller, mostly landscape.
image::Size imagenetLikeSize(Random& random) {
  int longSide = 500;
  int shortSide = 375;
  if (random.uniform() >= 0.5) {
    longSide = 200 + static_cast<int>(800 * std::pow(random.uniform(), 1.6));
    const double aspect = std::exp(random.uniform(0.0, std::log(2.0)));
    shortSide = std::max(120, static_cast<int>(std::lround(longSide / aspect)));
  }
  const bool landscape = random.uniform() < 0.75;
  return landscape ? image::Size{longSide, shortSide} : image::Size{shortSide, longSide};
}

// The largest crop of the photo with the image's aspect ratio, shrunk to 60%-100% of its area,
// at a random place: the image shows part of the photo, undistorted.
image::Region cropWithAspect(Random& random, int width, int height, double aspect) {
  double cropWidth = width;
  double cropHeight = width / aspect;
  if (cropHeight > height) {
    cropHeight = height;
    cropWidth = height * aspect;
  }
  const double shrink = std::sqrt(random.uniform(0.6, 1.0));
  cropWidth *= shrink;
  cropHeight *= shrink;
  const double left = random.uniform(0.0, width - cropWidth);
  const double top = random.uniform(0.0, height - cropHeight);
  return {left, top, left + cropWidth, top + cropHeight};
}

// How an ImageNet-like JPEG is encoded. A survey of ImageNet's files (DCT coefficients read with
// torchjpeg, "Compression in the ImageNet Dataset", M. Ehrlich) found most of them lightly
// compressed: quality 96 and no chroma subsampling, with a minority of 4:2:0 and 4:2:2. Within the
// issue's range of 75-95, quality is skewed to the top (95 - 20 * u1 * u2: median ~92) and 70% of
// files keep full chroma; encoding them all at 4:2:0 and uniform quality made files ~35% smaller
// than ImageNet's (and decoding a different, cheaper path).
image::JpegEncodeOptions imagenetLikeEncoding(Random& random) {
  image::JpegEncodeOptions options;
  options.quality = 95 - static_cast<int>(21 * random.uniform() * random.uniform());
  const double subsampling = random.uniform();
  options.subsampling = subsampling < 0.7    ? image::ChromaSubsampling::k444
                        : subsampling < 0.95 ? image::ChromaSubsampling::k420
                                             : image::ChromaSubsampling::k422;
  return options;
}

// Sensor-like grain of up to +-amplitude levels: photos re-sampled from a small library are
// smoother than camera images and would encode into unrealistically small JPEGs.
void addGrain(Random& random, image::Image& picture, int amplitude) {
  if (amplitude == 0) return;
  const int span = 2 * amplitude + 1;
  for (uint8_t& value : picture.pixels) {
    const int noisy = value + static_cast<int>(random.next() % static_cast<uint64_t>(span)) - amplitude;
    value = static_cast<uint8_t>(std::clamp(noisy, 0, 255));
  }
}

// Pillow's RGB to L conversion (ITU-R 601-2 luma in 16-bit fixed point).
image::Image toGreyscale(const image::Image& rgb) {
  image::Image grey(rgb.width, rgb.height, 1);
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    const uint8_t* pixel = &rgb.pixels[i * 3];
    grey.pixels[i] = static_cast<uint8_t>((pixel[0] * 19595 + pixel[1] * 38470 + pixel[2] * 7471 + 0x8000) >> 16);
  }
  return grey;
}

// One row group's worth of images, generated straight into Arrow buffers (raw) or as encoded
// files (JPEG/PNG).
struct RowGroup {
  int64_t firstImage = 0;
  int64_t numRows = 0;
  std::shared_ptr<arrow::Buffer> pixels;
  std::shared_ptr<arrow::Buffer> labels;
  std::vector<std::vector<uint8_t>> encoded;
};

class Generator {
 public:
  Generator(const DatagenOptions& options, std::vector<Photo> photos)
      : options_(options), photos_(std::move(photos)) {}

  size_t imageBytes() const { return static_cast<size_t>(options_.height) * options_.width * 3; }

  // Makes images [firstImage, firstImage + numRows) with `numThreads` threads. Thread-safe.
  Result<RowGroup> generate(int64_t firstImage, int64_t numRows, int numThreads) const {
    const bool encoded = options_.format == ImageFormat::kJpeg;
    RowGroup group{firstImage, numRows, nullptr, nullptr, {}};
    if (encoded) {
      group.encoded.resize(numRows);
    } else {
      SLUICE_ASSIGN_OR_RETURN_ARROW(group.pixels, arrow::AllocateBuffer(imageBytes() * numRows),
                                    "allocating image pixels");
    }
    SLUICE_ASSIGN_OR_RETURN_ARROW(group.labels, arrow::AllocateBuffer(sizeof(int32_t) * numRows),
                                  "allocating labels");
    uint8_t* pixels = encoded ? nullptr : group.pixels->mutable_data();
    auto* labels = reinterpret_cast<int32_t*>(group.labels->mutable_data());
    std::atomic<int64_t> nextRow{0};
    std::mutex errorMutex;
    Status firstError;
    auto work = [&] {
      image::BilinearResampler resampler;
      for (int64_t row = nextRow++; row < numRows; row = nextRow++) {
        if (encoded) {
          Result<int32_t> label = makeEncodedImage(firstImage + row, resampler, group.encoded[row]);
          if (!label.ok()) {
            std::lock_guard lock(errorMutex);
            if (firstError.ok()) firstError = label.status();
            continue;
          }
          labels[row] = *label;
        } else {
          // Errors cannot happen here: regions come from randomResizedCrop and sizes were validated.
          labels[row] = makeImage(firstImage + row, resampler, pixels + imageBytes() * row);
        }
      }
    };
    std::vector<std::thread> threads;
    for (int i = 1; i < numThreads; ++i) threads.emplace_back(work);
    work();
    for (std::thread& thread : threads) thread.join();
    SLUICE_RETURN_IF_ERROR(firstError);
    return group;
  }

 private:
  int32_t makeImage(int64_t index, image::BilinearResampler& resampler, uint8_t* output) const {
    Random random = imageRandom(options_.seed, index);
    const int32_t label = static_cast<int32_t>(random.below(static_cast<int64_t>(photos_.size())));
    const image::Image& photo = photos_[label].pixels;
    image::Region crop = randomResizedCrop(random, photo.width, photo.height);
    const bool mirror = random.next() & 1;
    image::MutableImageView destination{output, options_.width, options_.height, 3,
                                        static_cast<size_t>(options_.width) * 3};
    (void)resampler.resize(photo.view(), crop, destination);
    if (mirror) mirrorHorizontally(destination);
    return label;
  }

  // An ImageNet-like encoded image. The label is the image's first random draw, as in the raw
  // format, so both formats of one seed have the same labels.
  Result<int32_t> makeEncodedImage(int64_t index, image::BilinearResampler& resampler,
                                   std::vector<uint8_t>& bytes) const {
    Random random = imageRandom(options_.seed, index);
    const int32_t label = static_cast<int32_t>(random.below(static_cast<int64_t>(photos_.size())));
    const image::Image& photo = photos_[label].pixels;
    const image::Size size = imagenetLikeSize(random);
    const image::Region crop = cropWithAspect(random, photo.width, photo.height, double(size.width) / size.height);
    const bool mirror = random.next() & 1;
    const image::JpegEncodeOptions encoding = imagenetLikeEncoding(random);
    const double kind = random.uniform();
    const bool png = kind < 0.03;
    const bool greyscale = kind >= 0.03 && kind < 0.05;
    const int grain = 6 + static_cast<int>(random.below(11));

    image::Image picture(size.width, size.height, 3);
    SLUICE_RETURN_IF_ERROR(resampler.resize(photo.view(), crop, picture.mutableView()));
    if (mirror) mirrorHorizontally(picture.mutableView());
    addGrain(random, picture, grain);
    if (greyscale) picture = toGreyscale(picture);
    SLUICE_ASSIGN_OR_RETURN(bytes, png ? image::encodePng(picture.view()) : image::encodeJpeg(picture.view(), encoding));
    return label;
  }

  const DatagenOptions& options_;
  std::vector<Photo> photos_;
};

Status validate(const DatagenOptions& options) {
  if (options.outputDir.empty()) return Status::InvalidArgument("no output folder given (--out DIR)");
  if (options.numImages < 1) return Status::InvalidArgument("--images must be at least 1");
  if (options.imagesPerFile < 1) return Status::InvalidArgument("--images-per-file must be at least 1");
  if (options.rowsPerGroup < 1) return Status::InvalidArgument("--rows-per-group must be at least 1");
  if (options.height < 1 || options.width < 1 || options.height > 16384 || options.width > 16384) {
    return Status::InvalidArgument("--height and --width must be between 1 and 16384");
  }
  // list<uint8> offsets are int32: a row group's pixels must stay below 2 GiB.
  const int64_t groupRows = std::min(options.rowsPerGroup, options.imagesPerFile);
  if (int64_t{options.height} * options.width * 3 * groupRows > std::numeric_limits<int32_t>::max()) {
    return Status::InvalidArgument("--rows-per-group too large for " + std::to_string(options.width) +
                                   "x" + std::to_string(options.height) +
                                   " images: a row group must hold less than 2 GiB of pixels");
  }
  return Status::OK();
}

std::shared_ptr<arrow::Schema> datasetSchema(ImageFormat format) {
  auto imageType = format == ImageFormat::kJpeg ? arrow::binary()
                                                : arrow::list(arrow::field("item", arrow::uint8(), false));
  return arrow::schema({arrow::field("image", imageType, false), arrow::field("label", arrow::int32(), false)});
}

std::shared_ptr<parquet::WriterProperties> writerProperties(ImageFormat format) {
  // JPEG and PNG bytes are already compressed: Snappy would only cost time on them.
  if (format == ImageFormat::kJpeg) {
    return parquet::WriterProperties::Builder()
        .disable_dictionary()
        ->compression(parquet::Compression::SNAPPY)
        ->compression("image", parquet::Compression::UNCOMPRESSED)
        ->disable_statistics()
        ->enable_statistics("label")
        ->build();
  }
  // Parquet has no 8-bit physical type: uint8 values are stored as INT32, 4 bytes each (13 GB for
  // the default dataset). Written as pyarrow and Spark write by default -- dictionary-encoded (at
  // most 256 distinct values: one byte per value) then Snappy -- an image takes ~150 KB, and
  // reading it costs about half the CPU of plain INT32 pages under Snappy (~290 KB): 0.41 vs 0.89
  // ms per image on one core (bench/results/cpu_read.md). Pixel statistics would only cost time.
  return parquet::WriterProperties::Builder()
      .compression(parquet::Compression::SNAPPY)
      ->disable_statistics()
      ->enable_statistics("label")
      ->build();
}

// Writes one file under a temporary name; on success renames it to its final name.
class FileWriter {
 public:
  static Result<std::unique_ptr<FileWriter>> Open(const fs::path& finalPath, ImageFormat format) {
    const std::shared_ptr<arrow::Schema> schema = datasetSchema(format);
    auto writer = std::unique_ptr<FileWriter>(new FileWriter());
    writer->finalPath_ = finalPath;
    std::string temporaryName = ".";  // appended, not "." + name: GCC 12 warns falsely on that
    temporaryName += finalPath.filename().string();
    temporaryName += ".tmp";
    writer->temporaryPath_ = finalPath.parent_path() / temporaryName;
    const std::string temporary = writer->temporaryPath_.string();
    SLUICE_ASSIGN_OR_RETURN_ARROW(writer->stream_, arrow::io::FileOutputStream::Open(temporary),
                                  "creating " + temporary);
    auto arrowProperties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
    SLUICE_ASSIGN_OR_RETURN_ARROW(
        writer->writer_,
        parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(), writer->stream_,
                                         writerProperties(format), arrowProperties),
        "starting Parquet file " + temporary);
    return writer;
  }

  ~FileWriter() {
    if (committed_) return;
    if (writer_) (void)writer_->Close();
    if (stream_ && !stream_->closed()) (void)stream_->Close();
    std::error_code ignored;
    fs::remove(temporaryPath_, ignored);
  }

  Status writeRowGroup(const RowGroup& group, size_t imageBytes) {
    const std::string context = "writing " + temporaryPath_.string();
    if (!group.encoded.empty()) return writeEncodedRowGroup(group, context);
    SLUICE_ASSIGN_OR_RETURN_ARROW(std::shared_ptr<arrow::Buffer> offsets,
                                  arrow::AllocateBuffer(sizeof(int32_t) * (group.numRows + 1)), context);
    auto* offsetValues = reinterpret_cast<int32_t*>(offsets->mutable_data());
    for (int64_t row = 0; row <= group.numRows; ++row) offsetValues[row] = static_cast<int32_t>(row * imageBytes);
    auto values = std::make_shared<arrow::UInt8Array>(static_cast<int64_t>(imageBytes) * group.numRows, group.pixels);
    auto type = arrow::list(arrow::field("item", arrow::uint8(), false));
    arrow::ListArray images(type, group.numRows, offsets, values);
    arrow::Int32Array labels(group.numRows, group.labels);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->NewRowGroup(), context);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->WriteColumnChunk(images), context);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->WriteColumnChunk(labels), context);
    return Status::OK();
  }

  Status writeEncodedRowGroup(const RowGroup& group, const std::string& context) {
    arrow::BinaryBuilder images;
    for (const auto& bytes : group.encoded) {
      SLUICE_RETURN_IF_ARROW_ERROR(images.Append(bytes.data(), static_cast<int32_t>(bytes.size())), context);
    }
    std::shared_ptr<arrow::Array> imageArray;
    SLUICE_RETURN_IF_ARROW_ERROR(images.Finish(&imageArray), context);
    arrow::Int32Array labels(group.numRows, group.labels);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->NewRowGroup(), context);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->WriteColumnChunk(*imageArray), context);
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->WriteColumnChunk(labels), context);
    return Status::OK();
  }

  /// Finishes the file and gives it its final name; returns its size in bytes.
  Result<int64_t> commit() {
    const std::string context = "finishing " + temporaryPath_.string();
    SLUICE_RETURN_IF_ARROW_ERROR(writer_->Close(), context);
    SLUICE_RETURN_IF_ARROW_ERROR(stream_->Close(), context);
    std::error_code error;
    fs::rename(temporaryPath_, finalPath_, error);
    if (error) {
      return Status::IoError("cannot rename " + temporaryPath_.string() + " to " + finalPath_.string() +
                             ": " + error.message());
    }
    committed_ = true;
    int64_t size = static_cast<int64_t>(fs::file_size(finalPath_, error));
    return error ? 0 : size;
  }

 private:
  FileWriter() = default;

  fs::path finalPath_;
  fs::path temporaryPath_;
  std::shared_ptr<arrow::io::FileOutputStream> stream_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
  bool committed_ = false;
};

}  // namespace

std::string datasetFileName(int64_t index) {
  char name[64];
  std::snprintf(name, sizeof(name), "part-%05lld.parquet", static_cast<long long>(index));
  return name;
}

namespace {

// Generates and writes whole files; files are independent, so workers take them one at a time.
// The first error wins and stops the other workers after their current row group.
class DatasetWriter {
 public:
  DatasetWriter(const DatagenOptions& options, const Generator& generator, int numWorkers, int threadsPerWorker)
      : options_(options), generator_(generator), numWorkers_(numWorkers), threadsPerWorker_(threadsPerWorker),
        numFiles_((options.numImages + options.imagesPerFile - 1) / options.imagesPerFile) {}

  Status run(const std::function<void(int64_t imagesDone)>& onProgress) {
    std::vector<std::thread> workers;
    for (int i = 0; i < numWorkers_; ++i) workers.emplace_back([this] { work(); });
    int64_t reported = 0;
    {
      // Progress is looked at before the finish, and again after each report: the workers may write
      // the last rows and finish while a report runs, and the total must still be reported.
      std::unique_lock lock(mutex_);
      while (true) {
        if (onProgress && imagesDone_ != reported && firstError_.ok()) {
          reported = imagesDone_;
          lock.unlock();
          onProgress(reported);
          lock.lock();
          continue;
        }
        if (finishedWorkers_ == numWorkers_) break;
        changed_.wait(lock);
      }
    }
    for (std::thread& worker : workers) worker.join();
    return firstError_;
  }

 private:
  void work() {
    for (int64_t file = nextFile_++; file < numFiles_ && !failed_; file = nextFile_++) {
      Status status = writeFile(file);
      if (!status.ok()) {
        std::lock_guard lock(mutex_);
        if (firstError_.ok()) firstError_ = status;
        failed_ = true;
        break;
      }
    }
    std::lock_guard lock(mutex_);
    ++finishedWorkers_;
    changed_.notify_all();
  }

  Status writeFile(int64_t file) {
    const int64_t first = file * options_.imagesPerFile;
    const int64_t end = std::min(first + options_.imagesPerFile, options_.numImages);
    SLUICE_ASSIGN_OR_RETURN(
        std::unique_ptr<FileWriter> writer,
        FileWriter::Open(fs::path(options_.outputDir) / datasetFileName(file), options_.format));
    for (int64_t group = first; group < end; group += options_.rowsPerGroup) {
      if (failed_) return Status::Cancelled("another file failed");
      const int64_t numRows = std::min(options_.rowsPerGroup, end - group);
      SLUICE_ASSIGN_OR_RETURN(RowGroup rows, generator_.generate(group, numRows, threadsPerWorker_));
      SLUICE_RETURN_IF_ERROR(writer->writeRowGroup(rows, generator_.imageBytes()));
      std::lock_guard lock(mutex_);
      imagesDone_ += numRows;
      changed_.notify_all();
    }
    return writer->commit().status();
  }

  const DatagenOptions& options_;
  const Generator& generator_;
  const int numWorkers_;
  const int threadsPerWorker_;
  const int64_t numFiles_;
  std::atomic<int64_t> nextFile_{0};
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  int finishedWorkers_ = 0;  // guarded by mutex_
  int64_t imagesDone_ = 0;   // guarded by mutex_
  Status firstError_;        // guarded by mutex_
};

}  // namespace

Status generateDataset(const DatagenOptions& options, const std::function<void(int64_t imagesDone)>& onProgress) {
  SLUICE_RETURN_IF_ERROR(validate(options));
  const std::string photoDir = options.photoDir.empty() ? defaultPhotoDir() : options.photoDir;
  SLUICE_ASSIGN_OR_RETURN(std::vector<Photo> photos, loadPhotos(photoDir));
  std::error_code error;
  fs::create_directories(options.outputDir, error);
  if (error) return Status::IoError("cannot create output folder " + options.outputDir + ": " + error.message());

  // One worker per file while there are enough files (generation and encoding then run in
  // parallel without coordination); with fewer files than threads, each worker's row groups are
  // generated by several threads.
  const int numThreads = options.numThreads > 0
                             ? options.numThreads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t numFiles = (options.numImages + options.imagesPerFile - 1) / options.imagesPerFile;
  const int numWorkers = static_cast<int>(std::min<int64_t>(numThreads, numFiles));
  const int threadsPerWorker = std::max(1, numThreads / numWorkers);
  const Generator generator(options, std::move(photos));
  DatasetWriter writer(options, generator, numWorkers, threadsPerWorker);
  return writer.run(onProgress);
}

}  // namespace sluice::datagen
