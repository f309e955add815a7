#pragma once
// The engine for callers that own the data flow (the Python module, Spark tasks): record batches in,
// prediction (or crop) batches out, in the output schema of DESIGN.md. Same pieces as the CLI
// pipeline: RowDecoder for crops, the backend factory for the model, BatchRunner, OutputBatchBuilder.
//
// Batches are pipelined: submit() starts preprocessing a batch on its own threads and returns at once;
// collect() finishes the oldest submitted batch (inference in batches of batchSize, top-k, output).
// Submitting batch n+1 before collecting batch n overlaps its preprocessing with n's inference.

#include <arrow/record_batch.h>

#include <deque>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "backend/inference_backend.h"
#include "engine/job_options.h"
#include "engine/output_batch.h"
#include "engine/pipeline.h"
#include "engine/row_decoder.h"

namespace sluice::engine {

struct BatchPredictorOptions {
  /// kRun: images in, predictions out. kPreprocess: images in, crops out (no model).
  /// kPredict: crops in (shape imageShape, normally cropSize x cropSize), predictions out.
  JobMode mode = JobMode::kRun;
  std::string modelPath;
  std::string imageColumn = "image";
  image::ImageShape imageShape{256, 256, 3};
  int cropSize = 224;
  int resizeSize = 256;           // encoded (JPEG/PNG) images: short side resized to this first
  double dctScalingMargin = 8.0;  // as the CLI's default; see image::ResizeCropOptions
  image::Normalization normalization = image::Normalization::kImagenet;
  int topk = 5;
  bool writeLogits = false;
  std::string device = "cpu";      // cpu, cuda, cuda:N (the GPU a Spark task was given) or auto
  std::string precision = "auto";  // fp32, tf32, fp16, bf16; auto: fp16 on GPUs, fp32 on CPU
  int64_t batchSize = 0;  // 0: the device's default
  int cpuWorkers = 0;     // preprocessing threads per batch; 0: every core
  int threads = 0;        // inference threads on CPU; 0: every core
  bool timeConvAlgorithms = false;  // CUDA: time cuDNN's algorithms at load (BackendOptions)
  std::string cudnnCachePath;       // timed algorithms kept here; "" default place, "none" no cache
  /// Input columns copied to the output (renamed input_<name> when they clash with an output column).
  std::vector<std::string> passThrough;
  /// Where `path` and `row` come from: these input columns (string, int64) when named, else
  /// `sourcePath` for every row and a running row count starting at `firstRow`.
  std::string pathColumn;
  std::string rowColumn;
  std::string sourcePath;
  int64_t firstRow = 0;
  /// An input string column whose non-null values mark rows that already failed (crops written by
  /// a preprocess stage); empty: none.
  std::string errorColumn;
  /// Write logits as list<float32> instead of a fixed-size list, a type Spark (which has no
  /// fixed-size lists) can take as it is. Crops are binary either way.
  bool variableSizeLists = false;
};

class BatchPredictor {
 public:
  /// Loads the model (unless preprocessing only). Errors: bad options, unreadable model.
  static Result<std::unique_ptr<BatchPredictor>> Make(const BatchPredictorOptions& options,
                                                      const BackendFactory& makeBackend);
  ~BatchPredictor();

  /// The output schema for input batches of this schema. Errors: missing columns.
  Result<std::shared_ptr<arrow::Schema>> outputSchema(const arrow::Schema& input) const;

  /// Starts preprocessing `batch`; returns at once. Errors: missing or unusable columns (bad rows
  /// are not errors: they become error rows). Called from one thread at a time, like collect().
  Status submit(std::shared_ptr<arrow::RecordBatch> batch);
  /// Submitted batches not collected yet.
  int64_t pending() const { return static_cast<int64_t>(pending_.size()); }
  /// Finishes the oldest submitted batch and returns its output rows, in input order.
  Result<std::shared_ptr<arrow::RecordBatch>> collect();

  /// submit() then collect(): one batch, no overlap.
  Result<std::shared_ptr<arrow::RecordBatch>> process(std::shared_ptr<arrow::RecordBatch> batch);

  /// "cpu (2 threads, oneDNN)", or "none (preprocess only)".
  std::string deviceName() const;
  int64_t batchSize() const { return batchSize_; }

 private:
  struct Prepared;

  explicit BatchPredictor(const BatchPredictorOptions& options);
  Status open(const BackendFactory& makeBackend);
  Result<OutputLayout> layoutFor(const arrow::Schema& input) const;
  void preprocess(Prepared& prepared) const;
  Status infer(Prepared& prepared);
  Result<std::shared_ptr<arrow::RecordBatch>> toVariableSizeLists(std::shared_ptr<arrow::RecordBatch> batch) const;

  BatchPredictorOptions options_;
  std::unique_ptr<backend::InferenceBackend> backend_;
  image::ResizeCropOptions resizeCrop_;
  int64_t cropBytes_ = 0;
  int64_t batchSize_ = 0;
  int workers_ = 1;
  int64_t numClasses_ = 0;
  int topk_ = 0;
  int64_t nextRow_ = 0;
  std::deque<std::unique_ptr<Prepared>> pending_;
};

}  // namespace sluice::engine
