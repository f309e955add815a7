#include "image/image_encoder.h"

// jpeglib.h needs size_t and FILE declared before it is included.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <jpeglib.h>
#include <spng.h>

#include <algorithm>
#include <memory>
#include <string>

namespace sluice::image {

namespace {

// As in the decoder: libjpeg's fatal errors longjmp back here instead of ending the process.
struct EncoderErrors {
  jpeg_error_mgr base;
  jmp_buf jumpBuffer;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void exitWithError(j_common_ptr info) {
  auto* errors = reinterpret_cast<EncoderErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jumpBuffer, 1);
}

void outputMessage(j_common_ptr) {}

// Everything that touches libjpeg; no object with a destructor lives here, so longjmp is safe.
bool compressWithLibjpeg(jpeg_compress_struct& info, EncoderErrors& errors, const ImageView& image,
                         const JpegEncodeOptions& options, unsigned char** buffer, unsigned long* length) {
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = exitWithError;
  errors.base.output_message = outputMessage;
  errors.message[0] = '\0';
  if (setjmp(errors.jumpBuffer)) return false;
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, buffer, length);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = image.channels;
  info.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, options.quality, TRUE);
  if (image.channels == 3) {
    // Luma's sampling factors relative to chroma's (1x1): 2x2 is libjpeg's default.
    info.comp_info[0].h_samp_factor = options.subsampling == ChromaSubsampling::k444 ? 1 : 2;
    info.comp_info[0].v_samp_factor = options.subsampling == ChromaSubsampling::k420 ? 2 : 1;
  }
  if (options.progressive) jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.row(static_cast<int>(info.next_scanline)));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  return true;
}

Status checkEncodable(const ImageView& image, const char* format) {
  if ((image.channels != 1 && image.channels != 3) || image.width <= 0 || image.height <= 0) {
    return Status::InvalidArgument(std::string("cannot encode a ") + std::to_string(image.width) + "x" +
                                   std::to_string(image.height) + "x" + std::to_string(image.channels) +
                                   " image as " + format + ": 1 or 3 channels and a positive size needed");
  }
  return Status::OK();
}

struct SpngContextDeleter {
  void operator()(spng_ctx* context) const { spng_ctx_free(context); }
};

}  // namespace

Result<std::vector<uint8_t>> encodeJpeg(const ImageView& image, const JpegEncodeOptions& options) {
  SLUICE_RETURN_IF_ERROR(checkEncodable(image, "JPEG"));
  if (options.quality < 1 || options.quality > 100) return Status::InvalidArgument("JPEG quality must be 1 to 100");
  jpeg_compress_struct info{};
  EncoderErrors errors{};
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  const bool ok = compressWithLibjpeg(info, errors, image, options, &buffer, &length);
  jpeg_destroy_compress(&info);
  std::vector<uint8_t> jpeg;
  if (ok) jpeg.assign(buffer, buffer + length);
  std::free(buffer);
  if (!ok) return Status::Internal(std::string("JPEG encoding failed: ") + errors.message);
  return jpeg;
}

Result<std::vector<uint8_t>> encodePng(const ImageView& image) {
  SLUICE_RETURN_IF_ERROR(checkEncodable(image, "PNG"));
  std::unique_ptr<spng_ctx, SpngContextDeleter> context(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!context) return Status::Internal("libspng could not allocate an encoder context");
  spng_ctx* ctx = context.get();
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr header{};
  header.width = static_cast<uint32_t>(image.width);
  header.height = static_cast<uint32_t>(image.height);
  header.bit_depth = 8;
  header.color_type = image.channels == 1 ? SPNG_COLOR_TYPE_GRAYSCALE : SPNG_COLOR_TYPE_TRUECOLOR;
  int rc = spng_set_ihdr(ctx, &header);
  // libspng encodes rows packed: copy when the view has padding between rows.
  const size_t rowBytes = static_cast<size_t>(image.width) * image.channels;
  std::vector<uint8_t> packed;
  const uint8_t* samples = image.pixels;
  if (image.rowStride != rowBytes) {
    packed.resize(rowBytes * image.height);
    for (int y = 0; y < image.height; ++y) std::copy_n(image.row(y), rowBytes, packed.data() + rowBytes * y);
    samples = packed.data();
  }
  if (rc == 0) rc = spng_encode_image(ctx, samples, rowBytes * image.height, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  size_t length = 0;
  void* buffer = rc == 0 ? spng_get_png_buffer(ctx, &length, &rc) : nullptr;
  if (buffer == nullptr) return Status::Internal(std::string("PNG encoding failed: ") + spng_strerror(rc));
  std::vector<uint8_t> png(static_cast<uint8_t*>(buffer), static_cast<uint8_t*>(buffer) + length);
  std::free(buffer);
  return png;
}

}  // namespace sluice::image
