#include "backend/cuda/gpu_jpeg_decoder.h"

#include <cuda_runtime.h>
#include <nvjpeg.h>

#include <algorithm>
#include <cstring>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/gpu_jpeg_decoder_kernels.h"
#include "image/jpeg_decoder.h"
#include "image/jpeg_layout.h"

namespace sluice::backend::cuda {

namespace {

Status nvjpegError(nvjpegStatus_t status, const char* call) {
  if (status == NVJPEG_STATUS_SUCCESS) return Status::OK();
  return Status::Internal(std::string("nvJPEG error ") + std::to_string(static_cast<int>(status)) + " in " + call);
}

#define SLUICE_NVJPEG_RETURN_IF_ERROR(call) SLUICE_RETURN_IF_ERROR(nvjpegError((call), #call))

// Decoded and first-pass bytes a batch may hold on the device; a batch of huge photos is cut short
// of it.
constexpr int64_t kMaxBytesPerBatch = int64_t{512} << 20;
// nvJPEG rounds its own allocations up to this, so that batches of slightly different sizes reuse
// its buffers instead of freeing and allocating them again (cudaFree waits for the whole GPU).
constexpr size_t kNvjpegMemoryPadding = size_t{8} << 20;
// Larger images go to the CPU decoder, which is no slower per pixel for such rare files.
constexpr int64_t kMaxPixels = int64_t{64} << 20;
constexpr int64_t kAlignment = 256;

int64_t alignUp(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Growing device or pinned memory: reallocated only when a batch needs more than it holds.
template <typename Buffer>
Status ensureBytes(Buffer& buffer, int64_t bytes) {
  if (buffer.bytes() >= bytes) return Status::OK();
  return buffer.allocate(std::max(bytes, buffer.bytes() * 3 / 2));
}

}  // namespace

struct GpuJpegDecoder::Impl {
  GpuJpegDecoderOptions options;
  std::string backendName;
  std::string hardwareUnavailable;  // why the hardware backend is not used; empty when it is
  bool hardware = false;
  nvjpegHandle_t handle = nullptr;
  nvjpegJpegState_t state = nullptr;
  nvjpegJpegStream_t parsedStream = nullptr;  // hardware: asks the engine whether it takes an image
  cudaStream_t stream = nullptr;
  DeviceBuffer decoded;
  DeviceBuffer intermediate;
  DeviceBuffer coefficients;
  DeviceBuffer crops;
  DeviceBuffer jobsOnDevice;
  PinnedBuffer jobsOnHost;
  PinnedBuffer cropsOnHost;
  int64_t engineRefusals = 0;  // hardware engine calls that failed, halved batches' included

  // Destroys in reverse order of creation; errors are ignored (a destructor never fails).
  ~Impl() {
    // Handles and states belong to the device current when they were made (the pipeline destroys
    // decoders on another thread).
    cudaSetDevice(options.deviceIndex);
    if (stream) cudaStreamSynchronize(stream);
    if (parsedStream) nvjpegJpegStreamDestroy(parsedStream);
    if (state) nvjpegJpegStateDestroy(state);
    if (handle) nvjpegDestroy(handle);
    if (stream) cudaStreamDestroy(stream);
  }

  // An image the GPU takes, with its place in the batch's buffers.
  struct Accepted {
    size_t request = 0;
    int width = 0;
    int height = 0;
    ResizeCropJob job;
  };

