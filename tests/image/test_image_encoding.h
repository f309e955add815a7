#pragma once
// Encoders for test fixtures: PNGs of every colour type (libspng) and JPEGs (libjpeg-turbo), built
// in memory by the tests themselves. The libraries reach the test binary through sluice_image.

#include <spng.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>

namespace sluice::image::testing {

enum PngColorType : uint8_t {
  kPngGray = 0,
  kPngRgb = 2,
  kPngPalette = 3,
  kPngGrayAlpha = 4,
  kPngRgba = 6,
};

/// Encodes `samples` (packed rows as PNG stores them; 16-bit samples in host byte order) as a PNG.
inline std::vector<uint8_t> encodePng(int width, int height, PngColorType colorType, int bitDepth,
                                      const void* samples, size_t size,
                                      const std::vector<uint32_t>& paletteRgb = {}) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr header{};
  header.width = static_cast<uint32_t>(width);
  header.height = static_cast<uint32_t>(height);
  header.bit_depth = static_cast<uint8_t>(bitDepth);
  header.color_type = colorType;
  int rc = spng_set_ihdr(ctx, &header);
  if (rc == 0 && !paletteRgb.empty()) {
    spng_plte palette{};
    palette.n_entries = static_cast<uint32_t>(paletteRgb.size());
    for (size_t i = 0; i < paletteRgb.size(); ++i) {
      palette.entries[i].red = static_cast<uint8_t>(paletteRgb[i] >> 16);
      palette.entries[i].green = static_cast<uint8_t>(paletteRgb[i] >> 8);
      palette.entries[i].blue = static_cast<uint8_t>(paletteRgb[i]);
    }
    rc = spng_set_plte(ctx, &palette);
  }
  if (rc == 0) rc = spng_encode_image(ctx, samples, size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  size_t length = 0;
  void* buffer = rc == 0 ? spng_get_png_buffer(ctx, &length, &rc) : nullptr;
  spng_ctx_free(ctx);
  if (buffer == nullptr) throw std::runtime_error(std::string("PNG encoding failed: ") + spng_strerror(rc));
  std::vector<uint8_t> png(static_cast<uint8_t*>(buffer), static_cast<uint8_t*>(buffer) + length);
  std::free(buffer);
  return png;
}

/// How the colour of a 3-channel JPEG is stored: YCbCr (JFIF, as nearly every file), or RGB as
/// libjpeg's jpeg_set_colorspace(JCS_RGB) writes it: an Adobe marker with transform 0 and
/// component ids 'R', 'G', 'B', or the ids alone.
enum class JpegColorCoding { kYcbcr, kRgbWithAdobeMarker, kRgbByComponentIds };

/// Encodes 8-bit pixels with 1 (greyscale) or 3 (RGB) channels as a baseline or progressive JPEG.
inline std::vector<uint8_t> encodeJpeg(int width, int height, int channels, const uint8_t* pixels,
                                       int quality = 95, bool progressive = false,
                                       JpegColorCoding coding = JpegColorCoding::kYcbcr) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  jpeg_mem_dest(&info, &buffer, &length);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  if (coding != JpegColorCoding::kYcbcr) {
    jpeg_set_colorspace(&info, JCS_RGB);
    info.write_Adobe_marker = coding == JpegColorCoding::kRgbWithAdobeMarker ? TRUE : FALSE;
  }
  if (progressive) jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels) + static_cast<size_t>(info.next_scanline) * width * channels;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  std::vector<uint8_t> jpeg(buffer, buffer + length);
  jpeg_destroy_compress(&info);
  std::free(buffer);
  return jpeg;
}

/// A smooth, photo-like RGB test pattern (JPEG round-trips it closely).
inline std::vector<uint8_t> smoothRgbPattern(int width, int height) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* pixel = &pixels[(static_cast<size_t>(y) * width + x) * 3];
      pixel[0] = static_cast<uint8_t>(255 * x / std::max(width - 1, 1));
      pixel[1] = static_cast<uint8_t>(255 * y / std::max(height - 1, 1));
      pixel[2] = static_cast<uint8_t>((x + y) * 255 / std::max(width + height - 2, 1));
    }
  }
  return pixels;
}

}  // namespace sluice::image::testing
