#include "model/protobuf_wire_reader.h"

#include <cstring>

namespace sluice::model {

namespace {

Status truncated(const char* what) {
  return Status::InvalidData(std::string("the protobuf data ends inside ") + what);
}

}  // namespace

float WireField::asFloat() const {
  uint32_t bits = static_cast<uint32_t>(number);
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

double WireField::asDouble() const {
  double value;
  std::memcpy(&value, &number, sizeof(value));
  return value;
}

Result<uint64_t> WireReader::readVarint() {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (position_ >= buffer_.size()) return truncated("a varint");
    uint8_t byte = static_cast<uint8_t>(buffer_[position_++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return Status::InvalidData("a protobuf varint is longer than 10 bytes");
}

Result<WireField> WireReader::next() {
  WireField field;
  SLUICE_ASSIGN_OR_RETURN(uint64_t key, readVarint());
  field.fieldNumber = static_cast<uint32_t>(key >> 3);
  if (field.fieldNumber == 0) return Status::InvalidData("a protobuf field has number 0");
  switch (key & 7) {
    case 0: {
      field.wireType = WireType::kVarint;
      SLUICE_ASSIGN_OR_RETURN(field.number, readVarint());
      return field;
    }
    case 1: {
      field.wireType = WireType::kFixed64;
      if (buffer_.size() - position_ < 8) return truncated("a 64-bit field");
      std::memcpy(&field.number, buffer_.data() + position_, 8);
      position_ += 8;
      return field;
    }
    case 2: {
      field.wireType = WireType::kLengthDelimited;
      SLUICE_ASSIGN_OR_RETURN(uint64_t length, readVarint());
      if (length > buffer_.size() - position_) return truncated("a length-delimited field");
      field.bytes = buffer_.substr(position_, length);
      position_ += length;
      return field;
    }
    case 5: {
      field.wireType = WireType::kFixed32;
      if (buffer_.size() - position_ < 4) return truncated("a 32-bit field");
      uint32_t bits;
      std::memcpy(&bits, buffer_.data() + position_, 4);
      field.number = bits;
      position_ += 4;
      return field;
    }
    default:
      return Status::InvalidData("a protobuf field has unknown wire type " + std::to_string(key & 7));
  }
}

Status appendVarints(const WireField& field, std::vector<int64_t>& values) {
  if (field.wireType == WireType::kVarint) {
    values.push_back(field.asInt64());
    return Status::OK();
  }
  if (field.wireType != WireType::kLengthDelimited) {
    return Status::InvalidData("a repeated integer field has wire type " +
                               std::to_string(static_cast<int>(field.wireType)));
  }
  // A packed field is a run of varints with no keys; reuse the key-less varint decoding by hand.
  const auto* data = reinterpret_cast<const uint8_t*>(field.bytes.data());
  size_t size = field.bytes.size();
  size_t position = 0;
  while (position < size) {
    uint64_t value = 0;
    int shift = 0;
    while (true) {
      if (position >= size) return truncated("a packed varint");
      if (shift >= 64) return Status::InvalidData("a protobuf varint is longer than 10 bytes");
      uint8_t byte = data[position++];
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) == 0) break;
    }
    values.push_back(static_cast<int64_t>(value));
  }
  return Status::OK();
}

Status appendFloats(const WireField& field, std::vector<float>& values) {
  if (field.wireType == WireType::kFixed32) {
    values.push_back(field.asFloat());
    return Status::OK();
  }
  if (field.wireType != WireType::kLengthDelimited) {
    return Status::InvalidData("a repeated float field has wire type " +
                               std::to_string(static_cast<int>(field.wireType)));
  }
  if (field.bytes.size() % 4 != 0) return truncated("a packed float array");
  size_t count = field.bytes.size() / 4;
  size_t start = values.size();
  values.resize(start + count);
  std::memcpy(values.data() + start, field.bytes.data(), count * 4);
  return Status::OK();
}

}  // namespace sluice::model