  // Whether the GPU should decode this image, and its size when so.
  bool accept(const GpuDecodeRequest& request, int& width, int& height) {
    const image::JpegLayout layout = image::readJpegLayout(request.data, request.size);
    // A JPEG cut short is left to the CPU decoder, which reports it as libjpeg does: nvJPEG (the
    // hardware engine above all) may decode it without complaint. RGB-coded files are too: nvJPEG
    // is not known to read the Adobe marker that tells libjpeg not to convert from YCbCr.
    if (!layout.complete || layout.scans < 1 || layout.storedAsRgb) return false;
    // The engine decodes single-scan files only; a file the CPU would refuse for its scan count
    // must be refused the same way.
    if (layout.scans > (hardware ? 1 : image::kMaxProgressiveScans)) return false;
    int components = 0;
    nvjpegChromaSubsampling_t subsampling{};
    int widths[NVJPEG_MAX_COMPONENT] = {};
    int heights[NVJPEG_MAX_COMPONENT] = {};
    if (nvjpegGetImageInfo(handle, request.data, request.size, &components, &subsampling, widths, heights) !=
        NVJPEG_STATUS_SUCCESS) {
      return false;
    }
    // Four components are CMYK or YCCK, which PIL converts with rules nvJPEG does not follow.
    if ((components != 1 && components != 3) || subsampling == NVJPEG_CSS_UNKNOWN) return false;
    width = widths[0];
    height = heights[0];
    if (width < 1 || height < 1 || int64_t{width} * height > kMaxPixels) return false;
    if (hardware) {
      // The engine decodes 4:4:4, 4:2:2, 4:2:0, 4:4:0 and grey (NVIDIA's nvImageCodec filters the
      // same way before asking nvJPEG); the rest goes to the CPU.
      if (subsampling == NVJPEG_CSS_411 || subsampling == NVJPEG_CSS_410 || subsampling == NVJPEG_CSS_410V) {
        return false;
      }
      // The header is all nvjpegDecodeBatchedSupported reads.
      if (nvjpegJpegStreamParseHeader(handle, request.data, request.size, parsedStream) != NVJPEG_STATUS_SUCCESS) {
        return false;
      }
      int unsupported = 1;
      if (nvjpegDecodeBatchedSupported(handle, parsedStream, &unsupported) != NVJPEG_STATUS_SUCCESS ||
          unsupported != 0) {
        return false;  // e.g. progressive or arithmetic-coded: the engine decodes baseline only
      }
    }
    return true;
  }

  // Decodes batch[first, last) on the hardware engine; sets `done` for the images decoded. One image
  // the engine refuses for its data fails its whole batch, so such a batch is halved and each half
  // tried again: a bad image costs a few more engine calls, not its batch-mates' trip to the CPU.
  // Any other failure leaves the range to the CPU decoders (slower, never wrong).
  Status decodeOnEngine(const std::vector<GpuDecodeRequest>& requests, const std::vector<Accepted>& batch,
                        std::vector<nvjpegImage_t>& outputs, size_t first, size_t last, std::vector<bool>& done) {
    const size_t count = last - first;
    // Initializing the state while a decode queued before (a half that succeeded, a refused call,
    // the last batch of the previous decode()) still runs is not allowed; this also surfaces a
    // sticky error. The stream is idle nearly always, so it costs nothing.
    SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    std::vector<const unsigned char*> data(count);
    std::vector<size_t> lengths(count);
    for (size_t i = 0; i < count; ++i) {
      data[i] = requests[batch[first + i].request].data;
      lengths[i] = requests[batch[first + i].request].size;
    }
    if (nvjpegDecodeBatchedInitialize(handle, state, static_cast<int>(count), 1, NVJPEG_OUTPUT_RGBI) !=
        NVJPEG_STATUS_SUCCESS) {
      ++engineRefusals;
      return Status::OK();  // this range goes to the CPU
    }
    const nvjpegStatus_t status =
        nvjpegDecodeBatched(handle, state, data.data(), lengths.data(), outputs.data() + first, stream);
    if (status == NVJPEG_STATUS_SUCCESS) {
      for (size_t i = first; i < last; ++i) done[batch[i].request] = true;
      return Status::OK();
    }
    ++engineRefusals;
    // INVALID_PARAMETER too: the A100's engine has answered so for images it could not take (DALI
    // issue 3159). Allocation and architecture failures are not the images'.
    const bool refusedForData = status == NVJPEG_STATUS_BAD_JPEG || status == NVJPEG_STATUS_JPEG_NOT_SUPPORTED ||
                                status == NVJPEG_STATUS_INCOMPLETE_BITSTREAM ||
                                status == NVJPEG_STATUS_EXECUTION_FAILED || status == NVJPEG_STATUS_INVALID_PARAMETER;
    // One image, or a failure that is not the images': left to the CPU, which words a corrupt
    // image's error.
    if (count == 1 || !refusedForData) return Status::OK();
    const size_t middle = first + count / 2;
    SLUICE_RETURN_IF_ERROR(decodeOnEngine(requests, batch, outputs, first, middle, done));
    return decodeOnEngine(requests, batch, outputs, middle, last, done);
  }

