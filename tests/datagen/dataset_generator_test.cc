#include "datagen/dataset_generator.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "datagen/photo_library.h"
#include "image/image_decoder.h"
#include "image/test_image_encoding.h"

namespace sluice::datagen {
namespace {

namespace fs = std::filesystem;

struct FileContent {
  int64_t numRows = 0;
  std::vector<int64_t> rowGroupSizes;
  std::shared_ptr<arrow::Schema> schema;
  std::vector<std::vector<uint8_t>> images;
  std::vector<int32_t> labels;
};

FileContent readFile(const fs::path& path) {
  FileContent content;
  auto input = arrow::io::ReadableFile::Open(path.string()).ValueOrDie();
  std::unique_ptr<parquet::arrow::FileReader> reader =
      parquet::arrow::OpenFile(input, arrow::default_memory_pool()).ValueOrDie();
  auto metadata = reader->parquet_reader()->metadata();
  content.numRows = metadata->num_rows();
  for (int i = 0; i < metadata->num_row_groups(); ++i) {
    content.rowGroupSizes.push_back(metadata->RowGroup(i)->num_rows());
  }
  std::shared_ptr<arrow::Table> table = reader->ReadTable().ValueOrDie()->CombineChunks().ValueOrDie();
  content.schema = table->schema();
  auto labels = std::static_pointer_cast<arrow::Int32Array>(table->GetColumnByName("label")->chunk(0));
  if (table->GetColumnByName("image")->type()->id() == arrow::Type::BINARY) {
    auto images = std::static_pointer_cast<arrow::BinaryArray>(table->GetColumnByName("image")->chunk(0));
    for (int64_t row = 0; row < table->num_rows(); ++row) {
      std::string_view bytes = images->GetView(row);
      content.images.emplace_back(bytes.begin(), bytes.end());
      content.labels.push_back(labels->Value(row));
    }
    return content;
  }
  auto images = std::static_pointer_cast<arrow::ListArray>(table->GetColumnByName("image")->chunk(0));
  auto values = std::static_pointer_cast<arrow::UInt8Array>(images->values());
  for (int64_t row = 0; row < table->num_rows(); ++row) {
    const uint8_t* begin = values->raw_values() + images->value_offset(row);
    content.images.emplace_back(begin, begin + images->value_length(row));
    content.labels.push_back(labels->Value(row));
  }
  return content;
}

class DatasetGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("sluice_datagen_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // 25 images of 64x64, 10 per file, row groups of 4.
  DatagenOptions smallOptions(const std::string& name) const {
    DatagenOptions options;
    options.outputDir = (root_ / name).string();
    options.numImages = 25;
    options.imagesPerFile = 10;
    options.rowsPerGroup = 4;
    options.height = 64;
    options.width = 64;
    return options;
  }

  void requireDefaultPhotos() {
    if (!fs::is_directory(defaultPhotoDir())) GTEST_SKIP() << "scikit-image's photos were not found at build time";
  }

  // All pixels of a dataset, file after file.
  std::vector<uint8_t> allPixels(const std::string& directory, int64_t numFiles) {
    std::vector<uint8_t> pixels;
    for (int64_t file = 0; file < numFiles; ++file) {
      for (const auto& image : readFile(fs::path(directory) / datasetFileName(file)).images) {
        pixels.insert(pixels.end(), image.begin(), image.end());
      }
    }
    return pixels;
  }

  fs::path root_;
};

TEST_F(DatasetGeneratorTest, WritesFilesRowGroupsAndSchemaAsAsked) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("out");
  ASSERT_TRUE(generateDataset(options).ok());

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(options.outputDir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"part-00000.parquet", "part-00001.parquet", "part-00002.parquet"}));

  const std::vector<std::vector<int64_t>> expectedGroups = {{4, 4, 2}, {4, 4, 2}, {4, 1}};
  const std::vector<int64_t> expectedRows = {10, 10, 5};
  Result<std::vector<Photo>> photos = loadPhotos(defaultPhotoDir());
  ASSERT_TRUE(photos.ok());
  for (int file = 0; file < 3; ++file) {
    FileContent content = readFile(fs::path(options.outputDir) / names[file]);
    EXPECT_EQ(content.numRows, expectedRows[file]);
    EXPECT_EQ(content.rowGroupSizes, expectedGroups[file]);
    ASSERT_EQ(content.schema->num_fields(), 2);
    EXPECT_EQ(content.schema->field(0)->name(), "image");
    EXPECT_TRUE(content.schema->field(0)->type()->Equals(*arrow::list(arrow::field("item", arrow::uint8(), false))))
        << content.schema->field(0)->type()->ToString();
    EXPECT_EQ(content.schema->field(1)->name(), "label");
    EXPECT_EQ(content.schema->field(1)->type()->id(), arrow::Type::INT32);
    for (size_t row = 0; row < content.images.size(); ++row) {
      EXPECT_EQ(content.images[row].size(), 64u * 64u * 3u);
      EXPECT_GE(content.labels[row], 0);
      EXPECT_LT(content.labels[row], static_cast<int32_t>(photos->size()));
    }
  }
}

