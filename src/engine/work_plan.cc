#include "engine/work_plan.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "io/arrow_status.h"
#include "io/input_listing.h"

namespace sluice::engine {

namespace {

Status checkSameLayout(const io::ParquetImageFile& first, const io::ParquetImageFile& other) {
  if (first.hasColumn(kSourcePathColumn) == other.hasColumn(kSourcePathColumn) &&
      first.metadataValue(kCropShapeMetadataKey) == other.metadataValue(kCropShapeMetadataKey)) {
    return Status::OK();
  }
  return Status::InvalidArgument(other.uri() + " does not have the same layout as " + first.uri() +
                                 " (preprocessed and raw inputs are mixed)");
}

/// Footers are read by this many threads at most: on S3 each footer costs a round trip or two, and a
/// dataset of thousands of files read one footer after another would spend minutes before any work.
constexpr size_t kFooterReaders = 16;

/// Runs task(0) ... task(count - 1) on up to kFooterReaders threads; returns when all are done.
/// Tasks must not throw.
template <typename Task>
void forEachConcurrently(size_t count, const Task& task) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < count; i = next++) task(i);
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(count, kFooterReaders); ++t) threads.emplace_back(work);
  work();
  for (auto& thread : threads) thread.join();
}

/// What planning learns about one input file before deciding anything.
struct InputInspection {
  Result<std::unique_ptr<io::ParquetImageFile>> opened = Status::Internal("not inspected");
  bool hasOutput = false;  // --resume: an output file exists
  Result<int64_t> outputRows = Status::Internal("not read");
};

/// Files already in the output location that this plan does not write stay there, and a reader of
/// the folder would mix them with this job's output (an earlier run on other input, say).
void noteOtherOutputs(const JobOptions& options, const WorkPlan& plan, const JobMonitor& monitor) {
  auto existing = io::listInputFiles(plan.output);
  if (!existing.ok() || existing->empty()) return;  // no output folder yet, most often
  std::set<std::string> written;
  for (const auto& file : plan.files) written.insert(file.outputPath);
  std::vector<std::string> others;
  for (const auto& file : *existing) {
    if (!written.count(plan.output.join(file.relativePath))) others.push_back(file.relativePath);
  }
  if (others.empty()) return;
  monitor.note(options.output + " already holds " + std::to_string(others.size()) +
               " Parquet file(s) this job does not write (e.g. " + others.front() + "); they are left as they are");
}

}  // namespace

