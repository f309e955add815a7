// Raw-pixel list columns read two ways: streamed from the Parquet pages
// (io::ParquetImageFile::streamPixels + StreamedRowCropper) and through Arrow's list arrays
// (readRowGroup + RowDecoder). Both must give the same crops and the same reasons, row by row,
// whatever the list's nullability, page size or row group layout.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/api/writer.h>
#include <parquet/arrow/writer.h>

#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/row_decoder.h"
#include "io/input_listing.h"
#include "io/parquet_image_file.h"
#include "io/storage.h"

namespace sluice::engine {
namespace {

using Pixels = std::optional<std::vector<std::optional<uint8_t>>>;  // nullopt: a null row

Pixels randomPixels(int64_t count, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::optional<uint8_t>> values(static_cast<size_t>(count));
  for (auto& value : values) value = static_cast<uint8_t>(random());
  return values;
}

struct ColumnLayout {
  bool largeList = false;
  bool nullableList = false;
  bool nullableValues = false;
  bool dictionary = false;  // dictionary-encoded pages, as pyarrow and Spark write by default
};

template <typename ListBuilder>
std::shared_ptr<arrow::Array> buildList(const std::vector<Pixels>& rows, const std::shared_ptr<arrow::DataType>& type) {
  auto values = std::make_shared<arrow::UInt8Builder>();
  ListBuilder builder(arrow::default_memory_pool(), values, type);
  for (const auto& row : rows) {
    if (!row) {
      EXPECT_TRUE(builder.AppendNull().ok());
      continue;
    }
    EXPECT_TRUE(builder.Append().ok());
    for (const auto& value : *row) EXPECT_TRUE((value ? values->Append(*value) : values->AppendNull()).ok());
  }
  std::shared_ptr<arrow::Array> array;
  EXPECT_TRUE(builder.Finish(&array).ok());
  return array;
}

class StreamedPixelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_streamed_pixels_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `rows` as the image column (plus an id column) with Snappy, small pages and
  // `rowsPerGroup`-row groups, and opens it as the engine does.
  std::unique_ptr<io::ParquetImageFile> write(const std::vector<Pixels>& rows, ColumnLayout layout,
                                              int64_t rowsPerGroup, int64_t pageBytes) {
    auto valueField = arrow::field("element", arrow::uint8(), layout.nullableValues);
    auto listType = layout.largeList ? arrow::large_list(valueField) : arrow::list(valueField);
    std::shared_ptr<arrow::Array> images =
        layout.largeList ? buildList<arrow::LargeListBuilder>(rows, listType) : buildList<arrow::ListBuilder>(rows, listType);
    arrow::Int64Builder ids;
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_TRUE(ids.Append(static_cast<int64_t>(i) * 10).ok());
    std::shared_ptr<arrow::Array> idArray;
    EXPECT_TRUE(ids.Finish(&idArray).ok());
    auto schema = arrow::schema(
        {arrow::field("image", listType, layout.nullableList), arrow::field("id", arrow::int64(), false)});
    auto table = arrow::Table::Make(schema, {images, idArray});

    const std::string path = (dir_ / "images.parquet").string();
    auto sink = arrow::io::FileOutputStream::Open(path);
    EXPECT_TRUE(sink.ok());
    parquet::WriterProperties::Builder properties;
    properties.compression(parquet::Compression::SNAPPY)->data_pagesize(pageBytes);
    if (!layout.dictionary) properties.disable_dictionary();
    EXPECT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *sink, rowsPerGroup,
                                           properties.build()).ok());
    EXPECT_TRUE((*sink)->Close().ok());

