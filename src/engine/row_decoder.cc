#include "engine/row_decoder.h"

#include <arrow/array/array_binary.h>
#include <arrow/array/array_nested.h>
#include <arrow/array/array_primitive.h>

namespace sluice::engine {

namespace {

template <typename ListArrayType>
std::pair<const uint8_t*, int64_t> listValues(const arrow::Array& column, int64_t row) {
  const auto& list = static_cast<const ListArrayType&>(column);
  const auto& values = static_cast<const arrow::UInt8Array&>(*list.values());
  return {values.raw_values() + list.value_offset(row), list.value_length(row)};
}

}  // namespace

std::string RowDecoder::decode(const arrow::Array& column, int64_t row, uint8_t* out) const {
  if (column.IsNull(row)) return "image is null";
  switch (column.type_id()) {
    case arrow::Type::LIST: {
      auto [data, length] = listValues<arrow::ListArray>(column, row);
      return decodeRaw(data, length, out);
    }
    case arrow::Type::LARGE_LIST: {
      auto [data, length] = listValues<arrow::LargeListArray>(column, row);
      return decodeRaw(data, length, out);
    }
    case arrow::Type::FIXED_SIZE_LIST: {
      auto [data, length] = listValues<arrow::FixedSizeListArray>(column, row);
      return decodeRaw(data, length, out);
    }
    case arrow::Type::BINARY: {
      auto view = static_cast<const arrow::BinaryArray&>(column).GetView(row);
      return decodeRaw(reinterpret_cast<const uint8_t*>(view.data()), static_cast<int64_t>(view.size()), out);
    }
    case arrow::Type::LARGE_BINARY: {
      auto view = static_cast<const arrow::LargeBinaryArray&>(column).GetView(row);
      return decodeRaw(reinterpret_cast<const uint8_t*>(view.data()), static_cast<int64_t>(view.size()), out);
    }
    default:
      return "image column has unsupported type " + column.type()->ToString();
  }
}

std::string RowDecoder::decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const {
  if (length != shape_.bytes()) {
    return "image has " + std::to_string(length) + " values; expected " + std::to_string(shape_.bytes()) +
           " for --image-shape " + shape_.toString() +
           " (raw HWC pixels; encoded JPEG/PNG bytes are not supported yet)";
  }
  image::centerCrop(data, shape_, cropSize_, cropSize_, out);
  return "";
}

}  // namespace sluice::engine
