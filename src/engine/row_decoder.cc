#include "engine/row_decoder.h"

#include <arrow/array/array_binary.h>
#include <arrow/array/array_nested.h>
#include <arrow/array/array_primitive.h>

#include "image/image_decoder.h"
#include "image/jpeg_decoder.h"
#include "image/png_decoder.h"

namespace sluice::engine {

namespace {

template <typename ListArrayType>
std::pair<const uint8_t*, int64_t> listValues(const arrow::Array& column, int64_t row) {
  const auto& list = static_cast<const ListArrayType&>(column);
  const auto& values = static_cast<const arrow::UInt8Array&>(*list.values());
  return {values.raw_values() + list.value_offset(row), list.value_length(row)};
}

}  // namespace

std::string RowDecoder::decode(const arrow::Array& column, int64_t row, uint8_t* out) {
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
      return decodeBinary(reinterpret_cast<const uint8_t*>(view.data()), static_cast<int64_t>(view.size()), out);
    }
    case arrow::Type::LARGE_BINARY: {
      auto view = static_cast<const arrow::LargeBinaryArray&>(column).GetView(row);
      return decodeBinary(reinterpret_cast<const uint8_t*>(view.data()), static_cast<int64_t>(view.size()), out);
    }
    default:
      return "image column has unsupported type " + column.type()->ToString();
  }
}

std::string RowDecoder::decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const {
  if (length != shape_.bytes()) {
    return "image has " + std::to_string(length) + " values; expected " + std::to_string(shape_.bytes()) +
           " for --image-shape " + shape_.toString() +
           " (raw HWC pixels)";
  }
  image::centerCrop(data, shape_, cropSize_, cropSize_, out);
  return "";
}

std::string RowDecoder::decodeBinary(const uint8_t* data, int64_t length, uint8_t* out) {
  const auto size = static_cast<size_t>(length);
  const bool looksEncoded = image::looksLikeJpeg(data, size) || image::looksLikePng(data, size);
  if (!looksEncoded) {
    if (length == shape_.bytes()) return decodeRaw(data, length, out);
    // Neither: say both what the bytes are not and what raw rows must look like. decodeImage
    // only reads the signature of such data.
    Status notAnImage = image::decodeImage(data, size).status();
    return "image has " + std::to_string(length) + " bytes: " + notAnImage.message() +
           ", nor raw pixels (" + std::to_string(shape_.bytes()) + " bytes for --image-shape " +
           shape_.toString() + ")";
  }
  image::MutableImageView crop{out, cropSize_, cropSize_, 3, static_cast<size_t>(cropSize_) * 3};
  Status status = encoded_.process(data, size, crop);
  if (status.ok()) return "";
  // Raw pixels can begin with the same bytes as a JPEG or PNG signature; a row of exactly the raw
  // size that does not decode is taken as raw pixels, as it was before encoded images existed.
  if (length == shape_.bytes()) return decodeRaw(data, length, out);
  return status.message();
}

}  // namespace sluice::engine