  // Decodes the accepted images into the decoded arena; sets `done` for those decoded.
  Status decodeAll(const std::vector<GpuDecodeRequest>& requests, const std::vector<Accepted>& batch,
                   std::vector<bool>& done) {
    std::vector<nvjpegImage_t> outputs(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      outputs[i].channel[0] = decoded.as<uint8_t>() + batch[i].job.sourceOffset;
      outputs[i].pitch[0] = static_cast<size_t>(batch[i].width) * 3;
    }
    if (hardware) return decodeOnEngine(requests, batch, outputs, 0, batch.size(), done);
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& request = requests[batch[i].request];
      done[batch[i].request] = nvjpegDecode(handle, state, request.data, request.size, NVJPEG_OUTPUT_RGBI,
                                            &outputs[i], stream) == NVJPEG_STATUS_SUCCESS;
      // The state's staging buffers serve the next image: let this one's copies finish first.
      SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    }
    return Status::OK();
  }

  // One batch: decode, resize + crop on the device, crops back to the requests.
  Status decodeBatch(const std::vector<GpuDecodeRequest>& requests, std::vector<Accepted>& batch,
                     int64_t decodedBytes, std::vector<bool>& done) {
    const int cropSize = options.resizeCrop.cropSize;
    SLUICE_RETURN_IF_ERROR(ensureBytes(decoded, decodedBytes));
    SLUICE_RETURN_IF_ERROR(decodeAll(requests, batch, done));
    std::erase_if(batch, [&](const Accepted& image) { return !done[image.request]; });
    if (batch.empty()) return Status::OK();

    std::vector<ResizeCropJob> jobs;
    jobs.reserve(batch.size());
    for (const auto& image : batch) jobs.push_back(image.job);
    const ResizeCropPlan plan = planResizeCrop(jobs, cropSize);
    const auto numJobs = static_cast<int64_t>(batch.size());
    const int64_t cropBytes = int64_t{cropSize} * cropSize * 3;
    SLUICE_RETURN_IF_ERROR(ensureBytes(intermediate, plan.intermediateBytes));
    SLUICE_RETURN_IF_ERROR(ensureBytes(
        coefficients, numJobs * resizeCoefficientCount(cropSize, plan.tapStride) * int64_t{sizeof(int32_t)}));
    SLUICE_RETURN_IF_ERROR(ensureBytes(crops, numJobs * cropBytes));
    SLUICE_RETURN_IF_ERROR(ensureBytes(cropsOnHost, numJobs * cropBytes));
    SLUICE_RETURN_IF_ERROR(ensureBytes(jobsOnDevice, numJobs * int64_t{sizeof(ResizeCropJob)}));
    SLUICE_RETURN_IF_ERROR(ensureBytes(jobsOnHost, numJobs * int64_t{sizeof(ResizeCropJob)}));
    std::copy(jobs.begin(), jobs.end(), jobsOnHost.as<ResizeCropJob>());
    SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(jobsOnDevice.data(), jobsOnHost.data(),
                                                numJobs * sizeof(ResizeCropJob), cudaMemcpyHostToDevice, stream));
    SLUICE_CUDA_RETURN_IF_ERROR(launchResizeCrop(jobsOnDevice.as<ResizeCropJob>(), static_cast<int>(numJobs),
                                                 cropSize, plan, decoded.as<uint8_t>(), intermediate.as<uint8_t>(),
                                                 coefficients.as<int32_t>(), crops.as<uint8_t>(), stream));
    SLUICE_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(cropsOnHost.data(), crops.data(), numJobs * cropBytes, cudaMemcpyDeviceToHost, stream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    for (int64_t i = 0; i < numJobs; ++i) {
      std::memcpy(requests[batch[i].request].crop, cropsOnHost.as<uint8_t>() + i * cropBytes, cropBytes);
    }
    return Status::OK();
  }
};

GpuJpegDecoder::GpuJpegDecoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpuJpegDecoder::~GpuJpegDecoder() = default;

const std::string& GpuJpegDecoder::backendName() const { return impl_->backendName; }
const std::string& GpuJpegDecoder::hardwareUnavailable() const { return impl_->hardwareUnavailable; }
int64_t GpuJpegDecoder::engineRefusals() const { return impl_->engineRefusals; }

Result<std::unique_ptr<GpuJpegDecoder>> GpuJpegDecoder::Make(const GpuJpegDecoderOptions& options) {
  SLUICE_RETURN_IF_ERROR(image::validate(options.resizeCrop));
  if (options.maxBatchImages < 1) return Status::InvalidArgument("the GPU decode batch must hold at least one image");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(options.deviceIndex));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  // The hardware engine (A100, H100, ...) where the GPU has one; nvJPEG answers "not supported" or
  // "arch mismatch" elsewhere, and the default backend decodes on the CUDA cores instead.
  // Chroma is upsampled by interpolation, as libjpeg-turbo (and so Pillow) does; nvJPEG's default
  // repeats each chroma sample, which moves pixels of 4:2:0 files far past the fidelity bounds.
  const unsigned int flags = NVJPEG_FLAGS_UPSAMPLING_WITH_INTERPOLATION;
  if (!options.allowHardwareBackend) {
    impl->hardwareUnavailable = "not allowed";
  } else {
    const nvjpegStatus_t created = nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE, nullptr, nullptr, flags, &impl->handle);
    unsigned int engines = 0;
    unsigned int coresPerEngine = 0;
    if (created != NVJPEG_STATUS_SUCCESS) {
      impl->handle = nullptr;
      impl->hardwareUnavailable = "nvjpegCreateEx answered status " + std::to_string(static_cast<int>(created));
    } else if (const nvjpegStatus_t info = nvjpegGetHardwareDecoderInfo(impl->handle, &engines, &coresPerEngine);
               info != NVJPEG_STATUS_SUCCESS || engines == 0) {
      // A GPU partition (MIG) may come without decode engines although the GPU has them.
      impl->hardwareUnavailable = info != NVJPEG_STATUS_SUCCESS
                                      ? "nvjpegGetHardwareDecoderInfo answered status " +
                                            std::to_string(static_cast<int>(info))
                                      : "the GPU has no JPEG decode engines";
      nvjpegDestroy(impl->handle);
      impl->handle = nullptr;
    }
  }
  impl->hardware = impl->hardwareUnavailable.empty();
  if (!impl->hardware) {
    SLUICE_NVJPEG_RETURN_IF_ERROR(nvjpegCreateEx(NVJPEG_BACKEND_DEFAULT, nullptr, nullptr, flags, &impl->handle));
  }
  impl->backendName = impl->hardware ? "hardware" : "hybrid";
  SLUICE_NVJPEG_RETURN_IF_ERROR(nvjpegSetDeviceMemoryPadding(kNvjpegMemoryPadding, impl->handle));
  SLUICE_NVJPEG_RETURN_IF_ERROR(nvjpegSetPinnedMemoryPadding(kNvjpegMemoryPadding, impl->handle));
  SLUICE_NVJPEG_RETURN_IF_ERROR(nvjpegJpegStateCreate(impl->handle, &impl->state));
  if (impl->hardware) SLUICE_NVJPEG_RETURN_IF_ERROR(nvjpegJpegStreamCreate(impl->handle, &impl->parsedStream));
  return std::unique_ptr<GpuJpegDecoder>(new GpuJpegDecoder(std::move(impl)));
}