    return open(path, {"id"});
  }

  // Opens `path` as the engine does (listing, footer, column checks); null on failure.
  static std::unique_ptr<io::ParquetImageFile> open(const std::string& path, const std::vector<std::string>& extra) {
    auto location = io::resolveLocation(path, {});
    EXPECT_TRUE(location.ok());
    if (!location.ok()) return nullptr;
    auto files = io::listInputFiles(*location);
    EXPECT_TRUE(files.ok());
    if (!files.ok()) return nullptr;
    auto file = io::ParquetImageFile::Open(*location, files->at(0), "image", extra);
    EXPECT_TRUE(file.ok()) << file.status().message();
    return file.ok() ? std::move(*file) : nullptr;
  }

  struct Decoded {
    std::vector<uint8_t> crops;
    std::vector<std::string> errors;
  };

  Decoded streamed(const io::ParquetImageFile& file, int rowGroup, int64_t maxRows) {
    const auto rows = std::min(maxRows, file.rowGroupRows(rowGroup));
    Decoded decoded{std::vector<uint8_t>(rows * decoder_->cropBytes(), 0xEE), std::vector<std::string>(rows)};
    StreamedRowCropper cropper(*decoder_, decoded.crops.data(), decoded.errors);
    Status status = file.streamPixels(rowGroup, maxRows, cropper);
    EXPECT_TRUE(status.ok()) << status.message();
    return decoded;
  }

  Decoded throughArrow(const io::ParquetImageFile& file, int rowGroup) {
    const auto rows = file.rowGroupRows(rowGroup);
    Decoded decoded{std::vector<uint8_t>(rows * decoder_->cropBytes(), 0), std::vector<std::string>(rows)};
    auto batches = file.readRowGroup(rowGroup, 3);
    EXPECT_TRUE(batches.ok());
    int64_t row = 0;
    std::shared_ptr<arrow::RecordBatch> batch;
    while ((*batches)->ReadNext(&batch).ok() && batch) {
      auto images = batch->GetColumnByName("image");
      for (int64_t i = 0; i < batch->num_rows(); ++i, ++row) {
        decoded.errors[row] = decoder_->decode(*images, i, decoded.crops.data() + row * decoder_->cropBytes());
      }
    }
    EXPECT_EQ(row, rows);
    return decoded;
  }

  void expectSameAsArrow(const io::ParquetImageFile& file) {
    for (int group = 0; group < file.numRowGroups(); ++group) {
      const Decoded expected = throughArrow(file, group);
      const Decoded actual = streamed(file, group, file.rowGroupRows(group));
      EXPECT_EQ(actual.errors, expected.errors) << "row group " << group;
      EXPECT_TRUE(actual.crops == expected.crops) << "row group " << group;
    }
  }

  void useShape(image::ImageShape shape, int cropSize) {
    decoder_ = std::make_unique<RowDecoder>(
        shape, image::ResizeCropOptions{.resizeSize = cropSize, .cropSize = cropSize, .dctScalingMargin = 0});
  }

  std::filesystem::path dir_;
  std::unique_ptr<RowDecoder> decoder_ = std::make_unique<RowDecoder>(
      image::ImageShape{20, 16, 3}, image::ResizeCropOptions{.resizeSize = 12, .cropSize = 12, .dctScalingMargin = 0});
};

TEST_F(StreamedPixelsTest, FullSizeImagesAcrossPagesChunksAndRowGroups) {
  // 256x256x3 = 196,608 values per row: every row spans several 64 KiB pages and the reader's
  // 65,536-level batches.
  useShape({256, 256, 3}, 224);
  std::vector<Pixels> rows;
  for (uint32_t i = 0; i < 5; ++i) rows.push_back(randomPixels(256 * 256 * 3, i));
  auto dictionaryFile = write(rows, {.dictionary = true}, 2, 64 << 10);
  ASSERT_TRUE(dictionaryFile);
  EXPECT_TRUE(dictionaryFile->canStreamPixels());
  expectSameAsArrow(*dictionaryFile);
  auto file = write(rows, {}, 2, 64 << 10);
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->canStreamPixels());
  EXPECT_EQ(file->numRowGroups(), 3);
  expectSameAsArrow(*file);
  // Spot check against the pixels written: crop (0, 0) is image pixel (16, 16).
  const Decoded first = streamed(*file, 0, 2);
  EXPECT_EQ(first.errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(first.crops[0], *(*rows[0])[(16 * 256 + 16) * 3]);
  EXPECT_EQ(first.crops[decoder_->cropBytes() - 1], *(*rows[0])[(239 * 256 + 239) * 3 + 2]);
}

TEST_F(StreamedPixelsTest, BadRowsGetTheSameReasonsAsThroughArrow) {
  const int64_t size = 20 * 16 * 3;
  Pixels onePixelNull = randomPixels(size, 9);
  (*onePixelNull)[100] = std::nullopt;
  std::vector<Pixels> rows = {randomPixels(size, 1), std::nullopt, std::vector<std::optional<uint8_t>>{},
                              randomPixels(size - 1, 2), randomPixels(size + 1, 3), onePixelNull,
                              randomPixels(size, 4)};
  for (bool largeList : {false, true}) {
    auto file = write(rows, {.largeList = largeList, .nullableList = true, .nullableValues = true, .dictionary = largeList},
                      100, 1 << 10);
    ASSERT_TRUE(file);
    EXPECT_TRUE(file->canStreamPixels());
    expectSameAsArrow(*file);
    const Decoded decoded = streamed(*file, 0, 100);
    EXPECT_EQ(decoded.errors[0], "");
    EXPECT_EQ(decoded.errors[1], "image is null");
    EXPECT_EQ(decoded.errors[2], "image has 0 values; expected 960 for --image-shape 20,16,3 (raw HWC pixels)");
    EXPECT_NE(decoded.errors[3].find("image has 959 values"), std::string::npos);
    EXPECT_NE(decoded.errors[4].find("image has 961 values"), std::string::npos);
    EXPECT_EQ(decoded.errors[5], "image has 1 null pixel values");
    EXPECT_EQ(decoded.errors[6], "");
    // A bad row's crop is zeros, whatever its values were.
    for (int row = 1; row <= 5; ++row) {
      for (int64_t b = 0; b < decoder_->cropBytes(); ++b) {
        ASSERT_EQ(decoded.crops[row * decoder_->cropBytes() + b], 0) << "row " << row;
      }
    }
  }
}

