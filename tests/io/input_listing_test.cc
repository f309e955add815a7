#include "io/input_listing.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice::io {
namespace {

class InputListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("sluice_listing_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "sub");
    std::filesystem::create_directories(root_ / "_temporary");
    for (auto name : {"b.parquet", "a.parquet", "sub/c.parquet", "_SUCCESS", ".hidden.parquet",
                      "_temporary/d.parquet", "notes.txt"}) {
      std::ofstream(root_ / name) << "x";
    }
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Location location(const std::string& relative = "") {
    auto resolved = resolveLocation((root_ / relative).string(), {});
    EXPECT_TRUE(resolved.ok());
    return *resolved;
  }

  std::filesystem::path root_;
};

TEST_F(InputListingTest, FolderListsParquetFilesRecursivelyInOrderSkippingHiddenOnes) {
  auto files = listInputFiles(location());
  ASSERT_TRUE(files.ok()) << files.status().toString();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].relativePath, "a.parquet");
  EXPECT_EQ((*files)[1].relativePath, "b.parquet");
  EXPECT_EQ((*files)[2].relativePath, "sub/c.parquet");
  EXPECT_EQ((*files)[0].sizeBytes, 1);
}

TEST_F(InputListingTest, SingleFileIsListedAlone) {
  auto files = listInputFiles(location("sub/c.parquet"));
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].relativePath, "c.parquet");
}

TEST_F(InputListingTest, GlobMatchesNamesInItsFolder) {
  auto files = listInputFiles(location("b*.parquet"));
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].relativePath, "b.parquet");
}

TEST_F(InputListingTest, NothingFoundIsAnErrorNamingTheInput) {
  auto files = listInputFiles(location("z*.parquet"));
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("no Parquet files found"), std::string::npos);
  auto missing = listInputFiles(location("missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);
}

TEST(StorageTest, RejectsUnknownSchemes) {
  auto resolved = resolveLocation("gs://bucket/x", {});
  ASSERT_FALSE(resolved.ok());
  EXPECT_TRUE(resolved.status().isUsageError());
}

}  // namespace
}  // namespace sluice::io
