#include "engine/row_decoder.h"

#include <arrow/array/array_binary.h>
#include <arrow/array/array_nested.h>
#include <arrow/array/array_primitive.h>

#include <algorithm>

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

// Null pixel values in row `row` of a list column (0 when the values have no nulls at all).
template <typename ListArrayType>
int64_t nullListValues(const arrow::Array& column, int64_t row) {
  const auto& list = static_cast<const ListArrayType&>(column);
  if (list.values()->null_count() == 0) return 0;
  return list.values()->Slice(list.value_offset(row), list.value_length(row))->null_count();
}

std::string nullValuesError(int64_t nullValues) {
  return "image has " + std::to_string(nullValues) + " null pixel values";
}

}  // namespace

std::string RowDecoder::decode(const arrow::Array& column, int64_t row, uint8_t* out) {
  if (column.IsNull(row)) return "image is null";
  switch (column.type_id()) {
    case arrow::Type::LIST:
      return decodeList<arrow::ListArray>(column, row, out);
    case arrow::Type::LARGE_LIST:
      return decodeList<arrow::LargeListArray>(column, row, out);
    case arrow::Type::FIXED_SIZE_LIST:
      return decodeList<arrow::FixedSizeListArray>(column, row, out);
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

template <typename ListArrayType>
std::string RowDecoder::decodeList(const arrow::Array& column, int64_t row, uint8_t* out) const {
  auto [data, length] = listValues<ListArrayType>(column, row);
  std::string error = rawLengthError(length);
  if (error.empty()) {
    if (int64_t nulls = nullListValues<ListArrayType>(column, row); nulls > 0) return nullValuesError(nulls);
    image::centerCrop(data, shape_, cropSize_, cropSize_, out);
  }
  return error;
}

std::string RowDecoder::rawLengthError(int64_t length) const {
  if (length == shape_.bytes()) return "";
  return "image has " + std::to_string(length) + " values; expected " + std::to_string(shape_.bytes()) +
         " for --image-shape " + shape_.toString() + " (raw HWC pixels)";
}

std::string RowDecoder::decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const {
  std::string error = rawLengthError(length);
  if (error.empty()) image::centerCrop(data, shape_, cropSize_, cropSize_, out);
  return error;
}

StreamedRowCropper::StreamedRowCropper(const RowDecoder& decoder, uint8_t* crops, std::vector<std::string>& errors)
    : decoder_(decoder),
      crops_(crops),
      errors_(errors),
      imageValues_(decoder.shape().bytes()),
      pitch_(int64_t{decoder.shape().width} * decoder.shape().channels),
      windowValues_(int64_t{decoder.cropSize()} * decoder.shape().channels),
      top_(image::centerCropOffset(decoder.shape().height, decoder.cropSize())),
      left_(image::centerCropOffset(decoder.shape().width, decoder.cropSize())) {}

void StreamedRowCropper::values(int64_t row, int64_t offset, const int32_t* values, int64_t count,
                                const int32_t* dictionary) {
  // Values past the image's size belong to a row that will be an error: nothing to keep.
  const int64_t end = std::min(offset + count, imageValues_);
  if (offset >= end) return;
  uint8_t* crop = crops_ + row * decoder_.cropBytes();
  const int64_t firstRow = std::max(offset / pitch_, top_);
  const int64_t lastRow = std::min((end - 1) / pitch_, top_ + decoder_.cropSize() - 1);
  for (int64_t imageRow = firstRow; imageRow <= lastRow; ++imageRow) {
    const int64_t windowStart = imageRow * pitch_ + left_ * decoder_.shape().channels;
    const int64_t from = std::max(windowStart, offset);
    const int64_t to = std::min(windowStart + windowValues_, end);
    if (from >= to) continue;
    uint8_t* out = crop + (imageRow - top_) * windowValues_ + (from - windowStart);
    const int32_t* in = values + (from - offset);
    // Parquet stores uint8 as INT32; Arrow's reader narrows the same way.
    if (dictionary) {
      for (int64_t i = 0; i < to - from; ++i) out[i] = static_cast<uint8_t>(dictionary[in[i]]);
    } else {
      for (int64_t i = 0; i < to - from; ++i) out[i] = static_cast<uint8_t>(in[i]);
    }
  }
}

void StreamedRowCropper::endRow(int64_t row, const Row& summary) {
  std::string error = summary.isNull ? "image is null" : decoder_.rawLengthError(summary.length);
  if (error.empty() && summary.nullValues > 0) error = nullValuesError(summary.nullValues);
  if (error.empty()) return;
  std::fill_n(crops_ + row * decoder_.cropBytes(), decoder_.cropBytes(), uint8_t{0});
  errors_[row] = std::move(error);
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
