#include "backend/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>
#include <climits>
#include <cmath>

#include "backend/cuda/channel_cursor.h"

namespace sluice::backend::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/// Blocks for a grid-stride loop over `count` items: at least one (a launch of zero blocks is an
/// error), at most 65535 * 16.
int blocksFor(int64_t count) {
  int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks < 1) return 1;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

template <typename T>
struct Type {
  using type = T;
};

/// Calls body(Type<T>{}) with T the C++ type of `type`, then returns the launch error (an error an
/// earlier call left behind, whose status its caller handled, is cleared first: it is not the launch's).
template <typename Body>
cudaError_t dispatch(StorageType type, Body body) {
  (void)cudaGetLastError();
  switch (type) {
    case StorageType::kFloat: body(Type<float>{}); break;
    case StorageType::kHalf: body(Type<__half>{}); break;
    case StorageType::kBfloat16: body(Type<__nv_bfloat16>{}); break;
  }
  return cudaGetLastError();
}

template <typename T>
__global__ void normalizeKernel(const uint8_t* crops, int64_t pixels, int channels, const float* table, T* out) {
  __shared__ float shared[3 * 256];
  for (int i = threadIdx.x; i < 3 * 256; i += blockDim.x) shared[i] = table[i];
  __syncthreads();
  for (int64_t p = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; p < pixels; p += int64_t{gridDim.x} * blockDim.x) {
    const uint8_t* source = crops + p * 3;
    T* target = out + p * channels;
    target[0] = fromFloat<T>(shared[source[0]]);
    target[1] = fromFloat<T>(shared[256 + source[1]]);
    target[2] = fromFloat<T>(shared[512 + source[2]]);
    for (int c = 3; c < channels; ++c) target[c] = fromFloat<T>(0.0f);
  }
}

template <typename T>
__global__ void biasAddReluKernel(const T* x, const float* bias, const T* z, T* y, int64_t count, int64_t channels,
                                  bool relu) {
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  ChannelCursor cursor(first, stride, channels);
  for (int64_t i = first; i < count; i += stride, cursor.advance()) {
    float value = toFloat(x[i]);
    if (bias) value += bias[cursor.channel()];
    if (z) value += toFloat(z[i]);
    if (relu) value = fmaxf(value, 0.0f);
    y[i] = fromFloat<T>(value);
  }
}

template <typename T>
__global__ void globalAveragePoolKernel(const T* x, T* y, int64_t n, int64_t spatial, int64_t channels) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n * channels; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t image = i / channels, c = i % channels;
    const T* source = x + image * spatial * channels + c;
    float sum = 0.0f;
    for (int64_t s = 0; s < spatial; ++s) sum += toFloat(source[s * channels]);
    y[i] = fromFloat<T>(sum / static_cast<float>(spatial));
  }
}

template <typename T>
__global__ void nhwcToNchwKernel(const T* x, T* y, int64_t n, int64_t spatial, int64_t channels) {
  const int64_t total = n * spatial * channels;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t image = i / (spatial * channels), rest = i % (spatial * channels);
    const int64_t c = rest / spatial, s = rest % spatial;  // i indexes the NCHW output
    y[i] = x[(image * spatial + s) * channels + c];
  }
}

/// Max and arg-max over a warp, ties to the lower index; lane 0 gets the result.
template <typename Value>
__device__ void warpArgMax(Value& value, int& index) {
  for (int offset = 16; offset > 0; offset /= 2) {
    Value otherValue = __shfl_down_sync(0xffffffff, value, offset);
    int otherIndex = __shfl_down_sync(0xffffffff, index, offset);
    if (otherValue > value || (otherValue == value && otherIndex < index)) {
      value = otherValue;
      index = otherIndex;
    }
  }
}

/// Max and arg-max over a block, ties to the lower index; every thread gets the result.
template <typename Value>
__device__ void blockArgMax(Value value, int index, Value& bestValue, int& bestIndex) {
  __shared__ Value values[32];
  __shared__ int indices[32];
  warpArgMax(value, index);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    values[warp] = value;
    indices[warp] = index;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) / 32;
    value = lane < warps ? values[lane] : -INFINITY;
    index = lane < warps ? indices[lane] : INT_MAX;
    warpArgMax(value, index);
    if (lane == 0) {
      values[0] = value;
      indices[0] = index;
    }
  }
  __syncthreads();
  bestValue = values[0];
  bestIndex = indices[0];
  __syncthreads();
}