// The luma component's sampling factors (h, v) from a JPEG's start-of-frame segment: 2x2 for
// 4:2:0, 2x1 for 4:2:2, 1x1 for 4:4:4 or greyscale; {0, 0} if there is none.
std::pair<int, int> lumaSampling(const std::vector<uint8_t>& jpeg) {
  for (size_t i = 2; i + 4 < jpeg.size();) {
    if (jpeg[i] != 0xFF) return {0, 0};
    const uint8_t marker = jpeg[i + 1];
    const size_t length = (size_t{jpeg[i + 2]} << 8) | jpeg[i + 3];
    const bool startOfFrame = marker >= 0xC0 && marker <= 0xC2;
    if (startOfFrame && i + 11 < jpeg.size()) return {jpeg[i + 11] >> 4, jpeg[i + 11] & 15};
    i += 2 + length;
  }
  return {0, 0};
}

TEST_F(DatasetGeneratorTest, JpegFormatWritesImagenetLikeJpegsAndSomePngs) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("jpeg");
  options.format = ImageFormat::kJpeg;
  options.numImages = 400;
  options.imagesPerFile = 400;
  options.rowsPerGroup = 100;
  ASSERT_TRUE(generateDataset(options).ok());
  FileContent content = readFile(fs::path(options.outputDir) / "part-00000.parquet");
  ASSERT_EQ(content.numRows, 400);
  EXPECT_EQ(content.schema->field(0)->type()->id(), arrow::Type::BINARY);
  EXPECT_EQ(content.schema->field(1)->type()->id(), arrow::Type::INT32);

  int numPng = 0, numGreyscale = 0, minSide = 1 << 30, maxSide = 0, numNotSquare = 0;
  int numFullChroma = 0, numSubsampled = 0;
  double sumWidth = 0, sumHeight = 0, sumBytes = 0, minBytes = 1e30, maxBytes = 0;
  for (const auto& bytes : content.images) {
    Result<image::Image> decoded = image::decodeImage(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.status().toString();
    numPng += bytes[0] == 0x89;
    bool grey = true;
    for (size_t i = 0; i < decoded->pixels.size() && grey; i += 3) {
      grey = decoded->pixels[i] == decoded->pixels[i + 1] && decoded->pixels[i] == decoded->pixels[i + 2];
    }
    numGreyscale += grey;
    minSide = std::min({minSide, decoded->width, decoded->height});
    maxSide = std::max({maxSide, decoded->width, decoded->height});
    numNotSquare += decoded->width != decoded->height;
    sumWidth += decoded->width;
    sumHeight += decoded->height;
    sumBytes += static_cast<double>(bytes.size());
    minBytes = std::min(minBytes, static_cast<double>(bytes.size()));
    maxBytes = std::max(maxBytes, static_cast<double>(bytes.size()));
    if (bytes[0] == 0xFF && !grey) {
      const auto sampling = lumaSampling(bytes);
      numFullChroma += sampling == std::pair{1, 1};
      numSubsampled += sampling == std::pair{2, 2} || sampling == std::pair{2, 1};
    }
  }
  // ImageNet: mean about 470x390, 200 to 1,000 px a side, JPEG except a few PNGs and greyscale.
  EXPECT_NEAR(sumWidth / 400, 470, 50);
  EXPECT_NEAR(sumHeight / 400, 395, 50);
  EXPECT_GE(minSide, 100);
  EXPECT_LE(maxSide, 1000);
  EXPECT_GE(numNotSquare, 350);
  EXPECT_GE(numPng, 3);
  EXPECT_LE(numPng, 30);
  EXPECT_GE(numGreyscale, 2);
  EXPECT_LE(numGreyscale, 25);
  // ImageNet's files: ~100 KB on average, mostly full chroma (see imagenetLikeEncoding).
  EXPECT_GT(sumBytes / 400, 85000);
  EXPECT_LT(sumBytes / 400, 140000);
  EXPECT_LT(minBytes, 20000);
  EXPECT_GT(maxBytes, 300000);
  EXPECT_GT(numFullChroma, numSubsampled);
  EXPECT_GE(numSubsampled, 60);
}

