#include "engine/job_report.h"

#include <algorithm>
#include <cstdio>

#include "core/byte_size.h"

namespace sluice::engine {

std::string JobReport::bottleneck() const {
  if (images == 0) return "none (no images)";
  const StageReport* busiest = nullptr;
  for (const auto& stage : stages) {
    if (!busiest || stage.utilization > busiest->utilization) busiest = &stage;
  }
  return busiest ? busiest->name : "";
}

nlohmann::json JobReport::toJson() const {
  nlohmann::json json;
  json["status"] = failure.empty() ? "succeeded" : "failed";
  json["failure"] = failure.empty() ? nlohmann::json() : nlohmann::json(failure);
  json["images"] = images;
  json["errors"] = errors;
  json["files"] = files;
  json["seconds"] = seconds;
  json["images_per_second"] = imagesPerSecond();
  json["startup_seconds"] = startupSeconds;
  json["first_batch_seconds"] = firstBatchSeconds;
  json["startup_preprocessed_images"] = startupPreprocessedImages;
  auto& startups = json["backend_startup"];
  startups = nlohmann::json::array();
  for (const auto& startup : backendStartups) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& [step, seconds] : startup.steps) steps.push_back({{"step", step}, {"seconds", seconds}});
    startups.push_back({{"device", startup.device}, {"steps", steps}});
  }
  json["bottleneck"] = bottleneck();
  auto& stagesJson = json["stages"];
  stagesJson = nlohmann::json::object();
  for (const auto& stage : stages) {
    stagesJson[stage.name] = {
        {"workers", stage.workers},
        {"busy_seconds", stage.times.busySeconds},
        {"blocked_input_seconds", stage.times.waitingForInputSeconds},
        {"blocked_output_seconds", stage.times.waitingForOutputSeconds},
        {"utilization", stage.utilization},
    };
  }
  auto& queuesJson = json["queues"];
  queuesJson = nlohmann::json::object();
  for (const auto& queue : queues) {
    queuesJson[queue.name] = {
        {"capacity_bytes", queue.stats.capacityBytes},
        {"high_water_bytes", queue.stats.highWaterBytes},
        {"high_water_items", queue.stats.highWaterItems},
    };
  }
  json["first_error"] = firstError.empty() ? nlohmann::json() : nlohmann::json(firstError);
  json["skipped_files"] = skippedFiles;
  json["resumed_files"] = resumedFiles;
  json["redone_files"] = redoneFiles;
  json["peak_rss_bytes"] = peakRssBytes;
  json["memory_budget_bytes"] = memoryBudgetBytes;
  json["device"] = device;
  json["decoded"] = {{"cpu", cpuDecodedImages}, {"gpu", gpuDecodedImages}};
  json["gpu_decoder"] = gpuDecoder;
  json["gpu_decode_refusals"] = gpuDecodeRefusals;
  json["configuration"] = configuration;
  return json;
}

std::string JobReport::summary() const {
  char line[512];
  std::string text;
  std::snprintf(line, sizeof line, "images: %lld (%lld errors) in %lld files\n", static_cast<long long>(images),
                static_cast<long long>(errors), static_cast<long long>(files));
  text += line;
  if (!firstError.empty()) text += "first error: " + firstError + "\n";
  std::string overlap;
  if (startupPreprocessedImages > 0) {
    overlap = ", while " + std::to_string(startupPreprocessedImages) + " images were preprocessed";
  }
  std::snprintf(line, sizeof line, "time:   %.2f s (start-up %.2f s%s), %.1f images/s\n", seconds, startupSeconds,
                overlap.c_str(), imagesPerSecond());
  text += line;
  if (!backendStartups.empty()) {
    // The first worker's model start-up; of several steps, those under 5 ms are left out.
    const StepSeconds& all = backendStartups.front().steps;
    std::string steps;
    for (const auto& [step, stepSeconds] : all) {
      if (stepSeconds < 0.005 && all.size() > 1) continue;
      std::snprintf(line, sizeof line, "%s%s %.2f s", steps.empty() ? "" : ", ", step.c_str(), stepSeconds);
      steps += line;
    }
    if (!steps.empty()) text += "model:  " + steps + "\n";
  }
  std::string busy;
  for (const auto& stage : stages) {
    std::snprintf(line, sizeof line, "%s%s %.0f%%", busy.empty() ? "" : ", ", stage.name.c_str(),
                  stage.utilization * 100);
    busy += line;
  }
  text += "busy:   " + busy + " -> bottleneck: " + bottleneck() + "\n";
  if (!gpuDecoder.empty()) {
    text += "decode: " + std::to_string(cpuDecodedImages) + " images on the CPU, " + std::to_string(gpuDecodedImages) +
            " on the GPU (" + gpuDecoder + ")" +
            (gpuDecodeRefusals > 0 ? "; the engine refused " + std::to_string(gpuDecodeRefusals) + " batch(es)" : "") +
            "\n";
  }
  text += "memory: peak RSS " + formatByteSize(peakRssBytes) + " (budget " + formatByteSize(memoryBudgetBytes) + ")\n";
  if (!skippedFiles.empty()) {
    text += "skipped files: " + std::to_string(skippedFiles.size()) + "\n";
    constexpr size_t kListed = 5;  // the report lists them all
    for (size_t i = 0; i < std::min(skippedFiles.size(), kListed); ++i) text += "  " + skippedFiles[i] + "\n";
    if (skippedFiles.size() > kListed) text += "  ... (--report lists them all)\n";
  }
  if (!resumedFiles.empty()) {
    text += "resumed: " + std::to_string(resumedFiles.size()) + " inputs already had output and were skipped\n";
  }
  if (!redoneFiles.empty()) {
    text += "resumed: " + std::to_string(redoneFiles.size()) + " incomplete output(s) written again, e.g. " +
            redoneFiles.front() + "\n";
  }
  return text;
}

}  // namespace sluice::engine