__device__ float blockSum(float value) {
  __shared__ float sums[32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffff, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) / 32;
    value = lane < warps ? sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffff, value, offset);
    if (lane == 0) sums[0] = value;
  }
  __syncthreads();
  float total = sums[0];
  __syncthreads();
  return total;
}

/// The value a class is ranked by: NaN ranks below every number (also -inf, which becomes the
/// lowest double above it), so a row of NaNs still yields k distinct, valid classes, ordered as
/// backend::softmaxTopK orders them.
__device__ __forceinline__ double rankKey(float value) {
  return isnan(value) ? -INFINITY : value == -INFINITY ? -DBL_MAX : static_cast<double>(value);
}

/// One block per row: the row in shared memory as float, its maximum and exp-sum, then k arg-max
/// rounds. Round i takes the best class ranked strictly after round i-1's pick in the order
/// (key descending, class ascending), so the row is never modified and ties resolve to the lower class.
template <typename T>
__global__ void softmaxTopKKernel(const T* outputs, int64_t classes, int k, bool alreadyProbabilities, int32_t* labels,
                                  float* scores, float* logits) {
  extern __shared__ float row[];
  const int64_t r = blockIdx.x;
  const T* source = outputs + r * classes;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
    row[c] = toFloat(source[c]);
    if (logits) logits[r * classes + c] = row[c];
  }
  __syncthreads();
  // NaN outputs take no part in the softmax (fmaxf skips them): the other classes keep their probabilities.
  float maximum;
  int unused;
  float rowMax = -INFINITY;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) rowMax = fmaxf(rowMax, row[c]);
  blockArgMax(rowMax, 0, maximum, unused);
  float sum = 1.0f;
  if (!alreadyProbabilities) {
    float local = 0.0f;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      if (!isnan(row[c])) local += expf(row[c] - maximum);
    }
    sum = blockSum(local);
  }
  double previousKey = INFINITY;
  int previous = -1;
  for (int i = 0; i < k; ++i) {
    double localMax = -INFINITY;
    int localIndex = INT_MAX;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      const double key = rankKey(row[c]);
      const bool after = key < previousKey || (key == previousKey && c > previous);
      if (after && (key > localMax || (key == localMax && c < localIndex))) {
        localMax = key;
        localIndex = static_cast<int>(c);
      }
    }
    blockArgMax(localMax, localIndex, previousKey, previous);
    if (threadIdx.x == 0) {
      labels[r * k + i] = previous;
      scores[r * k + i] = alreadyProbabilities ? row[previous] : expf(row[previous] - maximum) / sum;
    }
  }
}

template <typename T>
__global__ void pool2dKernel(const T* x, T* y, PoolWindow w) {
  const int64_t total = w.n * w.outHeight * w.outWidth * w.channels;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = i % w.channels;
    int64_t rest = i / w.channels;
    const int64_t ox = rest % w.outWidth;
    rest /= w.outWidth;
    const int64_t oy = rest % w.outHeight;
    const int64_t b = rest / w.outHeight;
    const int64_t top = oy * w.strideH - w.padTop;
    const int64_t left = ox * w.strideW - w.padLeft;
    const bool takesMax = w.mode == PoolWindow::Mode::kMax;
    float result = takesMax ? -INFINITY : 0.0f;
    int64_t inside = 0;
    for (int64_t iy = top > 0 ? top : 0; iy < top + w.kernelH && iy < w.height; ++iy) {
      for (int64_t ix = left > 0 ? left : 0; ix < left + w.kernelW && ix < w.width; ++ix) {
        const float v = toFloat(x[((b * w.height + iy) * w.width + ix) * w.channels + c]);
        result = takesMax ? fmaxf(result, v) : result + v;
        ++inside;
      }
    }
    if (w.mode == PoolWindow::Mode::kAverageExcludePadding) {
      result /= static_cast<float>(inside > 0 ? inside : 1);
    } else if (w.mode == PoolWindow::Mode::kAverageIncludePadding) {
      const int64_t rowEnd = min(top + w.kernelH, w.height + w.padBottom), rowBegin = max(top, int64_t{-w.padTop});
      const int64_t colEnd = min(left + w.kernelW, w.width + w.padRight), colBegin = max(left, int64_t{-w.padLeft});
      result /= static_cast<float>((rowEnd - rowBegin) * (colEnd - colBegin));
    }
    y[i] = fromFloat<T>(result);
  }
}