Result<std::vector<bool>> GpuJpegDecoder::decode(const std::vector<GpuDecodeRequest>& requests) {
  Impl& impl = *impl_;
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(impl.options.deviceIndex));
  const auto& resizeCrop = impl.options.resizeCrop;
  std::vector<bool> done(requests.size(), false);
  std::vector<Impl::Accepted> batch;
  int64_t decodedBytes = 0;
  int64_t batchBytes = 0;  // decoded and first-pass bytes
  for (size_t i = 0; i < requests.size(); ++i) {
    int width = 0;
    int height = 0;
    if (!impl.accept(requests[i], width, height)) continue;
    Impl::Accepted image;
    image.request = i;
    image.width = width;
    image.height = height;
    image.job = resizeCropJob(width, height, resizeCrop.resizeSize, resizeCrop.cropSize);
    const int64_t imageBytes = alignUp(int64_t{width} * height * 3);
    const int64_t imageBatchBytes = imageBytes + firstPassBytes(image.job, resizeCrop.cropSize);
    if (!batch.empty() && (static_cast<int>(batch.size()) >= impl.options.maxBatchImages ||
                           batchBytes + imageBatchBytes > kMaxBytesPerBatch)) {
      SLUICE_RETURN_IF_ERROR(impl.decodeBatch(requests, batch, decodedBytes, done));
      batch.clear();
      decodedBytes = 0;
      batchBytes = 0;
    }
    image.job.sourceOffset = decodedBytes;
    batch.push_back(image);
    decodedBytes += imageBytes;
    batchBytes += imageBatchBytes;
  }
  if (!batch.empty()) SLUICE_RETURN_IF_ERROR(impl.decodeBatch(requests, batch, decodedBytes, done));
  return done;
}

}  // namespace sluice::backend::cuda
