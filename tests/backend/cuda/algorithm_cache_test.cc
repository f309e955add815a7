#include "backend/cuda/algorithm_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <latch>
#include <sstream>
#include <string>
#include <thread>

namespace sluice::backend::cuda {
namespace {

namespace fs = std::filesystem;

const std::string kContext = algorithmCacheContext("NVIDIA H200", 9, 0, 91900, "fp16");

class AlgorithmCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    folder_ = fs::temp_directory_path() / ("sluice_algorithm_cache_" + test);
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path folder_;
};

TEST_F(AlgorithmCacheTest, TheContextNamesTheGpuItsCudnnAndThePrecision) {
  EXPECT_EQ(kContext, "NVIDIA H200|sm90|cuDNN 91900|fp16");
}

TEST_F(AlgorithmCacheTest, AMissingFileIsAnEmptyCache) {
  AlgorithmCache cache = AlgorithmCache::Load((folder_ / "none.tsv").string(), kContext);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find({1, 2, 3}).has_value());
  EXPECT_EQ(cache.found(), 0);
}

TEST_F(AlgorithmCacheTest, SavedChoicesComeBackInTheSameContextOnly) {
  const std::string path = (folder_ / "nested" / "folder" / "cache.tsv").string();
  AlgorithmCache cache = AlgorithmCache::Load(path, kContext);
  cache.put({256, 64, 56, 56, 1}, {.fused = true, .algorithm = 1, .math = 1, .workspaceBytes = 4096});
  cache.put({256, 2048, 7, 7, 0}, {.fused = false, .algorithm = 6, .math = 2, .workspaceBytes = 0});
  ASSERT_TRUE(cache.save().ok());
  EXPECT_TRUE(fs::exists(path)) << "the folder is created";

  AlgorithmCache again = AlgorithmCache::Load(path, kContext);
  EXPECT_EQ(again.size(), 2u);
  EXPECT_EQ(again.find({256, 64, 56, 56, 1}),
            (CachedAlgorithm{.fused = true, .algorithm = 1, .math = 1, .workspaceBytes = 4096}));
  EXPECT_EQ(again.find({256, 2048, 7, 7, 0}),
            (CachedAlgorithm{.fused = false, .algorithm = 6, .math = 2, .workspaceBytes = 0}));
  EXPECT_FALSE(again.find({1}).has_value());
  EXPECT_EQ(again.found(), 2);

  const std::string otherGpu = algorithmCacheContext("NVIDIA A100-SXM4-80GB", 8, 0, 91900, "fp16");
  EXPECT_EQ(AlgorithmCache::Load(path, otherGpu).size(), 0u);
  EXPECT_EQ(AlgorithmCache::Load(path, algorithmCacheContext("NVIDIA H200", 9, 0, 91900, "tf32")).size(), 0u);
  // Nothing is left beside the file but its lock file.
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 2);
  EXPECT_TRUE(fs::exists(path + ".lock"));
}

TEST_F(AlgorithmCacheTest, ASaveKeepsWhatOtherJobsSavedMeanwhile) {
  const std::string path = (folder_ / "cache.tsv").string();
  const std::string otherGpu = algorithmCacheContext("NVIDIA A100-SXM4-80GB", 8, 0, 91900, "fp16");
  // Both jobs load before either saves: one for batch 256 on this GPU, one on another GPU, and a
  // third for batch 1000 on this one.
  AlgorithmCache batch256 = AlgorithmCache::Load(path, kContext);
  AlgorithmCache other = AlgorithmCache::Load(path, otherGpu);
  AlgorithmCache batch1000 = AlgorithmCache::Load(path, kContext);
  batch256.put({256, 1}, {.fused = true, .algorithm = 1});
  other.put({256, 1}, {.fused = false, .algorithm = 0});
  batch1000.put({1000, 1}, {.fused = true, .algorithm = 7});
  batch1000.put({256, 1}, {.fused = false, .algorithm = 2});  // it timed batch 256 too, differently
  ASSERT_TRUE(batch256.save().ok());
  ASSERT_TRUE(other.save().ok());
  ASSERT_TRUE(batch1000.save().ok());

  AlgorithmCache mine = AlgorithmCache::Load(path, kContext);
  EXPECT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine.find({1000, 1})->algorithm, 7);
  EXPECT_EQ(mine.find({256, 1})->algorithm, 2) << "the last save wins for a signature both had";
  AlgorithmCache theirs = AlgorithmCache::Load(path, otherGpu);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_FALSE(theirs.find({256, 1})->fused);
}

