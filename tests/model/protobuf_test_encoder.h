#pragma once
// A minimal protobuf wire-format encoder for building test messages (ONNX models) by hand.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sluice::testing {

inline std::string encodeVarint(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    out.push_back(static_cast<char>(byte | (value ? 0x80 : 0)));
  } while (value);
  return out;
}

inline std::string varintField(uint32_t field, uint64_t value) {
  return encodeVarint(uint64_t(field) << 3) + encodeVarint(value);
}

inline std::string bytesField(uint32_t field, const std::string& bytes) {
  return encodeVarint((uint64_t(field) << 3) | 2) + encodeVarint(bytes.size()) + bytes;
}

inline std::string floatField(uint32_t field, float value) {
  std::string out = encodeVarint((uint64_t(field) << 3) | 5);
  char raw[4];
  std::memcpy(raw, &value, 4);
  return out + std::string(raw, 4);
}

inline std::string packedVarints(uint32_t field, const std::vector<int64_t>& values) {
  std::string payload;
  for (int64_t value : values) payload += encodeVarint(static_cast<uint64_t>(value));
  return bytesField(field, payload);
}

inline std::string rawFloats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

// ONNX messages (field numbers from onnx.proto).
inline std::string onnxTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values) {
  return packedVarints(1, dims) + varintField(2, 1) + bytesField(8, name) +
         bytesField(9, rawFloats(values));
}

inline std::string onnxValueInfo(const std::string& name, const std::vector<int64_t>& dims) {
  std::string shape;
  for (int64_t dim : dims) {
    shape += bytesField(1, dim < 0 ? bytesField(2, "batch") : varintField(1, dim));
  }
  std::string tensorType = varintField(1, 1) + bytesField(2, shape);
  return bytesField(1, name) + bytesField(2, bytesField(1, tensorType));
}

inline std::string onnxNode(const std::string& op, const std::string& name,
                            const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs,
                            const std::vector<std::string>& attributes = {}) {
  std::string node;
  for (const auto& input : inputs) node += bytesField(1, input);
  for (const auto& output : outputs) node += bytesField(2, output);
  node += bytesField(3, name) + bytesField(4, op);
  for (const auto& attribute : attributes) node += bytesField(5, attribute);
  return node;
}

inline std::string onnxIntsAttribute(const std::string& name, const std::vector<int64_t>& values) {
  return bytesField(1, name) + varintField(20, 7) + packedVarints(8, values);
}

inline std::string onnxModel(const std::vector<std::string>& nodes,
                             const std::vector<std::string>& initializers,
                             const std::string& input, const std::string& output,
                             int64_t opset = 17) {
  std::string graph;
  for (const auto& node : nodes) graph += bytesField(1, node);
  for (const auto& tensor : initializers) graph += bytesField(5, tensor);
  graph += bytesField(11, input) + bytesField(12, output);
  return varintField(1, 8) + bytesField(7, graph) + bytesField(8, varintField(2, opset));
}

}  // namespace sluice::testing