TEST_F(StreamedPixelsTest, StopsAfterTheRowsAsked) {
  std::vector<Pixels> rows;
  for (uint32_t i = 0; i < 6; ++i) rows.push_back(randomPixels(20 * 16 * 3, i));
  auto file = write(rows, {}, 6, 1 << 10);
  ASSERT_TRUE(file);
  const Decoded all = streamed(*file, 0, 6);
  const Decoded three = streamed(*file, 0, 3);
  ASSERT_EQ(three.errors.size(), 3u);
  EXPECT_TRUE(std::equal(three.crops.begin(), three.crops.end(), all.crops.begin()));
  EXPECT_EQ(streamed(*file, 0, 0).crops.size(), 0u);
}

TEST_F(StreamedPixelsTest, AColumnWhoseFirstValueStartsNoRowIsAnErrorNotAWriteBeforeTheCrops) {
  // Parquet's low-level writer accepts repetition levels that do not start with a row.
  using namespace parquet::schema;
  auto element = PrimitiveNode::Make("element", parquet::Repetition::REQUIRED, parquet::LogicalType::Int(8, false),
                                     parquet::Type::INT32);
  auto list = GroupNode::Make("list", parquet::Repetition::REPEATED, {element});
  auto image = GroupNode::Make("image", parquet::Repetition::REQUIRED, {list}, parquet::LogicalType::List());
  auto root = std::static_pointer_cast<GroupNode>(GroupNode::Make("schema", parquet::Repetition::REQUIRED, {image}));
  const std::string path = (dir_ / "bad.parquet").string();
  {
    auto sink = arrow::io::FileOutputStream::Open(path);
    ASSERT_TRUE(sink.ok());
    auto writer = parquet::ParquetFileWriter::Open(*sink, root);
    auto* column = static_cast<parquet::Int32Writer*>(writer->AppendRowGroup()->NextColumn());
    // 2,000 values before the first row start: far enough to reach a 20x16 image's crop window.
    std::vector<int16_t> definitions(2000 + 960, 1);
    std::vector<int16_t> repetitions(definitions.size(), 1);
    repetitions[2000] = 0;
    std::vector<int32_t> values(definitions.size(), 7);
    column->WriteBatch(static_cast<int64_t>(values.size()), definitions.data(), repetitions.data(), values.data());
    writer->Close();
    ASSERT_TRUE((*sink)->Close().ok());
  }
  auto file = open(path, {});
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->canStreamPixels());
  Decoded decoded{std::vector<uint8_t>(decoder_->cropBytes()), std::vector<std::string>(1)};
  StreamedRowCropper cropper(*decoder_, decoded.crops.data(), decoded.errors);
  Status status = file->streamPixels(0, 1, cropper);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("does not start a row"), std::string::npos) << status.message();
}

TEST_F(StreamedPixelsTest, OnlyListsOfUint8AreStreamed) {
  const std::string path = (dir_ / "binary.parquet").string();
  arrow::BinaryBuilder binary;
  ASSERT_TRUE(binary.Append(std::string(960, 'x')).ok());
  std::shared_ptr<arrow::Array> column;
  ASSERT_TRUE(binary.Finish(&column).ok());
  auto table = arrow::Table::Make(arrow::schema({arrow::field("image", arrow::binary())}), {column});
  auto sink = arrow::io::FileOutputStream::Open(path);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *sink, 10).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  auto file = open(path, {});
  ASSERT_TRUE(file);
  EXPECT_FALSE(file->canStreamPixels());
  Decoded unused{std::vector<uint8_t>(decoder_->cropBytes()), std::vector<std::string>(1)};
  StreamedRowCropper cropper(*decoder_, unused.crops.data(), unused.errors);
  EXPECT_FALSE(file->streamPixels(0, 1, cropper).ok());
}

}  // namespace
}  // namespace sluice::engine
