#pragma once
// A decoder for the protocol-buffer wire format (varint, 64-bit, length-delimited, 32-bit), enough
// to walk an ONNX file field by field without libprotobuf, which the deployment machine lacks.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::model {

/// The wire types a field key can carry (groups, 3 and 4, are deprecated and rejected).
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

/// One field of a message: its number, wire type and payload. For varint and fixed fields the
/// value is in `number`; for length-delimited fields the bytes are in `bytes` (a view into the
/// buffer being read, valid as long as that buffer is).
struct WireField {
  uint32_t fieldNumber = 0;
  WireType wireType = WireType::kVarint;
  uint64_t number = 0;
  std::string_view bytes;

  int64_t asInt64() const { return static_cast<int64_t>(number); }
  float asFloat() const;    // a fixed32 field read as an IEEE float
  double asDouble() const;  // a fixed64 field read as an IEEE double
};

/// Reads the fields of one message in order. Not thread-safe; cheap to copy.
class WireReader {
 public:
  explicit WireReader(std::string_view buffer) : buffer_(buffer) {}

  bool atEnd() const { return position_ >= buffer_.size(); }

  /// Reads the next field; fails (kInvalidData) if the buffer ends inside it.
  Result<WireField> next();

 private:
  Result<uint64_t> readVarint();

  std::string_view buffer_;
  size_t position_ = 0;
};

/// Appends the values of a repeated int64/int32 field, packed (length-delimited) or not.
Status appendVarints(const WireField& field, std::vector<int64_t>& values);

/// Appends the values of a repeated float field, packed (length-delimited) or not.
Status appendFloats(const WireField& field, std::vector<float>& values);

}  // namespace sluice::model
