#pragma once
// What every CUDA test shares: skip, saying why, where no GPU is visible.

#include <gtest/gtest.h>

#include "backend/cuda/cuda_devices.h"

#define SKIP_WITHOUT_GPU()                                                                            \
  do {                                                                                                \
    if (::sluice::backend::cuda::probeCuda().gpus.empty()) {                                          \
      GTEST_SKIP() << "no GPU: " << ::sluice::backend::cuda::probeCuda().problem;                     \
    }                                                                                                 \
  } while (false)
