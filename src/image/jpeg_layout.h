#pragma once
// A JPEG's structure read from its markers, without decoding: what a decoder other than
// libjpeg-turbo (nvJPEG on the GPU) must know to leave to the CPU the files it would decode
// differently from libjpeg and Pillow.

#include <cstddef>
#include <cstdint>

namespace sluice::image {

struct JpegLayout {
  /// The markers lead, segment by segment and scan by scan, to the end-of-image marker: the file is
  /// not cut short (libjpeg would report a premature end of data otherwise).
  bool complete = false;
  /// Start-of-scan markers: 1 for a baseline file, several for a progressive (or multi-scan) one.
  int scans = 0;
  /// Components of the first frame header (1 greyscale, 3 colour, 4 CMYK/YCCK); 0 when none was read.
  int components = 0;
  /// Three components that libjpeg reads as RGB, without YCbCr conversion: an Adobe marker with
  /// transform 0 and no JFIF marker, or (with neither) the component ids 'R', 'G', 'B'.
  bool storedAsRgb = false;
};

/// Walks the markers of `data` (which must start with the start-of-image marker; else nothing is
/// read and `complete` is false). Linear in `size`; never reads outside [data, data + size).
JpegLayout readJpegLayout(const uint8_t* data, size_t size);

}  // namespace sluice::image
