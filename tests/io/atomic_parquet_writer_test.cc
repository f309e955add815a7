#include "io/atomic_parquet_writer.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include <algorithm>

#include <filesystem>

namespace sluice::io {
namespace {

class AtomicParquetWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            (std::string("sluice_writer_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    location_ = *resolveLocation(root_.string(), {});
    schema_ = arrow::schema({arrow::field("x", arrow::int64())});
    arrow::Int64Builder builder;
    EXPECT_TRUE(builder.AppendValues({1, 2, 3}).ok());
    batch_ = arrow::RecordBatch::Make(schema_, 3, {*builder.Finish()});
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::vector<std::string> filesInRoot() {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root_)) {
      if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
    }
    return names;
  }

  // The whole file at `path` as a table; null (with a test failure) if it cannot be read.
  std::shared_ptr<arrow::Table> readTable(const std::filesystem::path& path) {
    auto input = arrow::io::ReadableFile::Open(path.string());
    EXPECT_TRUE(input.ok());
    if (!input.ok()) return nullptr;
    auto reader = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
    EXPECT_TRUE(reader.ok());
    if (!reader.ok()) return nullptr;
    auto table = (*reader)->ReadTable();
    EXPECT_TRUE(table.ok());
    return table.ok() ? *table : nullptr;
  }

  std::filesystem::path root_;
  Location location_;
  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<arrow::RecordBatch> batch_;
};

TEST_F(AtomicParquetWriterTest, FileAppearsOnlyAtCommit) {
  auto writer = AtomicParquetWriter::Open(location_, location_.join("out/part.parquet"), schema_);
  ASSERT_TRUE(writer.ok()) << writer.status().toString();
  ASSERT_TRUE((*writer)->write(*batch_).ok());
  EXPECT_FALSE(std::filesystem::exists(root_ / "out/part.parquet"));
  ASSERT_TRUE((*writer)->commit().ok());
  ASSERT_TRUE(std::filesystem::exists(root_ / "out/part.parquet"));
  EXPECT_EQ(filesInRoot(), std::vector<std::string>{"part.parquet"});

  auto table = readTable(root_ / "out/part.parquet");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->num_rows(), 3);
}

TEST_F(AtomicParquetWriterTest, AbortAndDestructionLeaveNothingBehind) {
  {
    auto writer = AtomicParquetWriter::Open(location_, location_.join("a.parquet"), schema_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(*batch_).ok());
    (*writer)->abort();
  }
  {
    auto writer = AtomicParquetWriter::Open(location_, location_.join("b.parquet"), schema_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(*batch_).ok());
  }
  EXPECT_TRUE(filesInRoot().empty());
}

TEST_F(AtomicParquetWriterTest, CommitReplacesAnExistingFile) {
  std::filesystem::create_directories(root_);
  for (int round = 0; round < 2; ++round) {
    auto writer = AtomicParquetWriter::Open(location_, location_.join("same.parquet"), schema_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(*batch_).ok());
    ASSERT_TRUE((*writer)->commit().ok());
  }
  EXPECT_EQ(filesInRoot(), std::vector<std::string>{"same.parquet"});
}

TEST_F(AtomicParquetWriterTest, ImageColumnsSkipDictionaryEncodingAndOtherColumnsKeepIt) {
  // A crop column as `sluice preprocess` writes it, encoded image bytes, and a repetitive string.
  auto cropType = arrow::fixed_size_list(arrow::field("item", arrow::uint8(), false), 12);
  auto schema = arrow::schema({arrow::field("image", cropType), arrow::field("bytes", arrow::binary()),
                               arrow::field("path", arrow::utf8())});
  const int rows = 50;
  std::vector<uint8_t> pixels(12 * rows);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 % 251);
  auto values = std::make_shared<arrow::UInt8Array>(static_cast<int64_t>(pixels.size()), arrow::Buffer::FromVector(pixels));
  auto crops = arrow::FixedSizeListArray::FromArrays(values, cropType);
  ASSERT_TRUE(crops.ok());
  arrow::BinaryBuilder bytes;
  arrow::StringBuilder paths;
  for (int row = 0; row < rows; ++row) {
    ASSERT_TRUE(bytes.Append(std::string(20, static_cast<char>(row))).ok());
    ASSERT_TRUE(paths.Append("s3://bucket/part-00000.parquet").ok());
  }
  auto batch = arrow::RecordBatch::Make(schema, rows, {*crops, *bytes.Finish(), *paths.Finish()});
  auto writer = AtomicParquetWriter::Open(location_, location_.join("crops.parquet"), schema);
  ASSERT_TRUE(writer.ok()) << writer.status().toString();
  ASSERT_TRUE((*writer)->write(*batch).ok());
  ASSERT_TRUE((*writer)->write(*batch).ok());
  ASSERT_TRUE((*writer)->commit().ok());

  auto file = parquet::ParquetFileReader::OpenFile((root_ / "crops.parquet").string());
  ASSERT_EQ(file->metadata()->num_row_groups(), 2) << "one row group per write, none empty";
  auto rowGroup = file->metadata()->RowGroup(0);
  ASSERT_EQ(rowGroup->num_columns(), 3);
  auto usesDictionary = [&](int column) {
    auto chunk = rowGroup->ColumnChunk(column);
    auto encodings = chunk->encodings();
    return chunk->has_dictionary_page() ||
           std::count(encodings.begin(), encodings.end(), parquet::Encoding::RLE_DICTIONARY) > 0 ||
           std::count(encodings.begin(), encodings.end(), parquet::Encoding::PLAIN_DICTIONARY) > 0;
  };
  EXPECT_FALSE(usesDictionary(0)) << "the crop column";
  auto cropEncodings = rowGroup->ColumnChunk(0)->encodings();
  EXPECT_NE(std::count(cropEncodings.begin(), cropEncodings.end(), parquet::Encoding::BYTE_STREAM_SPLIT), 0);
  EXPECT_FALSE(usesDictionary(1)) << "the binary column";
  EXPECT_TRUE(usesDictionary(2)) << "the path column keeps Parquet's default";

  auto table = readTable(root_ / "crops.parquet");
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->Equals(*arrow::Table::FromRecordBatches({batch, batch}).ValueOrDie()));
}

}  // namespace
}  // namespace sluice::io
