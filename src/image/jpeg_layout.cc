#include "image/jpeg_layout.h"

#include <cstring>

namespace sluice::image {

namespace {

constexpr uint8_t kStartOfImage = 0xD8;
constexpr uint8_t kEndOfImage = 0xD9;
constexpr uint8_t kStartOfScan = 0xDA;
constexpr uint8_t kApp0 = 0xE0;
constexpr uint8_t kApp14 = 0xEE;

bool isRestart(uint8_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

// Frame headers SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
bool isStartOfFrame(uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// The position of the next marker's 0xFF at or after `pos` in entropy-coded data, where 0xFF is
// followed by 0x00 (a stuffed byte) or a restart marker; `size` when there is none.
size_t skipEntropyCodedData(const uint8_t* data, size_t size, size_t pos) {
  while (pos < size) {
    const void* found = std::memchr(data + pos, 0xFF, size - pos);
    if (found == nullptr) return size;
    pos = static_cast<size_t>(static_cast<const uint8_t*>(found) - data);
    if (pos + 1 >= size) return size;
    const uint8_t next = data[pos + 1];
    if (next == 0x00 || isRestart(next)) {
      pos += 2;
    } else if (next == 0xFF) {
      pos += 1;  // a fill byte before a marker
    } else {
      return pos;
    }
  }
  return size;
}

}  // namespace

JpegLayout readJpegLayout(const uint8_t* data, size_t size) {
  JpegLayout layout;
  if (size < 2 || data[0] != 0xFF || data[1] != kStartOfImage) return layout;
  bool sawJfif = false;
  bool sawAdobe = false;
  int adobeTransform = -1;
  uint8_t componentIds[3] = {};
  size_t pos = 2;
  while (pos < size) {
    // As libjpeg does, skip whatever stands before the next marker's 0xFF (and fill bytes).
    const void* found = std::memchr(data + pos, 0xFF, size - pos);
    if (found == nullptr) break;
    pos = static_cast<size_t>(static_cast<const uint8_t*>(found) - data);
    while (pos < size && data[pos] == 0xFF) ++pos;
    if (pos >= size) break;
    const uint8_t marker = data[pos++];
    if (marker == kEndOfImage) {
      layout.complete = true;
      break;
    }
    if (marker == 0x00 || marker == 0x01 || isRestart(marker) || marker == kStartOfImage) continue;
    if (pos + 2 > size) break;
    const size_t length = (size_t{data[pos]} << 8) | data[pos + 1];
    if (length < 2 || pos + length > size) break;
    const uint8_t* payload = data + pos + 2;
    const size_t payloadSize = length - 2;
    pos += length;
    if (marker == kApp0 && payloadSize >= 5 && std::memcmp(payload, "JFIF\0", 5) == 0) {
      sawJfif = true;
    } else if (marker == kApp14 && payloadSize >= 12 && std::memcmp(payload, "Adobe", 5) == 0) {
      sawAdobe = true;
      adobeTransform = payload[11];
    } else if (isStartOfFrame(marker) && layout.components == 0 && payloadSize >= 6) {
      layout.components = payload[5];
      for (int c = 0; c < 3 && c < layout.components && 6 + 3 * static_cast<size_t>(c) < payloadSize; ++c) {
        componentIds[c] = payload[6 + 3 * c];
      }
    } else if (marker == kStartOfScan) {
      ++layout.scans;
      pos = skipEntropyCodedData(data, size, pos);
    }
  }
  // libjpeg's guess of the colour space of a 3-component file (jdapimin.c), where RGB means no
  // YCbCr conversion at all.
  if (layout.components == 3 && !sawJfif) {
    layout.storedAsRgb = sawAdobe ? adobeTransform == 0
                                  : componentIds[0] == 'R' && componentIds[1] == 'G' && componentIds[2] == 'B';
  }
  return layout;
}

}  // namespace sluice::image