// Backends on two GPUs of one process hold different start-up locks, so they may save together,
// as may jobs in two processes.
TEST_F(AlgorithmCacheTest, SavesAtTheSameMomentTakeTurnsAndKeepBothsEntries) {
  const std::string path = (folder_ / "cache.tsv").string();
  auto filled = [&](int64_t first) {
    AlgorithmCache cache = AlgorithmCache::Load(path, kContext);
    for (int64_t i = 0; i < 500; ++i) cache.put({first + i, 7, 7}, {.fused = true, .algorithm = 1});
    return cache;
  };
  for (int round = 0; round < 40; ++round) {
    fs::remove(path);
    const AlgorithmCache a = filled(0), b = filled(1000);
    std::latch start(2);
    Status savedA, savedB;
    std::thread other([&] {
      start.arrive_and_wait();
      savedB = b.save();
    });
    start.arrive_and_wait();
    savedA = a.save();
    other.join();
    ASSERT_TRUE(savedA.ok()) << savedA.message();
    ASSERT_TRUE(savedB.ok()) << savedB.message();
    // The saves took turns: the second merged the first's entries, and neither file was a splice.
    const size_t entries = AlgorithmCache::Load(path, kContext).size();
    ASSERT_EQ(entries, 1000u) << "round " << round;
  }
  int files = 0;
  for (const auto& entry : fs::directory_iterator(folder_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 2) << "the cache and its lock file, no temporary file";
}

TEST_F(AlgorithmCacheTest, LinesThatDoNotParseAreSkippedAndDroppedAtTheNextSave) {
  const fs::path path = folder_ / "cache.tsv";
  {
    std::ofstream out(path);
    out << "# a comment\n"
        << "garbage\n"
        << kContext << "\t1,2,x\t1\t1\t1\t0\n"      // not a number in the signature
        << kContext << "\t1,2\t2\t1\t1\t0\n"        // fused is neither 0 nor 1
        << kContext << "\t1,2\t1\t1\t1\n"           // a field missing
        << kContext << "\t1,2\t1\t1\t1\t-5\n"       // a negative workspace
        << kContext << "\t3,4\t0\t6\t2\t1024\n";    // the one good line
  }
  AlgorithmCache cache = AlgorithmCache::Load(path.string(), kContext);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find({3, 4}), (CachedAlgorithm{.fused = false, .algorithm = 6, .math = 2, .workspaceBytes = 1024}));
  ASSERT_TRUE(cache.save().ok());
  const std::string text = read(path);
  EXPECT_EQ(text.find("garbage"), std::string::npos) << text;
  EXPECT_NE(text.find(kContext + "\t3,4\t0\t6\t2\t1024\n"), std::string::npos) << text;
}

TEST_F(AlgorithmCacheTest, ASaveThatCannotWriteSaysWhere) {
  const fs::path file = folder_ / "a-file";
  std::ofstream(file) << "not a folder";
  const std::string path = (file / "cache.tsv").string();
  AlgorithmCache cache = AlgorithmCache::Load(path, kContext);
  cache.put({1}, {});
  Status saved = cache.save();
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.message().find("cuDNN algorithm cache"), std::string::npos) << saved.message();
  EXPECT_NE(saved.message().find(file.string()), std::string::npos) << saved.message();
}

}  // namespace
}  // namespace sluice::backend::cuda
