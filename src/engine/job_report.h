#pragma once
// What a finished job reports: the summary printed at the end and the --report JSON.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/bounded_queue.h"
#include "core/step_clock.h"
#include "core/stage_stats.h"

namespace sluice::engine {

struct StageReport {
  std::string name;
  int workers = 0;
  WorkerTimes times;
  double utilization = 0;  // busy seconds / (workers x wall seconds)
};

struct QueueReport {
  std::string name;
  QueueStats stats;
};

struct BackendStartup {
  std::string device;  // the backend's deviceName()
  StepSeconds steps;   // its start-up, step by step
};

struct JobReport {
  std::string failure;       // why the job failed; empty when it succeeded (the counts are then partial)
  int64_t images = 0;        // rows in committed files, errors included
  int64_t errors = 0;        // rows with an error
  std::string firstError;    // "uri row N: reason" of the first row written with an error
  int64_t files = 0;         // output files committed
  double seconds = 0;        // wall time of the whole job (until it failed)
  double startupSeconds = 0;  // listing, model load, until the pipeline starts
  double firstBatchSeconds = -1;  // from job start to the first inference batch done
  int64_t startupPreprocessedImages = 0;  // rows preprocessed while the model started (0: it started first)
  std::vector<BackendStartup> backendStartups;  // one per inference worker
  std::vector<StageReport> stages;
  std::vector<QueueReport> queues;
  std::vector<std::string> skippedFiles;   // "uri: reason"
  std::vector<std::string> resumedFiles;   // inputs skipped because their output existed
  std::vector<std::string> redoneFiles;    // outputs --resume found incomplete and wrote again
  int64_t peakRssBytes = 0;
  int64_t memoryBudgetBytes = 0;
  std::string device;
  int64_t cpuDecodedImages = 0;  // rows the CPU decoders handled (raw, PNG, JPEGs nvJPEG declined; errors included)
  int64_t gpuDecodedImages = 0;  // JPEG rows nvJPEG decoded
  std::string gpuDecoder;        // "nvJPEG (hardware) on cuda:0"; empty when no GPU decoder ran
  int64_t gpuDecodeRefusals = 0; // hardware-engine batches (halves included) refused; their images went to the CPU
  nlohmann::json configuration;

  double imagesPerSecond() const { return seconds > 0 ? images / seconds : 0; }
  /// The stage whose workers were busy the largest share of the time.
  std::string bottleneck() const;
  nlohmann::json toJson() const;
  /// A few lines for people: images, errors, time, rate, bottleneck.
  std::string summary() const;
};

}  // namespace sluice::engine
