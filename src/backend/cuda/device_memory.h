#pragma once
// Owning handles for CUDA memory and cuDNN descriptors: freed when they go out of scope, moved
// never copied.

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>

#include "backend/cuda/cuda_check.h"

namespace sluice::backend::cuda {

/// Memory from a CUDA allocator, freed with its matching free function.
template <cudaError_t (*Free)(void*)>
class OwnedMemory {
 public:
  OwnedMemory() = default;
  OwnedMemory(OwnedMemory&& other) noexcept : data_(other.data_), bytes_(other.bytes_) { other.data_ = nullptr; }
  OwnedMemory& operator=(OwnedMemory&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~OwnedMemory() { release(); }

  void* data() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  int64_t bytes() const { return bytes_; }

 protected:
  void release() {
    if (data_) Free(data_);
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data_ = nullptr;
  int64_t bytes_ = 0;
};

/// Device memory (cudaMalloc).
class DeviceBuffer : public OwnedMemory<cudaFree> {
 public:
  Status allocate(int64_t bytes) {
    release();
    if (bytes == 0) return Status::OK();
    cudaError_t error = cudaMalloc(&data_, static_cast<size_t>(bytes));
    if (error == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return Status::InvalidArgument("the GPU has not enough free memory for " + std::to_string(bytes >> 20) +
                                     " MiB more; use a smaller --batch-size");
    }
    if (error == cudaSuccess) bytes_ = bytes;
    return cudaStatus(error, "cudaMalloc");
  }
};

/// Page-locked host memory (cudaHostAlloc), which the GPU copies to and from asynchronously.
class PinnedBuffer : public OwnedMemory<cudaFreeHost> {
 public:
  Status allocate(int64_t bytes) {
    release();
    if (bytes == 0) return Status::OK();
    cudaError_t error = cudaHostAlloc(&data_, static_cast<size_t>(bytes), cudaHostAllocPortable);
    if (error == cudaSuccess) {
      bytes_ = bytes;
    } else {
      data_ = nullptr;
      cudaGetLastError();  // returned below; a later launch must not read it as its own
    }
    return cudaStatus(error, "cudaHostAlloc");
  }
};

/// A cuDNN descriptor or handle, or a CUDA event, with its destroy function.
template <typename T, auto Destroy>
class OwnedHandle {
 public:
  OwnedHandle() = default;
  OwnedHandle(OwnedHandle&& other) noexcept : value_(other.value_) { other.value_ = nullptr; }
  OwnedHandle& operator=(OwnedHandle&& other) noexcept {
    std::swap(value_, other.value_);
    return *this;
  }
  ~OwnedHandle() {
    if (value_) Destroy(value_);
  }
  T* out() { return &value_; }
  T get() const { return value_; }

 private:
  T value_ = nullptr;
};

using TensorDescriptor = OwnedHandle<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = OwnedHandle<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor = OwnedHandle<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;
using ActivationDescriptor = OwnedHandle<cudnnActivationDescriptor_t, cudnnDestroyActivationDescriptor>;
using PoolingDescriptor = OwnedHandle<cudnnPoolingDescriptor_t, cudnnDestroyPoolingDescriptor>;
using CudnnHandle = OwnedHandle<cudnnHandle_t, cudnnDestroy>;
using CudaEvent = OwnedHandle<cudaEvent_t, cudaEventDestroy>;

}  // namespace sluice::backend::cuda
