#include "image/png_decoder.h"

#include <spng.h>

#include <cstring>
#include <memory>
#include <string>

#include "image/image_decoder.h"

namespace sluice::image {

namespace {

struct SpngContextDeleter {
  void operator()(spng_ctx* context) const { spng_ctx_free(context); }
};
using SpngContext = std::unique_ptr<spng_ctx, SpngContextDeleter>;

Status spngError(const char* what, int code) {
  return Status::InvalidData(std::string("corrupt PNG image: ") + what + " failed (" +
                             spng_strerror(code) + ")");
}

}  // namespace

bool looksLikePng(const uint8_t* data, size_t size) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return size >= sizeof(kSignature) && std::memcmp(data, kSignature, sizeof(kSignature)) == 0;
}

Result<Image> decodePng(const uint8_t* data, size_t size) {
  SpngContext context(spng_ctx_new(0));
  if (!context) return Status::Internal("libspng could not allocate a decoder context");
  spng_ctx* ctx = context.get();
  // Ancillary chunks (text, colour profiles) are irrelevant to pixels: a bad CRC there is not fatal,
  // as in Pillow. Chunk size limits keep a hostile file from making libspng buffer huge chunks.
  spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
  spng_set_chunk_limits(ctx, 64u << 20, 64u << 20);
  if (int rc = spng_set_png_buffer(ctx, data, size); rc != 0) return spngError("reading", rc);

  spng_ihdr header{};
  if (int rc = spng_get_ihdr(ctx, &header); rc != 0) return spngError("reading the header", rc);
  const int64_t numPixels = int64_t{header.width} * header.height;
  if (numPixels > kMaxDecodedPixels) {
    return Status::InvalidData("PNG image of " + std::to_string(header.width) + "x" +
                               std::to_string(header.height) + " pixels exceeds the limit of " +
                               std::to_string(kMaxDecodedPixels) + " pixels");
  }

  // SPNG_FMT_RGB8 expands palettes and greyscale, drops alpha and scales 16-bit samples to 8 bits.
  size_t decodedSize = 0;
  if (int rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &decodedSize); rc != 0) {
    return spngError("sizing the image", rc);
  }
  Image image(static_cast<int>(header.width), static_cast<int>(header.height), 3);
  if (decodedSize != image.pixels.size()) {
    return Status::Internal("libspng reported an unexpected decoded size for an RGB8 PNG");
  }
  if (int rc = spng_decode_image(ctx, image.pixels.data(), decodedSize, SPNG_FMT_RGB8, 0); rc != 0) {
    return spngError("decoding", rc);
  }
  return image;
}

}  // namespace sluice::image
