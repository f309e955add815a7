#pragma once
// SLUICE_HOST_DEVICE marks a function that the kernels call on the GPU and the host tests call on the
// CPU, so that its arithmetic is checked on machines without a GPU. No CUDA headers.

#if defined(__CUDACC__)
#define SLUICE_HOST_DEVICE __host__ __device__
#else
#define SLUICE_HOST_DEVICE
#endif