template <typename T>
__global__ void softmaxKernel(const T* x, T* y, int64_t classes) {
  const int64_t r = blockIdx.x;
  const T* source = x + r * classes;
  float localMax = -INFINITY;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) localMax = fmaxf(localMax, toFloat(source[c]));
  float maximum;
  int unused;
  blockArgMax(localMax, 0, maximum, unused);
  float local = 0.0f;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) local += expf(toFloat(source[c]) - maximum);
  const float sum = blockSum(local);
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
    y[r * classes + c] = fromFloat<T>(expf(toFloat(source[c]) - maximum) / sum);
  }
}

template <typename T>
__global__ void castKernel(const float* in, T* out, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = fromFloat<T>(in[i]);
  }
}

__global__ void sleepKernel(int64_t nanoseconds) {
  uint64_t start;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  uint64_t now = start;
  while (now - start < static_cast<uint64_t>(nanoseconds)) {
    __nanosleep(100000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  }
}

}  // namespace

cudaError_t launchNormalize(const uint8_t* crops, int64_t images, int height, int width, int channels,
                            const float* table, StorageType type, void* out, cudaStream_t stream) {
  const int64_t pixels = images * height * width;
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    normalizeKernel<T><<<blocksFor(pixels), kThreads, 0, stream>>>(crops, pixels, channels, table,
                                                                     static_cast<T*>(out));
  });
}

cudaError_t launchBiasAddRelu(const void* x, const float* bias, const void* z, void* y, int64_t count,
                              int64_t channels, bool relu, StorageType type, cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    biasAddReluKernel<T><<<blocksFor(count), kThreads, 0, stream>>>(
        static_cast<const T*>(x), bias, static_cast<const T*>(z), static_cast<T*>(y), count, channels, relu);
  });
}

cudaError_t launchPool2d(const void* x, void* y, const PoolWindow& window, StorageType type, cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    pool2dKernel<T><<<blocksFor(window.n * window.outHeight * window.outWidth * window.channels), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), window);
  });
}

cudaError_t launchGlobalAveragePool(const void* x, void* y, int64_t n, int64_t spatial, int64_t channels,
                                    StorageType type, cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    globalAveragePoolKernel<T><<<blocksFor(n * channels), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), n, spatial, channels);
  });
}

cudaError_t launchNhwcToNchw(const void* x, void* y, int64_t n, int64_t spatial, int64_t channels,
                             StorageType type, cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    nhwcToNchwKernel<T><<<blocksFor(n * spatial * channels), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), n, spatial, channels);
  });
}

cudaError_t launchSoftmax(const void* x, void* y, int64_t rows, int64_t classes, StorageType type,
                          cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmaxKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(static_cast<const T*>(x),
                                                                         static_cast<T*>(y), classes);
  });
}

// A block may use 48 KiB of shared memory without opting in, static and dynamic together; the
// reductions' static arrays take a few hundred bytes of it.
int64_t maxTopKClasses() { return (48 * 1024 - 1024) / sizeof(float); }

cudaError_t launchSoftmaxTopK(const void* outputs, int64_t rows, int64_t classes, int k, bool alreadyProbabilities,
                              StorageType type, int32_t* labels, float* scores, float* logits, cudaStream_t stream) {
  if (classes > maxTopKClasses() || k > classes) return cudaErrorInvalidValue;
  const size_t shared = static_cast<size_t>(classes) * sizeof(float);
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmaxTopKKernel<T><<<static_cast<unsigned>(rows), kThreads, shared, stream>>>(
        static_cast<const T*>(outputs), classes, k, alreadyProbabilities, labels, scores, logits);
  });
}

cudaError_t launchCast(const float* in, void* out, int64_t count, StorageType type, cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    castKernel<T><<<blocksFor(count), kThreads, 0, stream>>>(in, static_cast<T*>(out), count);
  });
}

cudaError_t launchSleep(int64_t nanoseconds, cudaStream_t stream) {
  (void)cudaGetLastError();
  sleepKernel<<<1, 1, 0, stream>>>(nanoseconds);
  return cudaGetLastError();
}

}  // namespace sluice::backend::cuda
