#include "io/atomic_parquet_writer.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

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

  auto input = arrow::io::ReadableFile::Open((root_ / "out/part.parquet").string());
  ASSERT_TRUE(input.ok());
  auto reader = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
  ASSERT_TRUE(reader.ok());
  auto table = (*reader)->ReadTable();
  ASSERT_TRUE(table.ok());
  EXPECT_EQ((*table)->num_rows(), 3);
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

}  // namespace
}  // namespace sluice::io
