#pragma once
// Turns the image column of a record batch into center-cropped uint8 crops, one row at a time.
// A row holds raw HWC pixels (list<uint8>, or binary of exactly H*W*C bytes) or an encoded JPEG or
// PNG (binary starting with its magic bytes), which is decoded, resized and center-cropped as
// torchvision's Resize + CenterCrop do. A bad row (null, wrong size, corrupt image) is not an error
// of the job: it yields a reason for the error column.

#include <arrow/array.h>

#include <string>

#include "image/encoded_image_preprocessor.h"
#include "image/preprocess.h"
#include "io/parquet_image_file.h"

namespace sluice::engine {

class RowDecoder {
 public:
  /// `shape` is the size of raw-pixel rows (not resized, only cropped); encoded rows are resized
  /// and cropped as `resizeCrop` says. Both crop to resizeCrop.cropSize.
  RowDecoder(image::ImageShape shape, const image::ResizeCropOptions& resizeCrop)
      : shape_(shape), cropSize_(resizeCrop.cropSize), encoded_(resizeCrop) {}

  int64_t cropBytes() const { return int64_t{cropSize_} * cropSize_ * shape_.channels; }

  /// Crops row `row` of `column` into `out` (cropBytes() bytes). Returns an empty string on
  /// success, else the reason the row cannot be used. Not thread-safe: it keeps decoding buffers
  /// between rows, so each worker thread has its own RowDecoder.
  std::string decode(const arrow::Array& column, int64_t row, uint8_t* out);

 private:
  std::string decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const;
  std::string decodeBinary(const uint8_t* data, int64_t length, uint8_t* out);

  image::ImageShape shape_;
  int cropSize_;
  image::EncodedImagePreprocessor encoded_;
};

}  // namespace sluice::engine
