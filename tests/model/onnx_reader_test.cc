#include "model/onnx_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/protobuf_test_encoder.h"

namespace sluice::model {
namespace {

namespace t = sluice::testing;

std::string tinyModelBytes() {
  return t::onnxModel(
      {t::onnxNode("Conv", "conv0", {"x", "w"}, {"y"}, {t::onnxIntsAttribute("pads", {1, 1, 1, 1})})},
      {t::onnxTensor("w", {2, 3, 3, 3}, std::vector<float>(54, 0.25f))},
      t::onnxValueInfo("x", {-1, 3, 8, 8}), t::onnxValueInfo("y", {-1, 2, 8, 8}));
}

std::string writeTemp(const std::string& name, const std::string& bytes) {
  auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

TEST(OnnxReaderTest, ReadsNodesInitializersShapesAndOpset) {
  auto model = parseOnnxModel(tinyModelBytes(), "tiny.onnx");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->opsetVersion, 17);
  ASSERT_EQ(model->nodes.size(), 1u);
  EXPECT_EQ(model->nodes[0].opType, "Conv");
  EXPECT_EQ(model->nodes[0].inputs, (std::vector<std::string>{"x", "w"}));
  EXPECT_EQ(model->nodes[0].intsAttribute("pads", {}), (std::vector<int64_t>{1, 1, 1, 1}));
  ASSERT_EQ(model->initializers.size(), 1u);
  EXPECT_EQ(model->initializers[0].dims, (std::vector<int64_t>{2, 3, 3, 3}));
  EXPECT_FLOAT_EQ(model->initializers[0].floats[53], 0.25f);
  ASSERT_EQ(model->inputs.size(), 1u);
  EXPECT_EQ(model->inputs[0].dims, (std::vector<int64_t>{-1, 3, 8, 8}));
}

TEST(OnnxReaderTest, MissingFileIsInvalidArgumentNamingTheFile) {
  auto model = readOnnxFile("/nonexistent/dir/model.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      model.status().message().find("model /nonexistent/dir/model.onnx is not a valid ONNX file: it does not exist"),
      std::string::npos);
}

TEST(OnnxReaderTest, DirectoryAndEmptyFileAreInvalidArgumentsNamingThePath) {
  const std::string directory = ::testing::TempDir();
  auto fromDirectory = readOnnxFile(directory);
  ASSERT_FALSE(fromDirectory.ok());
  EXPECT_EQ(fromDirectory.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fromDirectory.status().message().find("model " + directory + " is not a valid ONNX file"),
            std::string::npos);

  std::string empty = writeTemp("sluice_empty.onnx", "");
  auto fromEmpty = readOnnxFile(empty);
  ASSERT_FALSE(fromEmpty.ok());
  EXPECT_NE(fromEmpty.status().message().find("model " + empty + " is not a valid ONNX file: it is empty"),
            std::string::npos);
}

TEST(OnnxReaderTest, GarbageFileIsInvalidArgumentNamingTheFile) {
  std::string path = writeTemp("sluice_garbage.onnx", "this is not a protobuf at all\xff\xff");
  auto model = readOnnxFile(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("model " + path + " is not a valid ONNX file"),
            std::string::npos);
}

TEST(OnnxReaderTest, TruncatedFileIsInvalidArgumentNamingTheFile) {
  std::string bytes = tinyModelBytes();
  std::string path = writeTemp("sluice_truncated.onnx", bytes.substr(0, bytes.size() / 2));
  auto model = readOnnxFile(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find(path), std::string::npos);
}

TEST(OnnxReaderTest, ExternalDataIsUnsupportedNamingTheTensor) {
  std::string tensor = t::packedVarints(1, {4}) + t::varintField(2, 1) + t::bytesField(8, "big_w") +
                       t::bytesField(13, t::bytesField(1, "location") + t::bytesField(2, "w.bin")) +
                       t::varintField(14, 1);
  std::string bytes = t::onnxModel({t::onnxNode("Relu", "r", {"x"}, {"y"})}, {tensor},
                                   t::onnxValueInfo("x", {-1, 3, 8, 8}),
                                   t::onnxValueInfo("y", {-1, 3, 8, 8}));
  auto model = parseOnnxModel(bytes, "ext.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(model.status().message().find("'big_w'"), std::string::npos);
}

TEST(OnnxReaderTest, DoubleTensorIsUnsupportedNamingTheTensor) {
  std::string tensor = t::packedVarints(1, {1}) + t::varintField(2, 11) +
                       t::bytesField(8, "doubles") + t::bytesField(9, std::string(8, '\0'));
  std::string bytes = t::onnxModel({t::onnxNode("Relu", "r", {"x"}, {"y"})}, {tensor},
                                   t::onnxValueInfo("x", {-1, 3, 8, 8}),
                                   t::onnxValueInfo("y", {-1, 3, 8, 8}));
  auto model = parseOnnxModel(bytes, "double.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("'doubles' has data type DOUBLE"), std::string::npos);
}

TEST(OnnxReaderTest, Int32TensorIsWidenedToInt64) {
  std::string tensor = t::packedVarints(1, {3}) + t::varintField(2, 6) + t::bytesField(8, "s") +
                       t::packedVarints(5, {2, -1, 7});
  std::string bytes = t::onnxModel({t::onnxNode("Relu", "r", {"x"}, {"y"})}, {tensor},
                                   t::onnxValueInfo("x", {-1, 3, 8, 8}),
                                   t::onnxValueInfo("y", {-1, 3, 8, 8}));
  auto model = parseOnnxModel(bytes, "int32.onnx");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->initializers[0].ints, (std::vector<int64_t>{2, -1, 7}));
}

}  // namespace
}  // namespace sluice::model
