#pragma once
// JPEG decoding on the GPU with nvJPEG, followed by torchvision's Resize + CenterCrop (Pillow's
// antialiased bilinear filter) on the device: encoded bytes in, uint8 HWC crops back in host memory.
// Built only with nvJPEG (SLUICE_WITH_NVJPEG); the header has no CUDA includes so that the engine
// can hold a decoder.
//
// The GPU takes what it decodes the way the CPU would: baseline (and, on the hybrid backend,
// progressive) JPEGs in YCbCr or grey. Anything else -- PNG, CMYK/YCCK, streams nvJPEG cannot
// parse, files whose data does not end in an EOI marker (truncated), formats the hardware engine
// rejects -- is declined and left for the caller to decode on the CPU, which also words the error
// of a row that is really corrupt. A declined image is never an error of the job.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/encoded_image_preprocessor.h"
#include "sluice/status.h"

namespace sluice::backend::cuda {

struct GpuJpegDecoderOptions {
  int deviceIndex = 0;
  /// Resize and crop sizes; the DCT-scaling margin is not used (the GPU decodes at full size).
  image::ResizeCropOptions resizeCrop;
  /// Images decoded together; larger batches keep the decode engines busier.
  int maxBatchImages = 128;
  /// false: the CUDA ("hybrid") backend even where the hardware engine exists (for tests).
  bool allowHardwareBackend = true;
};

/// One image for decode(): the encoded bytes and where its cropSize x cropSize x 3 crop goes.
struct GpuDecodeRequest {
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint8_t* crop = nullptr;  // host memory
};

class GpuJpegDecoder {
 public:
  /// Creates the nvJPEG handle (hardware backend where the GPU has the engine, else the default
  /// one), a stream and its buffers on `options.deviceIndex`.
  static Result<std::unique_ptr<GpuJpegDecoder>> Make(const GpuJpegDecoderOptions& options);
  ~GpuJpegDecoder();
  GpuJpegDecoder(const GpuJpegDecoder&) = delete;
  GpuJpegDecoder& operator=(const GpuJpegDecoder&) = delete;

  /// Decodes, resizes and crops every request it can, in batches of maxBatchImages, and returns one
  /// flag per request: true when its crop was written, false when it was declined (see above) and
  /// must be decoded on the CPU. An error Status means the GPU itself failed (a job error).
  /// Called from one thread at a time; each worker thread owns its decoder.
  Result<std::vector<bool>> decode(const std::vector<GpuDecodeRequest>& requests);

  /// "hardware" (the NVJPG engines) or "hybrid" (CUDA cores and CPU Huffman decoding).
  const std::string& backendName() const;
  /// Why the hardware backend is not used ("the GPU has no JPEG decode engines", a status); empty
  /// when it is.
  const std::string& hardwareUnavailable() const;
  /// Calls to the hardware engine that failed so far (each failed half of a halved batch counts).
  int64_t engineRefusals() const;

 private:
  struct Impl;
  explicit GpuJpegDecoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::backend::cuda
