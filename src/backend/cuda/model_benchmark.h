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

Result<ModelBenchmark> benchmarkModel(const std::string& modelPath, int deviceIndex, Precision precision,
                                      int64_t batchSize, int warmup, int iterations, bool timeAlgorithms = false,
                                      int profileRuns = 0);

}  // namespace sluice::backend::cuda
