#pragma once
// Runs a model graph on one GPU for one batch size: cuDNN convolutions in NHWC with bias, residual
// Add and ReLU fused into the convolution call, sluice kernels for the rest. Weights, activations
// (one liveness-packed arena) and the cuDNN workspace are allocated once, at Make; enqueue() only
// launches work, so it can be captured into a CUDA graph.

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/kernels.h"
#include "backend/inference_backend.h"
#include "backend/op_profile.h"
#include "model/graph.h"
#include "sluice/status.h"

namespace sluice::backend::cuda {

struct CudaExecutorOptions {
  int device = 0;
  Precision precision = Precision::kFp16;
  int64_t batchSize = 256;
  /// Time each cuDNN algorithm that runs, fused and plain (with the epilogue kernel), and keep the
  /// fastest (else the first that runs, fused first).
  bool timeAlgorithms = false;
  /// With timeAlgorithms, when set: choices found here are run instead of timed (unless they fail),
  /// and every choice is put here for the caller to save. Used by one executor's Make at a time.
  AlgorithmCache* algorithmCache = nullptr;
  /// When set, Make records its steps on it (cuDNN handle, lowering, weights, validation).
  StepClock* clock = nullptr;
};

class CudaExecutor {
 public:
  /// Prepares `graph` (after model::runStandardPasses) on options.device, which must be current.
  /// Unsupported op configurations -> Unsupported naming the node.
  static Result<std::unique_ptr<CudaExecutor>> Make(const model::Graph& graph, const CudaExecutorOptions& options);
  /// Make's lowering of `graph` on the host alone (no GPU needed, none touched): every refusal the
  /// model's structure would get, and cuDNN's output size from each convolution's and pooling's
  /// descriptors checked against the graph's. What Make decides on the device (algorithms, whether
  /// a fused call or capture runs) is not checked.
  static Status CheckModel(const model::Graph& graph, const CudaExecutorOptions& options);
  /// CheckModel's lowering, and what profile() would time, on the host: one row per op (and one for
  /// each convolution's epilogue kernel where the fused call is not used) with its cost and no time.
  /// Fusion and algorithms are chosen on the device, so every convolution reads as fused here.
  static Result<std::vector<OpTiming>> DescribeOps(const model::Graph& graph, const CudaExecutorOptions& options);
  ~CudaExecutor();

  /// Enqueues the forward pass on `stream`: reads input(), writes output(). Launches only.
  Status enqueue(cudaStream_t stream);

  /// Runs the forward pass `runs` times on `stream`, launching op by op with a CUDA event after
  /// each, and returns DescribeOps' rows with each op's mean time and the algorithms chosen. For
  /// finding where time goes, not for throughput: the events and eager launches add gaps a graph
  /// replay does not have. Waits for the stream; called from one thread at a time, not during capture.
  Result<std::vector<OpTiming>> profile(cudaStream_t stream, int runs);

  /// The model input on the device: batchSize x H x W x inputChannels() (NHWC) in storageType();
  /// channels past the model's 3 (padding for tensor-core kernels) must be zero.
  void* input() const;
  int inputChannels() const;
  std::array<int64_t, 3> inputShape() const;  // the model's C, H, W
  /// The model output on the device: batchSize x outputSize() in storageType().
  const void* output() const;
  int64_t outputSize() const;
  StorageType storageType() const;
  /// True when the model ends in Softmax.
  bool outputsProbabilities() const;
  /// Device memory held: weights, activation arena, workspace.
  int64_t deviceBytes() const;
  /// "54 of 54 convolutions (25 signatures) fused with bias/add/ReLU" (a Gemm counts as a 1x1
  /// convolution) and similar, for the report; with an algorithm cache, ", algorithms of 25 of 25
  /// signatures from the cache".
  std::string summary() const;

 private:
  struct State;
  explicit CudaExecutor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::backend::cuda
