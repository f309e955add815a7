#pragma once
// sluice's own CUDA kernels: what cuDNN does not do for us (input normalization, elementwise
// epilogues that could not be fused, global pooling, softmax, top-k, weight casts, a benchmark
// sleep). Every launcher returns the launch error; activations are NHWC in the storage type.

#include <cuda_runtime.h>

#include <cstdint>

namespace sluice::backend::cuda {

/// How activations and weights are stored on the GPU.
enum class StorageType { kFloat, kHalf, kBfloat16 };

inline int64_t storageBytes(StorageType type) { return type == StorageType::kFloat ? 4 : 2; }

/// uint8 HWC crops (images x height x width x 3) -> NHWC with `channels` (>= 3) channels in `type`:
/// out[..., c] = table[c * 256 + pixel] for c < 3, zero for the padding channels.
/// `table` is 768 floats in device memory (image::normalizationTable).
cudaError_t launchNormalize(const uint8_t* crops, int64_t images, int height, int width, int channels,
                            const float* table, StorageType type, void* out, cudaStream_t stream);

/// y = x + bias[c] + z, then ReLU when `relu`; over `count` NHWC values with `channels` channels
/// (c fastest). bias (always float) and z may be null. y may alias x or z.
cudaError_t launchBiasAddRelu(const void* x, const float* bias, const void* z, void* y, int64_t count,
                              int64_t channels, bool relu, StorageType type, cudaStream_t stream);

/// A 2-D pooling window over NHWC values: output (oh, ow) covers input rows oh * strideH - padTop
/// + [0, kernelH) and the same for columns; positions outside the input are padding.
struct PoolWindow {
  int64_t n = 0, height = 0, width = 0, channels = 0, outHeight = 0, outWidth = 0;
  int kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padTop = 0, padLeft = 0;
  int padBottom = 0, padRight = 0;  // as declared: what count_include_pad counts
  enum class Mode { kMax, kAverageExcludePadding, kAverageIncludePadding } mode = Mode::kMax;
};

/// Pooling where cuDNN declines (e.g. NHWC bf16) or pads differently at the two ends. Max ignores
/// padding; the averages divide by the window's inside positions or by its full size (clipped to
/// the padded input, as ONNX's count_include_pad).
cudaError_t launchPool2d(const void* x, void* y, const PoolWindow& window, StorageType type, cudaStream_t stream);

/// NHWC [n, spatial, channels] -> [n, channels]: the mean over the spatial positions.
cudaError_t launchGlobalAveragePool(const void* x, void* y, int64_t n, int64_t spatial, int64_t channels,
                                    StorageType type, cudaStream_t stream);

/// NHWC [n, h*w, c] -> NCHW [n, c, h*w], so that a Flatten sees the values in ONNX order.
cudaError_t launchNhwcToNchw(const void* x, void* y, int64_t n, int64_t spatial, int64_t channels,
                             StorageType type, cudaStream_t stream);

/// Softmax over the last axis of [rows, classes].
cudaError_t launchSoftmax(const void* x, void* y, int64_t rows, int64_t classes, StorageType type,
                          cudaStream_t stream);

/// For each of `rows` rows of `classes` outputs: the k best classes (highest first, ties to the lower
/// class, NaN below every number, never a class twice) and their softmax probabilities (or the outputs themselves when `alreadyProbabilities`);
/// `logits` (may be null) receives the outputs as float. classes <= maxTopKClasses().
cudaError_t launchSoftmaxTopK(const void* outputs, int64_t rows, int64_t classes, int k, bool alreadyProbabilities,
                              StorageType type, int32_t* labels, float* scores, float* logits, cudaStream_t stream);
int64_t maxTopKClasses();

/// out[i] = in[i] converted to `type` (round to nearest even).
cudaError_t launchCast(const float* in, void* out, int64_t count, StorageType type, cudaStream_t stream);

/// Keeps the stream busy for `nanoseconds` (the benchmark's Sleep op).
cudaError_t launchSleep(int64_t nanoseconds, cudaStream_t stream);

}  // namespace sluice::backend::cuda
