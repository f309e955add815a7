#pragma once
// The one interface every inference backend (CPU, CUDA) implements for the engine.
//
// A backend owns `slots()` input slots, each holding one batch: the caller writes uint8 HWC crops
// into a slot, launches it, and later waits for it. A backend that can overlap work (the CUDA one:
// the copy of batch n+1 while batch n computes) has two or more slots and returns from launch()
// before the batch is done; the CPU backend has one slot and runs the batch inside launch().

#include <cstdint>
#include <string>

#include "core/step_clock.h"
#include "image/preprocess.h"
#include "sluice/status.h"

namespace sluice::backend {

/// Arithmetic the model runs in. kFp32 is true FP32 (no TF32 tensor-core math).
enum class Precision { kFp32, kTf32, kFp16, kBf16 };

/// "fp32", "tf32", "fp16", "bf16" -> Precision; anything else -> InvalidArgument naming the choices.
Result<Precision> parsePrecision(const std::string& name);
std::string precisionName(Precision precision);

struct BackendOptions {
  std::string modelPath;
  std::string device = "cpu";  // "cpu" or "cuda"
  int deviceIndex = 0;         // CUDA: the GPU ordinal
  int64_t batchSize = 32;
  int cropHeight = 224;
  int cropWidth = 224;
  image::Normalization normalization = image::Normalization::kImagenet;
  Precision precision = Precision::kFp32;
  int topk = 5;                // classes returned per image (at most numClasses())
  bool returnLogits = false;   // also return the raw model outputs
  int threads = 0;             // CPU: inference threads; 0: every core
  /// CUDA: time every cuDNN convolution algorithm that runs and keep the fastest, instead of the
  /// heuristics' first that runs. Costs start-up time (each candidate runs a few times).
  bool timeConvAlgorithms = false;
  /// CUDA, with timeConvAlgorithms: the file the chosen algorithms are kept in between jobs
  /// (backend/cuda/algorithm_cache.h), so that only the first job on a kind of GPU times them.
  /// Empty: none.
  std::string algorithmCachePath{};
};

/// Results of one batch, in host memory owned by the backend; valid until the slot is launched again.
struct BatchOutputs {
  const int32_t* topkLabels = nullptr;  // count x topk, best first (ties: lower class first)
  const float* topkScores = nullptr;    // count x topk softmax probabilities
  const float* logits = nullptr;        // count x numClasses(); nullptr unless returnLogits
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;

  /// Batches that can be in flight at once.
  virtual int slots() const = 0;
  /// Host buffer of `slot` for up to batchSize crops (cropHeight x cropWidth x 3 uint8 each, one
  /// after the other). Only written between wait(slot) and the next launch(slot).
  virtual uint8_t* inputSlot(int slot) = 0;
  /// Starts the model on the first `count` (1..batchSize) crops of `slot`: normalize, forward pass,
  /// softmax and top-k. May return before the batch is done.
  virtual Status launch(int slot, int64_t count) = 0;
  /// Waits for the batch last launched on `slot` and returns its results.
  virtual Result<BatchOutputs> wait(int slot) = 0;

  /// Values per image in the model output (1,000 for ImageNet classifiers).
  virtual int64_t numClasses() const = 0;
  /// Classes returned per image: min(options.topk, numClasses()).
  virtual int topk() const = 0;
  /// Host memory the backend holds (weights, activations, staging buffers), for memory budgeting.
  virtual int64_t memoryBytes() const = 0;
  /// The device in words, for the report ("cpu (oneDNN, 2 threads)").
  virtual std::string deviceName() const = 0;
  /// What the backend's start-up spent, step by step ("load model", ...), for the report; empty
  /// where a backend does not say.
  virtual StepSeconds startupSteps() const { return {}; }
};

}  // namespace sluice::backend
