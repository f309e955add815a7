#pragma once
// Model-only throughput on one GPU (`sluice model-bench --device cuda`): the forward pass alone,
// input already on the device, replayed as a CUDA graph and timed with CUDA events, as PyTorch's
// model-only figures are measured. No CUDA headers: the CLI includes this file.

#include <cstdint>
#include <string>

#include "backend/inference_backend.h"
#include "backend/op_profile.h"

namespace sluice::backend::cuda {

struct ModelBenchmark {
  double setupSeconds = 0;  // model load, algorithm choice, allocation, first run, graph capture
  StepSeconds setupSteps;   // the same, step by step
  double seconds = 0;       // the timed iterations
  bool graph = false;       // replayed as a CUDA graph (else eager launches)
  std::string device;
  /// With profileRuns > 0: each op's time over that many eager passes after the timed ones, or
  /// why none could be taken (the throughput above stands either way).
  ModelProfile profile;
  std::string profileError;
};

struct ModelBenchmarkOptions {
  std::string modelPath;
  int deviceIndex = 0;
  Precision precision = Precision::kFp16;
  int64_t batchSize = 256;
  int warmup = 2;
  int iterations = 10;
  bool timeAlgorithms = false;
  std::string algorithmCachePath;  // with timeAlgorithms: as BackendOptions::algorithmCachePath
  int profileRuns = 0;             // > 0: profile the ops over this many eager passes after timing
};

Result<ModelBenchmark> benchmarkModel(const ModelBenchmarkOptions& options);

}  // namespace sluice::backend::cuda
