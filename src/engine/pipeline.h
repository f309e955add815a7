#pragma once
// The streaming pipeline of DESIGN.md:
//   plan -> preprocess pool (read row group + decode + crop) -> [ordered queue]
//        -> inference (batch + model + top-k) -> [queue] -> writer (one output file per input)
// `sluice preprocess` skips inference; every queue is bounded by bytes, so memory stays bounded.

#include <functional>
#include <memory>
#include <optional>

#include "backend/inference_backend.h"
#include "engine/backend_factory.h"
#include "engine/job_monitor.h"
#include "engine/job_options.h"
#include "engine/job_report.h"

namespace sluice::engine {

using BackendFactory =
    std::function<Result<std::unique_ptr<backend::InferenceBackend>>(const backend::BackendOptions&)>;

/// Default batch size for a device: 32 on CPU, 256 on GPUs.
int64_t defaultBatchSize(const std::string& device);
/// Default memory budget: a quarter of physical memory, at least 1 GiB and at most 16 GiB.
int64_t defaultMemoryBudget();

/// How a job ended. When it failed, `status` says why and `report` holds what was done until then
/// (files committed, time, stages), with `report.failure` set to the same message.
struct JobResult {
  Status status;
  JobReport report;
};

/// Before a backend is made, the most host memory it will hold, or nullopt when that is not known
/// (engine::startupMemoryBound for the real backends). Where it is known for every backend, the
/// preprocessing workers start while the backends start.
using StartupMemoryBound = std::function<std::optional<int64_t>(const backend::BackendOptions&)>;

/// Runs one job to the end. Bad rows become error rows; a bad file fails the job (or is skipped
/// with skipBadFiles); on failure no partial output file is left behind.
JobResult runJob(const JobOptions& options, const BackendFactory& makeBackend, const JobCallbacks& callbacks = {},
                 const StartupMemoryBound& memoryBound = startupMemoryBound);

}  // namespace sluice::engine
