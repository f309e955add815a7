#pragma once
// The job's work, decided before any thread starts: which files, which row groups, in which order,
// where each output goes. Reading every footer up front finds bad files before any work is done
// and gives progress its total.

#include <memory>
#include <string>
#include <vector>

#include "engine/job_monitor.h"
#include "engine/job_options.h"
#include "io/parquet_image_file.h"

namespace sluice::engine {

/// One row group of one file (or the empty remainder of an empty file): the unit that a
/// preprocessing worker takes, and that flows through the pipeline in sequence order.
struct WorkUnit {
  int64_t sequence = 0;
  int fileIndex = 0;
  int rowGroup = -1;      // -1: the file has no rows; the unit only produces its (empty) output
  int64_t firstRow = 0;   // row index in the file of the unit's first row
  int64_t numRows = 0;    // rows to process (fewer than the row group's when --limit cuts it)
  bool lastOfFile = false;
};

struct PlannedFile {
  std::unique_ptr<io::ParquetImageFile> input;
  std::string outputPath;  // on the output location's filesystem
};

/// Names of the columns `sluice preprocess` adds so that `sluice predict` reports the original file
/// and row, and keeps rows that already failed as error rows.
inline constexpr const char* kSourcePathColumn = "path";
inline constexpr const char* kSourceRowColumn = "row";
inline constexpr const char* kSourceErrorColumn = "error";
/// The reason given for a crop row whose upstream error is an empty string (not null): it failed
/// but has no reason, and has no crop to run either.
inline constexpr const char* kEarlierStageFailure = "failed in an earlier stage";
/// File metadata key written by `sluice preprocess`: the crop shape, "H,W,C".
inline constexpr const char* kCropShapeMetadataKey = "sluice.crop_shape";

/// What a job that stops on an unreadable input file adds to its message.
inline constexpr const char* kSkipBadFilesAdvice = "pass --skip-bad-files to skip unreadable files and go on";

struct WorkPlan {
  io::Location input;
  io::Location output;
  std::vector<PlannedFile> files;
  std::vector<WorkUnit> units;
  int64_t totalRows = 0;
  int64_t largestUnitRows = 0;
  image::ImageShape imageShape;
  /// Columns read besides the image: pass-through columns, then (for preprocessed input) the source
  /// path, row and error columns.
  std::vector<std::string> extraColumns;
  bool hasSourceColumns = false;
  std::vector<std::string> skippedFiles;
  std::vector<std::string> resumedFiles;
  std::vector<std::string> redoneFiles;  // --resume: outputs that existed with fewer rows than their input
};

/// `monitor` (may be null) hears how many files there are and how many footers have been read, is
/// told of files in the output location the plan does not write (when it wants notes and the job
/// does not resume), and can stop planning.
Result<WorkPlan> planJob(const JobOptions& options, JobMonitor* monitor = nullptr);

}  // namespace sluice::engine
