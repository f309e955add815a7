#pragma once
// Everything that configures one job, as the CLI (or the Python bindings) fill it in.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "image/preprocess.h"
#include "io/storage.h"

namespace sluice::engine {

enum class JobMode {
  kRun,         // preprocess + predict in one process
  kPreprocess,  // write preprocessed crops, no model
  kPredict,     // read preprocessed crops, predict
};

struct JobOptions {
  JobMode mode = JobMode::kRun;
  std::string input;
  std::string output;
  std::string modelPath;
  std::string imageColumn = "image";
  image::ImageShape imageShape{256, 256, 3};
  bool imageShapeGiven = false;  // false: predict mode takes the shape preprocess recorded
  int cropSize = 224;
  int resizeSize = 256;            // encoded images: short side resized to this before the crop
  double dctScalingMargin = 8.0;   // JPEGs: DCT-domain downscaling while short side >= this * resizeSize
  image::Normalization normalization = image::Normalization::kImagenet;
  int topk = 5;
  bool writeLogits = false;
  std::string device = "cpu";   // cpu, cuda or auto
  std::vector<int> devices;     // cuda: GPU ordinals to use; empty = every visible GPU
  std::string precision = "auto";  // fp32, tf32, fp16, bf16; auto = fp16 on GPUs, fp32 on CPU
  int inferenceWorkers = 0;     // model instances, each on its own thread; 0 = one per GPU, 1 on CPU
  int64_t limit = -1;           // images; -1 = all
  int cpuWorkers = 0;           // 0 = cores
  std::string decode = "auto";  // encoded images: cpu, gpu (nvJPEG) or auto (GPU beside the CPU when usable)
  int64_t batchSize = 0;        // 0 = default for the device
  int64_t memoryBudgetBytes = 0;  // 0 = default for the machine
  bool skipBadFiles = false;
  bool resume = false;          // skip inputs whose output exists with every row
  // When it turns true (e.g. set by a SIGINT handler), the job stops as after a failure: files in
  // progress are dropped, committed ones kept, and the job returns Cancelled. Checked twice a second.
  const std::atomic<bool>* stopRequested = nullptr;
  std::vector<std::string> passThrough;
  io::StorageOptions storage;
  int threads = 0;              // inference threads on CPU; 0 = cores
  bool timeConvAlgorithms = false;  // CUDA: time cuDNN's algorithms at load (BackendOptions)
  std::string cudnnCachePath;       // timed algorithms kept here; "" default place, "none" no cache
  bool arrowPixelReader = false;  // list<uint8> pixels through Arrow's list arrays, not streamed (benchmarks)
};

}  // namespace sluice::engine
