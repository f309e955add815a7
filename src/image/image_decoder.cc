#include "image/image_decoder.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "image/jpeg_decoder.h"
#include "image/png_decoder.h"

namespace sluice::image {

namespace {

std::string describeFirstBytes(const uint8_t* data, size_t size) {
  if (size == 0) return "empty input";
  std::string hex = "first bytes";
  for (size_t i = 0; i < size && i < 8; ++i) {
    char byte[4];
    std::snprintf(byte, sizeof(byte), " %02x", data[i]);
    hex += byte;
  }
  return hex;
}

}  // namespace

Result<Image> decodeImage(const uint8_t* data, size_t size) {
  if (data != nullptr && looksLikeJpeg(data, size)) return decodeJpeg(data, size);
  if (data != nullptr && looksLikePng(data, size)) return decodePng(data, size);
  return Status::InvalidData("not a JPEG or PNG image (" + describeFirstBytes(data, size) + ")");
}

Result<StoredSize> decodeImageInto(const uint8_t* data, size_t size, const DecodeOptions& options,
                                   Image& image) {
  if (data != nullptr && looksLikeJpeg(data, size)) {
    return decodeJpegInto(data, size, options, image);
  }
  if (data != nullptr && looksLikePng(data, size)) {
    SLUICE_ASSIGN_OR_RETURN(image, decodePng(data, size));
    return StoredSize{image.width, image.height, 1};
  }
  return Status::InvalidData("not a JPEG or PNG image (" + describeFirstBytes(data, size) + ")");
}

Result<Image> readImageFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::IoError("cannot open image file " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Status::IoError("cannot read image file " + path);
  Result<Image> image = decodeImage(bytes.data(), bytes.size());
  if (!image.ok()) return image.status().withContext(path);
  return image;
}

}  // namespace sluice::image