TEST_F(DatasetGeneratorTest, JpegFormatIsDeterministicForASeed) {
  requireDefaultPhotos();
  DatagenOptions first = smallOptions("a");
  first.format = ImageFormat::kJpeg;
  first.numThreads = 1;
  DatagenOptions second = first;
  second.outputDir = (root_ / "b").string();
  second.numThreads = 3;
  DatagenOptions other = first;
  other.outputDir = (root_ / "c").string();
  other.seed = 9;
  ASSERT_TRUE(generateDataset(first).ok());
  ASSERT_TRUE(generateDataset(second).ok());
  ASSERT_TRUE(generateDataset(other).ok());
  for (const char* name : {"part-00000.parquet", "part-00002.parquet"}) {
    FileContent a = readFile(fs::path(first.outputDir) / name);
    FileContent b = readFile(fs::path(second.outputDir) / name);
    FileContent c = readFile(fs::path(other.outputDir) / name);
    EXPECT_EQ(a.images, b.images);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_NE(a.images, c.images);
  }
}

// A slow progress report lets every worker finish while it runs; the total must still be reported.
TEST_F(DatasetGeneratorTest, TheLastProgressReportIsTheTotalEvenWhenReportingIsSlow) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("out");
  std::vector<int64_t> reports;
  ASSERT_TRUE(generateDataset(options, [&](int64_t imagesDone) {
                reports.push_back(imagesDone);
                if (reports.size() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
              }).ok());
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), options.numImages);
  EXPECT_TRUE(std::is_sorted(reports.begin(), reports.end()));
}

TEST_F(DatasetGeneratorTest, DefaultSizeImagesHaveTheBenchmarkLength) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("out");
  options.numImages = 3;
  options.height = 256;
  options.width = 256;
  ASSERT_TRUE(generateDataset(options).ok());
  FileContent content = readFile(fs::path(options.outputDir) / "part-00000.parquet");
  ASSERT_EQ(content.images.size(), 3u);
  EXPECT_EQ(content.images[0].size(), 196608u);
}

TEST_F(DatasetGeneratorTest, SameSeedGivesIdenticalPixelsWhateverTheThreadCount) {
  requireDefaultPhotos();
  DatagenOptions first = smallOptions("first");
  DatagenOptions second = smallOptions("second");
  first.numThreads = 1;
  second.numThreads = 3;
  ASSERT_TRUE(generateDataset(first).ok());
  ASSERT_TRUE(generateDataset(second).ok());
  std::vector<uint8_t> firstPixels = allPixels(first.outputDir, 3);
  EXPECT_EQ(firstPixels.size(), 25u * 64 * 64 * 3);
  EXPECT_EQ(firstPixels, allPixels(second.outputDir, 3));
}

TEST_F(DatasetGeneratorTest, DifferentSeedGivesDifferentPixels) {
  requireDefaultPhotos();
  DatagenOptions first = smallOptions("first");
  DatagenOptions second = smallOptions("second");
  second.seed = 1;
  ASSERT_TRUE(generateDataset(first).ok());
  ASSERT_TRUE(generateDataset(second).ok());
  EXPECT_NE(allPixels(first.outputDir, 3), allPixels(second.outputDir, 3));
}

// Uniform noise has a mean absolute difference of ~85 between neighbours; photographs far less.
TEST_F(DatasetGeneratorTest, ImagesAreSmoothLikePhotosAndNotConstant) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("out");
  ASSERT_TRUE(generateDataset(options).ok());
  for (int64_t file = 0; file < 3; ++file) {
    FileContent content = readFile(fs::path(options.outputDir) / datasetFileName(file));
    for (const std::vector<uint8_t>& image : content.images) {
      double neighbourDifference = 0;
      int64_t pairs = 0;
      for (int y = 0; y < 64; ++y) {
        for (int x = 0; x + 1 < 64; ++x) {
          for (int c = 0; c < 3; ++c) {
            neighbourDifference += std::abs(int(image[(y * 64 + x) * 3 + c]) - int(image[(y * 64 + x + 1) * 3 + c]));
            ++pairs;
          }
        }
      }
      EXPECT_LT(neighbourDifference / pairs, 30.0);
      auto [low, high] = std::minmax_element(image.begin(), image.end());
      EXPECT_GT(int(*high) - int(*low), 20) << "an image is (nearly) constant";
    }
  }
}

