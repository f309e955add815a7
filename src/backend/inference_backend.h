#pragma once
// The one interface every inference backend (CPU, CUDA) implements for the engine.

#include <cstdint>
#include <memory>
#include <string>

#include "image/preprocess.h"
#include "sluice/status.h"

namespace sluice::backend {

struct BackendOptions {
  std::string modelPath;
  std::string device = "cpu";
  int64_t batchSize = 32;
  int cropHeight = 224;
  int cropWidth = 224;
  image::Normalization normalization = image::Normalization::kImagenet;
  int threads = 0;  // 0: every core
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;

  /// Runs the model on `count` (<= the configured batch size) uint8 HWC crops laid out one after the
  /// other, normalizing them first, and writes count x numClasses() float32 outputs.
  /// Called from one worker thread at a time.
  virtual Status infer(const uint8_t* crops, int64_t count, float* outputs) = 0;

  /// Values per image in the model output (1,000 for ImageNet classifiers).
  virtual int64_t numClasses() const = 0;
  /// True when the model already ends in Softmax, so its outputs need no softmax for scores.
  virtual bool outputsProbabilities() const = 0;
  /// Host memory the backend holds (weights, activations, staging buffers), for memory budgeting.
  virtual int64_t memoryBytes() const = 0;
  /// The device in words, for the report ("cpu (2 threads, oneDNN)").
  virtual std::string deviceName() const = 0;
};

}  // namespace sluice::backend
