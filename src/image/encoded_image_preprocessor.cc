#include "image/encoded_image_preprocessor.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "image/image_decoder.h"
#include "image/preprocess.h"

namespace sluice::image {

Size resizedSize(int width, int height, int resizeSize) {
  const int shortSide = std::min(width, height);
  const int longSide = std::max(width, height);
  // Python's int(size * long / short): a correctly rounded double quotient, then truncation.
  const int newLong = static_cast<int>(static_cast<double>(int64_t{resizeSize} * longSide) / shortSide);
  return width <= height ? Size{resizeSize, newLong} : Size{newLong, resizeSize};
}

Status validate(const ResizeCropOptions& options) {
  if (options.cropSize < 1 || options.resizeSize < 1) {
    return Status::InvalidArgument("--resize-size and --crop-size must be positive");
  }
  if (options.cropSize > options.resizeSize) {
    return Status::InvalidArgument("--crop-size " + std::to_string(options.cropSize) +
                                   " is larger than --resize-size " + std::to_string(options.resizeSize) +
                                   ": the center crop must fit inside the resized image");
  }
  if (options.dctScalingMargin != 0 && !(options.dctScalingMargin >= 1)) {
    return Status::InvalidArgument("--dct-scaling-margin must be 0 (off) or at least 1");
  }
  return Status::OK();
}

namespace {

// A worker keeps its decode buffer between images, but not one a rare huge (or hostile) image grew
// beyond this: ImageNet-sized images need ~0.5 MB, 24-megapixel photos 72 MB.
constexpr size_t kMaxRetainedDecodeBytes = size_t{96} << 20;

// Where Resize + CenterCrop puts the crop: torchvision's geometry for the stored size. A downscaled
// decode only changes the source the resampler reads, which covers the same picture with fewer pixels.
struct CropGeometry {
  Size resized;
  int left = 0;
  int top = 0;
};

CropGeometry cropGeometry(const StoredSize& stored, const ResizeCropOptions& options) {
  const Size resized = resizedSize(stored.width, stored.height, options.resizeSize);
  return {resized, centerCropOffset(resized.width, options.cropSize), centerCropOffset(resized.height, options.cropSize)};
}

}  // namespace

Status EncodedImagePreprocessor::process(const uint8_t* data, size_t size, const MutableImageView& crop) {
  Status status = decodeAndResize(data, size, crop);
  if (decoded_.pixels.capacity() > kMaxRetainedDecodeBytes) {
    decoded_ = Image();
  }
  return status;
}

Status EncodedImagePreprocessor::decodeAndResize(const uint8_t* data, size_t size, const MutableImageView& crop) {
  DecodeOptions decodeOptions;
  if (options_.dctScalingMargin > 0) {
    decodeOptions.minShortSide = static_cast<int>(std::ceil(options_.dctScalingMargin * options_.resizeSize));
  }
  // The decoder skips what the resampler will not read.
  decodeOptions.neededWindow = [&](const StoredSize& stored, Size decoded) {
    const CropGeometry geometry = cropGeometry(stored, options_);
    return resampler_.sourceWindow(decoded, geometry.resized.width, geometry.resized.height, geometry.left,
                                   geometry.top, crop.width, crop.height);
  };
  SLUICE_ASSIGN_OR_RETURN(StoredSize stored, decodeImageInto(data, size, decodeOptions, decoded_));
  lastScaleDenominator_ = stored.scaleDenominator;
  const CropGeometry geometry = cropGeometry(stored, options_);
  return resampler_.resizeWindow(decoded_.view(), geometry.resized.width, geometry.resized.height, geometry.left,
                                 geometry.top, crop);
}

}  // namespace sluice::image