TEST_F(DatasetGeneratorTest, LeavesNoTemporaryFiles) {
  requireDefaultPhotos();
  DatagenOptions options = smallOptions("out");
  ASSERT_TRUE(generateDataset(options).ok());
  for (const auto& entry : fs::directory_iterator(options.outputDir)) {
    std::string name = entry.path().filename().string();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
    EXPECT_NE(name[0], '.') << name;
  }
}

TEST_F(DatasetGeneratorTest, MissingPhotoFolderIsAnErrorNamingIt) {
  DatagenOptions options = smallOptions("out");
  options.photoDir = (root_ / "no_such_photos").string();
  Status status = generateDataset(options);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(options.photoDir), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("--photos"), std::string::npos) << status.message();
  EXPECT_FALSE(fs::exists(fs::path(options.outputDir) / "part-00000.parquet"));
}

TEST_F(DatasetGeneratorTest, FolderWithoutImagesIsAnError) {
  fs::create_directories(root_ / "empty");
  std::ofstream(root_ / "empty" / "notes.txt") << "not a photo";
  DatagenOptions options = smallOptions("out");
  options.photoDir = (root_ / "empty").string();
  Status status = generateDataset(options);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("--photos"), std::string::npos) << status.message();
}

// Labels index the photos sorted by file name: with a blue "a.png" and a red "b.png", label 0
// images are blue and label 1 images red.
TEST_F(DatasetGeneratorTest, LabelsIndexPhotosSortedByName) {
  fs::create_directories(root_ / "photos");
  auto writeSolidPng = [&](const std::string& name, uint8_t red, uint8_t blue) {
    std::vector<uint8_t> pixels(40 * 30 * 3);
    for (size_t i = 0; i < pixels.size(); i += 3) {
      pixels[i] = red;
      pixels[i + 1] = 0;
      pixels[i + 2] = blue;
    }
    std::vector<uint8_t> png = image::testing::encodePng(40, 30, image::testing::kPngRgb, 8, pixels.data(), pixels.size());
    std::ofstream(root_ / "photos" / name, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), png.size());
  };
  writeSolidPng("b.png", 255, 0);
  writeSolidPng("a.png", 0, 255);
  std::ofstream(root_ / "photos" / "readme.txt") << "ignored";
  DatagenOptions options = smallOptions("out");
  options.photoDir = (root_ / "photos").string();
  ASSERT_TRUE(generateDataset(options).ok());
  std::set<int32_t> seen;
  for (int64_t file = 0; file < 3; ++file) {
    FileContent content = readFile(fs::path(options.outputDir) / datasetFileName(file));
    for (size_t row = 0; row < content.images.size(); ++row) {
      const int32_t label = content.labels[row];
      seen.insert(label);
      ASSERT_TRUE(label == 0 || label == 1);
      EXPECT_EQ(content.images[row][0], label == 0 ? 0 : 255);
      EXPECT_EQ(content.images[row][2], label == 0 ? 255 : 0);
    }
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(DatasetGeneratorTest, DefaultPhotoLibraryHoldsOnlyPhotographs) {
  requireDefaultPhotos();
  Result<std::vector<Photo>> photos = loadPhotos(defaultPhotoDir());
  ASSERT_TRUE(photos.ok()) << photos.status().toString();
  EXPECT_GE(photos->size(), 10u);
  for (const Photo& photo : *photos) {
    EXPECT_EQ(photo.name.find("chessboard"), std::string::npos);
    EXPECT_EQ(photo.name.find("logo"), std::string::npos);
    EXPECT_EQ(photo.pixels.channels, 3);
  }
}

TEST_F(DatasetGeneratorTest, RejectsInvalidOptions) {
  DatagenOptions options = smallOptions("out");
  options.rowsPerGroup = 0;
  EXPECT_EQ(generateDataset(options).code(), StatusCode::kInvalidArgument);
  options = smallOptions("out");
  options.outputDir.clear();
  EXPECT_EQ(generateDataset(options).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::datagen