Result<WorkPlan> planJob(const JobOptions& options, JobMonitor* monitor) {
  WorkPlan plan;
  for (size_t i = 0; i < options.passThrough.size(); ++i) {
    if (std::find(options.passThrough.begin(), options.passThrough.begin() + i, options.passThrough[i]) !=
        options.passThrough.begin() + i) {
      return Status::InvalidArgument("--pass-through names the column '" + options.passThrough[i] + "' twice");
    }
  }
  SLUICE_ASSIGN_OR_RETURN(plan.input, io::resolveLocation(options.input, options.storage));
  SLUICE_ASSIGN_OR_RETURN(plan.output, io::resolveLocation(options.output, options.storage));
  SLUICE_ASSIGN_OR_RETURN(auto inputFiles, io::listInputFiles(plan.input));
  if (monitor) monitor->setFilesTotal(static_cast<int64_t>(inputFiles.size()));
  plan.extraColumns = options.passThrough;
  plan.imageShape = options.imageShape;

  for (const auto& inputFile : inputFiles) {
    std::string outputPath = plan.output.join(inputFile.relativePath);
    if (plan.output.isS3 == plan.input.isS3 && outputPath == inputFile.path) {
      return Status::InvalidArgument("output " + plan.output.uriOf(outputPath) +
                                     " would overwrite its input; choose another --output");
    }
  }
  std::vector<InputInspection> inspections(inputFiles.size());
  forEachConcurrently(inputFiles.size(), [&](size_t i) {
    if (monitor && monitor->stopRequested()) return;
    InputInspection& inspection = inspections[i];
    inspection.opened = io::ParquetImageFile::Open(plan.input, inputFiles[i], options.imageColumn,
                                                   options.passThrough);
    if (options.resume && inspection.opened.ok()) {
      auto existing = plan.output.fileSystem->GetFileInfo(plan.output.join(inputFiles[i].relativePath));
      if (existing.ok() && existing->IsFile()) {
        inspection.hasOutput = true;
        inspection.outputRows = io::parquetRowCount(plan.output, *existing);
      }
    }
    if (monitor) monitor->fileInspected();
  });
  if (monitor && monitor->stopRequested()) return Status::Cancelled("the job was interrupted");

  bool layoutDecided = false;
  for (size_t i = 0; i < inputFiles.size(); ++i) {
    const io::InputFile& inputFile = inputFiles[i];
    std::string outputPath = plan.output.join(inputFile.relativePath);
    auto& opened = inspections[i].opened;
    if (inspections[i].hasOutput) {
      // Done only if it has a row for every input row: a job stopped by --limit commits the file
      // it cut short, and --resume must finish that one.
      const auto& outputRows = inspections[i].outputRows;
      if (outputRows.ok() && *outputRows == (*opened)->numRows()) {
        plan.resumedFiles.push_back(plan.input.uriOf(inputFile.path));
        continue;
      }
      plan.redoneFiles.push_back(plan.output.uriOf(outputPath) + " (" +
                                 (outputRows.ok() ? std::to_string(*outputRows) + " of " +
                                                        std::to_string((*opened)->numRows()) + " rows"
                                                  : outputRows.status().message()) +
                                 ")");
    }
    if (!opened.ok()) {
      if (options.skipBadFiles && !opened.status().isUsageError()) {
        plan.skippedFiles.push_back(opened.status().message());
        continue;
      }
      if (opened.status().code() != StatusCode::kInvalidData) return opened.status();
      return opened.status().withAdvice(kSkipBadFilesAdvice);
    }
    auto file = std::move(opened).value();
    if (!layoutDecided) {
      layoutDecided = true;
      // Input written by `sluice preprocess`: report its source file and row, keep its error rows.
      plan.hasSourceColumns = file->hasColumn(kSourcePathColumn) && file->hasColumn(kSourceRowColumn) &&
                              file->hasColumn(kSourceErrorColumn) &&
                              !file->metadataValue(kCropShapeMetadataKey).empty();
      if (plan.hasSourceColumns) {
        for (const char* column : {kSourcePathColumn, kSourceRowColumn, kSourceErrorColumn}) {
          plan.extraColumns.push_back(column);
        }
        if (!options.imageShapeGiven) {
          SLUICE_ASSIGN_OR_RETURN(plan.imageShape,
                                  image::parseImageShape(file->metadataValue(kCropShapeMetadataKey)));
        }
      }
    } else if (!plan.files.empty()) {
      SLUICE_RETURN_IF_ERROR(checkSameLayout(*plan.files.front().input, *file));
    }
    plan.files.push_back({std::move(file), outputPath});
  }

  // The source columns are read by leaf index, chosen when a file is opened: open the files again,
  // from the footers already read, now that the layout is known.
  if (plan.hasSourceColumns) {
    for (auto& planned : plan.files) {
      SLUICE_ASSIGN_OR_RETURN(planned.input, planned.input->withExtraColumns(options.imageColumn, plan.extraColumns));
    }
  }

  int64_t remaining = options.limit >= 0 ? options.limit : INT64_MAX;
  for (int fileIndex = 0; fileIndex < static_cast<int>(plan.files.size()) && remaining > 0; ++fileIndex) {
    const auto& file = *plan.files[fileIndex].input;
    int64_t firstRow = 0;
    size_t firstUnit = plan.units.size();
    for (int rowGroup = 0; rowGroup < file.numRowGroups() && remaining > 0; ++rowGroup) {
      int64_t rows = std::min(file.rowGroupRows(rowGroup), remaining);
      if (rows == 0) continue;
      plan.units.push_back({static_cast<int64_t>(plan.units.size()), fileIndex, rowGroup, firstRow, rows, false});
      plan.largestUnitRows = std::max(plan.largestUnitRows, rows);
      firstRow += rows;
      remaining -= rows;
      plan.totalRows += rows;
    }
    if (plan.units.size() == firstUnit) {
      plan.units.push_back({static_cast<int64_t>(plan.units.size()), fileIndex, -1, 0, 0, false});
    }
    plan.units.back().lastOfFile = true;
  }
  // Files beyond --limit produce no output.
  if (!plan.units.empty()) plan.files.resize(plan.units.back().fileIndex + 1);
  else if (options.limit == 0) plan.files.clear();
  // Only for someone listening: listing the output costs a request or more on S3, and Spark tasks
  // share an output folder by design.
  if (monitor && monitor->wantsNotes() && !options.resume) noteOtherOutputs(options, plan, *monitor);
  return plan;
}

}  // namespace sluice::engine
