#pragma once
// Turns the image column of a record batch into center-cropped uint8 crops, one row at a time.
// A row holds raw HWC pixels (list<uint8>, or binary of exactly H*W*C bytes) or an encoded JPEG or
// PNG (binary starting with its magic bytes), which is decoded, resized and center-cropped as
// torchvision's Resize + CenterCrop do. A bad row (null, wrong size, corrupt image) is not an error
// of the job: it yields a reason for the error column.

#include <arrow/array.h>

#include <string>
#include <vector>

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
  const image::ImageShape& shape() const { return shape_; }
  int cropSize() const { return cropSize_; }
  /// Why a raw-pixel row of `length` values cannot be used, or "" when its size is right.
  std::string rawLengthError(int64_t length) const;

  /// Crops row `row` of `column` into `out` (cropBytes() bytes). Returns an empty string on
  /// success, else the reason the row cannot be used. Not thread-safe: it keeps decoding buffers
  /// between rows, so each worker thread has its own RowDecoder.
  std::string decode(const arrow::Array& column, int64_t row, uint8_t* out);

 private:
  std::string decodeRaw(const uint8_t* data, int64_t length, uint8_t* out) const;
  template <typename ListArrayType>
  std::string decodeList(const arrow::Array& column, int64_t row, uint8_t* out) const;
  std::string decodeBinary(const uint8_t* data, int64_t length, uint8_t* out);

  image::ImageShape shape_;
  int cropSize_;
  image::EncodedImagePreprocessor encoded_;
};

/// Crops rows streamed from a list<uint8> column (io::ParquetImageFile::streamPixels) straight into
/// a unit's crops: values outside the center crop are skipped as they arrive. A null row, one of
/// the wrong size or one with null values gets a zero crop and the same reason RowDecoder gives.
class StreamedRowCropper : public io::PixelSink {
 public:
  /// `crops` holds a crop per row; `errors` a reason per row.
  StreamedRowCropper(const RowDecoder& decoder, uint8_t* crops, std::vector<std::string>& errors);

  void values(int64_t row, int64_t offset, const int32_t* values, int64_t count,
              const int32_t* dictionary) override;
  void endRow(int64_t row, const Row& summary) override;

 private:
  const RowDecoder& decoder_;
  uint8_t* crops_;
  std::vector<std::string>& errors_;
  int64_t imageValues_;  // H * W * C
  int64_t pitch_;        // values per image row
  int64_t windowValues_; // values per crop row
  int64_t top_;
  int64_t left_;
};

}  // namespace sluice::engine
