#include "image/jpeg_decoder.h"

// jpeglib.h needs size_t and FILE declared before it is included.
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>

#include <algorithm>
#include <string>

#include "image/image_decoder.h"

namespace sluice::image {

namespace {

// libjpeg reports fatal errors by calling error_exit, which must not return: we longjmp back to
// decodeJpeg, which turns the message into a Status. No C++ object with a non-trivial destructor
// may live between setjmp and the longjmp, so the decoding function keeps those outside.
struct ErrorManager {
  jpeg_error_mgr base;
  jmp_buf jumpBuffer;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void exitWithError(j_common_ptr info) {
  auto* manager = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, manager->message);
  std::longjmp(manager->jumpBuffer, 1);
}

// Warnings are silent, except a premature end of data: a truncated file is an error, as in Pillow.
void emitMessage(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) exitWithError(info);
}

void outputMessage(j_common_ptr) {}

void checkScanCount(j_common_ptr info) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(info);
  if (decompress->input_scan_number > kMaxProgressiveScans) {
    auto* manager = reinterpret_cast<ErrorManager*>(info->err);
    std::snprintf(manager->message, sizeof(manager->message),
                  "more than %d progressive scans", kMaxProgressiveScans);
    std::longjmp(manager->jumpBuffer, 1);
  }
}

// Adobe CMYK JPEGs store inverted ink values; Pillow converts them to RGB as R = C' * K' / 255.
void convertCmykRowToRgb(const uint8_t* cmyk, uint8_t* rgb, int width, bool inverted) {
  for (int x = 0; x < width; ++x) {
    int k = inverted ? cmyk[3] : 255 - cmyk[3];
    for (int c = 0; c < 3; ++c) {
      int ink = inverted ? cmyk[c] : 255 - cmyk[c];
      rgb[c] = static_cast<uint8_t>((ink * k + 127) / 255);
    }
    cmyk += 4;
    rgb += 3;
  }
}

// Everything that touches libjpeg; returns false with errors.message set on failure. `image` and
// `cmykRow` are owned by the caller so that a longjmp skips no destructor.
bool decodeWithLibjpeg(jpeg_decompress_struct& info, ErrorManager& errors, const uint8_t* data,
                       size_t size, const DecodeOptions& options, Image& image, StoredSize& stored,
                       std::vector<uint8_t>& cmykRow) {
  const int minShortSide = options.minShortSide;
  jpeg_progress_mgr progress{};
  progress.progress_monitor = checkScanCount;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = exitWithError;
  errors.base.emit_message = emitMessage;
  errors.base.output_message = outputMessage;
  errors.message[0] = '\0';
  if (setjmp(errors.jumpBuffer)) return false;

  jpeg_create_decompress(&info);
  info.progress = &progress;
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);

  const bool isCmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = isCmyk ? JCS_CMYK : JCS_RGB;
  if (int64_t{info.image_width} * info.image_height > kMaxDecodedPixels) {
    std::snprintf(errors.message, sizeof(errors.message), "%ux%u pixels exceeds the limit of %lld",
                  info.image_width, info.image_height, static_cast<long long>(kMaxDecodedPixels));
    return false;
  }
  stored.width = static_cast<int>(info.image_width);
  stored.height = static_cast<int>(info.image_height);
  stored.scaleDenominator = 1;
  if (minShortSide > 0) {
    // libjpeg-turbo computes the scaled size as ceil(size * num / denom).
    const int64_t shortSide = std::min(info.image_width, info.image_height);
    for (int denominator : {8, 4, 2}) {
      if ((shortSide + denominator - 1) / denominator >= minShortSide) {
        stored.scaleDenominator = denominator;
        break;
      }
    }
  }
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned>(stored.scaleDenominator);
  jpeg_start_decompress(&info);

  // Resizing the Image is safe here: allocation failure throws before any further libjpeg call.
  image.width = static_cast<int>(info.output_width);
  image.height = static_cast<int>(info.output_height);
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);

  // Partial decoding: only baseline files, where every block is decoded on its own; progressive
  // files smooth blocks with their neighbours' coefficients, which partial decoding would change.
  JDIMENSION firstColumn = 0;
  JDIMENSION numColumns = info.output_width;
  if (options.neededWindow && !info.progressive_mode) {
    const PixelWindow window = options.neededWindow(stored, Size{image.width, image.height});
    // Two iMCUs (the blocks of all components that cover the same pixels) of margin on each side.
    const int blockColumns = info.max_h_samp_factor * info.min_DCT_scaled_size;
    const int blockRows = info.max_v_samp_factor * info.min_DCT_scaled_size;
    const int left = std::max(window.left - 2 * blockColumns, 0);
    const int right = std::min(window.right + 2 * blockColumns, image.width);
    if (left > 0 || right < image.width) {
      firstColumn = static_cast<JDIMENSION>(left);
      numColumns = static_cast<JDIMENSION>(right - left);
      // Moves firstColumn down to an iMCU boundary and widens numColumns to match.
      jpeg_crop_scanline(&info, &firstColumn, &numColumns);
    }
    // Whole iMCU rows from the top: their coefficients are still read, but not transformed.
    const int top = std::max(window.top - 2 * blockRows, 0) / blockRows * blockRows;
    if (top > 0) jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(top));
  }
  if (isCmyk) cmykRow.resize(static_cast<size_t>(numColumns) * 4);
  while (info.output_scanline < info.output_height) {
    uint8_t* destination = image.pixels.data() + info.output_scanline * image.rowBytes() + firstColumn * 3;
    JSAMPROW row = isCmyk ? cmykRow.data() : destination;
    jpeg_read_scanlines(&info, &row, 1);
    if (isCmyk) {
      convertCmykRowToRgb(cmykRow.data(), destination, static_cast<int>(numColumns), info.saw_Adobe_marker);
    }
  }
  jpeg_finish_decompress(&info);
  return true;
}

}  // namespace

bool looksLikeJpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

Result<StoredSize> decodeJpegInto(const uint8_t* data, size_t size, const DecodeOptions& options, Image& image) {
  jpeg_decompress_struct info{};
  ErrorManager errors{};
  StoredSize stored;
  std::vector<uint8_t> cmykRow;
  const bool ok = decodeWithLibjpeg(info, errors, data, size, options, image, stored, cmykRow);
  jpeg_destroy_decompress(&info);
  if (!ok) return Status::InvalidData(std::string("corrupt JPEG image: ") + errors.message);
  return stored;
}

Result<Image> decodeJpeg(const uint8_t* data, size_t size) {
  Image image;
  SLUICE_RETURN_IF_ERROR(decodeJpegInto(data, size, DecodeOptions{}, image).status());
  return image;
}

}  // namespace sluice::image
