#pragma once
// Turns the image column of a record batch into center-cropped uint8 crops, one row at a time.
// A bad row (null, wrong size) is not an error of the job: it yields a reason for the error column.

#include <arrow/array.h>

#include <string>

#include "image/preprocess.h"
#include "io/parquet_image_file.h"

namespace sluice::engine {

class RowDecoder {
 public:
  RowDecoder(image::ImageShape shape, int cropSize) : shape_(shape), cropSize_(cropSize) {}

  int64_t cropBytes() const { return int64_t{cropSize_} * cropSize_ * shape_.channels; }

  /// Crops row `row` of `column` into `out` (cropBytes() bytes). Returns an empty string on
  /// success, else the reason the row cannot be used. Thread-safe (no shared state).
  std::string decode(const arrow::Array& column, int64_t row, uint8_t* out) const;

 private:
  std::string decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const;

  image::ImageShape shape_;
  int cropSize_;
};

}  // namespace sluice::engine
