// sluice._native: the engine for Python. BatchPredictor takes record batches through the Arrow C Data
// Interface (pyarrow's _export_to_c/_import_from_c on the Python side), so no row is ever touched by
// Python; run_job runs a whole job (files in, one output file per input file out), as `sluice run`
// does. The GIL is released while native work runs.

#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "engine/backend_cache.h"
#include "engine/backend_factory.h"
#include "engine/batch_predictor.h"
#include "engine/pipeline.h"
#include "io/input_listing.h"
#include "io/storage.h"

namespace nb = nanobind;

namespace sluice::python {

namespace {

[[noreturn]] void raise(const Status& status) {
  if (status.isUsageError()) throw nb::value_error(status.message().c_str());
  throw std::runtime_error(status.message());
}

void check(const Status& status) {
  if (!status.ok()) raise(status);
}

template <typename T>
T valueOrRaise(Result<T> result) {
  if (!result.ok()) raise(result.status());
  return std::move(result).value();
}

void checkArrow(const arrow::Status& status, const char* what) {
  if (!status.ok()) throw std::runtime_error(std::string(what) + ": " + status.ToString());
}

/// An ArrowArray and an ArrowSchema that Python fills (RecordBatch._export_to_c) or reads
/// (RecordBatch._import_from_c). Whatever is still owned here is released with the object.
struct CData {
  ArrowArray array{};
  ArrowSchema schema{};

  CData() = default;
  CData(const CData&) = delete;
  CData& operator=(const CData&) = delete;
  ~CData() {
    if (array.release) array.release(&array);
    if (schema.release) schema.release(&schema);
  }
  uintptr_t arrayAddress() { return reinterpret_cast<uintptr_t>(&array); }
  uintptr_t schemaAddress() { return reinterpret_cast<uintptr_t>(&schema); }

  std::shared_ptr<arrow::RecordBatch> importBatch() {
    if (!array.release || !schema.release) throw nb::value_error("CData holds no record batch");
    auto batch = arrow::ImportRecordBatch(&array, &schema);
    checkArrow(batch.status(), "importing a record batch");
    return *batch;
  }
  std::shared_ptr<arrow::Schema> importSchema() {
    if (!schema.release) throw nb::value_error("CData holds no schema");
    auto imported = arrow::ImportSchema(&schema);
    checkArrow(imported.status(), "importing a schema");
    return *imported;
  }
  void exportBatch(const arrow::RecordBatch& batch) {
    release();
    checkArrow(arrow::ExportRecordBatch(batch, &array, &schema), "exporting a record batch");
  }
  void exportSchema(const arrow::Schema& exported) {
    release();
    checkArrow(arrow::ExportSchema(exported, &schema), "exporting a schema");
  }
  void release() {
    if (array.release) array.release(&array);
    if (schema.release) schema.release(&schema);
  }
};

engine::JobMode parseMode(const std::string& mode) {
  if (mode == "run") return engine::JobMode::kRun;
  if (mode == "preprocess") return engine::JobMode::kPreprocess;
  if (mode == "predict") return engine::JobMode::kPredict;
  throw nb::value_error(("unknown mode '" + mode + "'; use run, preprocess or predict").c_str());
}

using ShapeTuple = std::tuple<int, int, int>;

image::ImageShape imageShapeOf(const ShapeTuple& shape) {
  auto [height, width, channels] = shape;
  return valueOrRaise(image::parseImageShape(std::to_string(height) + "," + std::to_string(width) + "," +
                                             std::to_string(channels)));
}

/// Options as Python sets them: plain strings and tuples, converted when the predictor is made.
struct Options {
  engine::BatchPredictorOptions native;
  std::string mode = "run";
  std::string normalize = "imagenet";
  ShapeTuple imageShape{256, 256, 3};
};

/// JobOptions as Python sets them; converted as the CLI converts its flags (run_commands.cc).
struct JobSettings {
  engine::JobOptions native;
  std::string mode = "run";
  std::string normalize = "imagenet";
  std::optional<ShapeTuple> imageShape;  // none: 256,256,3 (predict: the shape preprocess recorded)
  int resizeSize = 0;                    // 0: 256, or the crop size when larger (the CLI's default)
};

engine::JobOptions jobOptionsOf(const JobSettings& settings) {
  engine::JobOptions options = settings.native;
  options.mode = parseMode(settings.mode);
  options.normalization = valueOrRaise(image::parseNormalization(settings.normalize));
  options.imageShapeGiven = settings.imageShape.has_value();
  if (settings.imageShape) {
    options.imageShape = imageShapeOf(*settings.imageShape);
  } else if (options.mode == engine::JobMode::kPredict) {
    options.imageShape = {options.cropSize, options.cropSize, 3};
  }
  options.resizeSize = settings.resizeSize > 0 ? settings.resizeSize : std::max(256, options.cropSize);
  return options;
}

/// Backends kept between run_job calls of this process: a Spark Python worker runs file after file
/// with the same model. Never destroyed: at exit the CUDA runtime may be torn down before statics.
engine::BackendCache& processBackendCache() {
  static auto* cache = new engine::BackendCache(engine::makeBackend);
  return *cache;
}

/// Runs one job to the end and returns its report as JSON. `progress` (None or a callable taking
/// images done, images total and seconds) is called from the job's monitor thread with the GIL held;
/// an exception it raises is reported as unraisable and the job goes on. With reuse_backends, the
/// model's backends come from (and go back to) the process's cache.
std::string runJob(const JobSettings& settings, nb::handle progress, bool reuseBackends) {
  engine::JobOptions options = jobOptionsOf(settings);
  engine::JobCallbacks callbacks;
  if (!progress.is_none()) {
    // A handle, not an object: copying the callback must not touch reference counts without the GIL.
    // The caller keeps `progress` alive until run_job returns. Only images are reported: planning
    // and start-up are short next to a file's images in the tasks that call this.
    callbacks.onProgress = [progress](const engine::JobProgress& state) {
      if (state.phase != engine::JobPhase::kRunning) return;
      nb::gil_scoped_acquire gil;
      try {
        progress(state.imagesDone, state.imagesTotal, state.seconds);
      } catch (nb::python_error& error) {
        error.discard_as_unraisable("sluice run_job progress callback");
      }
    };
  }
  Result<engine::JobReport> report = [&]() -> Result<engine::JobReport> {
    nb::gil_scoped_release release;
    engine::JobResult result = engine::runJob(
        options, reuseBackends ? processBackendCache().factory() : engine::makeBackend, callbacks);
    if (!result.status.ok()) return result.status;
    return std::move(result.report);
  }();
  return valueOrRaise(std::move(report)).toJson().dump();
}

/// The input files a job on `uri` reads, as (uri, path relative to the input root, size in bytes),
/// listed exactly as `sluice run` lists them.
std::vector<std::tuple<std::string, std::string, int64_t>> listInputFiles(const std::string& uri,
                                                                          const std::string& s3Endpoint) {
  std::vector<std::tuple<std::string, std::string, int64_t>> listed;
  nb::gil_scoped_release release;
  io::Location location = valueOrRaise(io::resolveLocation(uri, io::StorageOptions{s3Endpoint}));
  for (const auto& file : valueOrRaise(io::listInputFiles(location))) {
    listed.emplace_back(location.uriOf(file.path), file.relativePath, file.sizeBytes);
  }
  return listed;
}

class Predictor {
 public:
  explicit Predictor(Options options) {
    options.native.mode = parseMode(options.mode);
    options.native.normalization = valueOrRaise(image::parseNormalization(options.normalize));
    options.native.imageShape = imageShapeOf(options.imageShape);
    nb::gil_scoped_release release;
    predictor_ = valueOrRaise(engine::BatchPredictor::Make(options.native, engine::makeBackend));
  }

  void submit(CData& input) {
    auto batch = input.importBatch();
    nb::gil_scoped_release release;
    check(predictor_->submit(std::move(batch)));
  }

  void collect(CData& output) {
    std::shared_ptr<arrow::RecordBatch> batch;
    {
      nb::gil_scoped_release release;
      batch = valueOrRaise(predictor_->collect());
    }
    output.exportBatch(*batch);
  }

  void outputSchema(CData& input, CData& output) {
    auto schema = input.importSchema();
    output.exportSchema(*valueOrRaise(predictor_->outputSchema(*schema)));
  }

  int64_t pending() const { return predictor_->pending(); }
  std::string deviceName() const { return predictor_->deviceName(); }
  int64_t batchSize() const { return predictor_->batchSize(); }

 private:
  std::unique_ptr<engine::BatchPredictor> predictor_;
};

}  // namespace
}  // namespace sluice::python

// The getter and setter of a Python property over one field of `Settings::native`.
#define SLUICE_NATIVE_FIELD(Settings, field)                                            \
  [](Settings& o) { return o.native.field; },                                           \
      [](Settings& o, std::remove_cvref_t<decltype(std::declval<Settings>().native.field)> v) { \
        o.native.field = std::move(v);                                                  \
      }

using sluice::python::CData;
using sluice::python::JobSettings;
using sluice::python::Options;
using sluice::python::Predictor;
namespace engine = sluice::engine;

NB_MODULE(_native, m) {
  m.doc() = "sluice's native engine: BatchPredictor over Arrow record batches (C Data Interface), run_job";
  m.def("has_cuda", [] { return engine::resolveDevice("auto") != "cpu"; },
        "True when this build has the CUDA backend and a GPU is visible (device 'auto' then means CUDA).");

  nb::class_<CData>(m, "CData", "An ArrowArray + ArrowSchema pair to export into or import from.")
      .def(nb::init<>())
      .def_prop_ro("array_address", &CData::arrayAddress)
      .def_prop_ro("schema_address", &CData::schemaAddress);

  nb::class_<Options>(m, "Options", "BatchPredictor options (see src/engine/batch_predictor.h).")
      .def(nb::init<>())
      .def_rw("mode", &Options::mode)
      .def_rw("normalize", &Options::normalize)
      .def_rw("image_shape", &Options::imageShape)
      .def_prop_rw("model", SLUICE_NATIVE_FIELD(Options, modelPath))
      .def_prop_rw("image_column", SLUICE_NATIVE_FIELD(Options, imageColumn))
      .def_prop_rw("crop_size", SLUICE_NATIVE_FIELD(Options, cropSize))
      .def_prop_rw("topk", SLUICE_NATIVE_FIELD(Options, topk))
      .def_prop_rw("logits", SLUICE_NATIVE_FIELD(Options, writeLogits))
      .def_prop_rw("device", SLUICE_NATIVE_FIELD(Options, device))
      .def_prop_rw("precision", SLUICE_NATIVE_FIELD(Options, precision))
      .def_prop_rw("batch_size", SLUICE_NATIVE_FIELD(Options, batchSize))
      .def_prop_rw("cpu_workers", SLUICE_NATIVE_FIELD(Options, cpuWorkers))
      .def_prop_rw("threads", SLUICE_NATIVE_FIELD(Options, threads))
      .def_prop_rw("time_conv_algorithms", SLUICE_NATIVE_FIELD(Options, timeConvAlgorithms))
      .def_prop_rw("cudnn_cache", SLUICE_NATIVE_FIELD(Options, cudnnCachePath))
      .def_prop_rw("pass_through", SLUICE_NATIVE_FIELD(Options, passThrough))
      .def_prop_rw("path_column", SLUICE_NATIVE_FIELD(Options, pathColumn))
      .def_prop_rw("row_column", SLUICE_NATIVE_FIELD(Options, rowColumn))
      .def_prop_rw("source_path", SLUICE_NATIVE_FIELD(Options, sourcePath))
      .def_prop_rw("first_row", SLUICE_NATIVE_FIELD(Options, firstRow))
      .def_prop_rw("error_column", SLUICE_NATIVE_FIELD(Options, errorColumn))
      .def_prop_rw("variable_size_lists", SLUICE_NATIVE_FIELD(Options, variableSizeLists));

  nb::class_<Predictor>(m, "Predictor", "The engine on record batches: submit() starts, collect() finishes.")
      .def(nb::init<Options>(), nb::arg("options"))
      .def("submit", &Predictor::submit, nb::arg("batch"),
           "Takes the record batch exported into `batch` and starts preprocessing it.")
      .def("collect", &Predictor::collect, nb::arg("out"),
           "Finishes the oldest submitted batch; exports its output into `out`.")
      .def("output_schema", &Predictor::outputSchema, nb::arg("schema"), nb::arg("out"),
           "Exports into `out` the output schema for inputs of the schema exported into `schema`.")
      .def_prop_ro("pending", &Predictor::pending)
      .def_prop_ro("device_name", &Predictor::deviceName)
      .def_prop_ro("batch_size", &Predictor::batchSize);

  nb::class_<JobSettings>(m, "JobOptions", "A whole job's options (see src/engine/job_options.h).")
      .def(nb::init<>())
      .def_rw("mode", &JobSettings::mode)
      .def_rw("normalize", &JobSettings::normalize)
      .def_rw("image_shape", &JobSettings::imageShape, nb::arg().none())
      .def_rw("resize_size", &JobSettings::resizeSize)
      .def_prop_rw("input", SLUICE_NATIVE_FIELD(JobSettings, input))
      .def_prop_rw("output", SLUICE_NATIVE_FIELD(JobSettings, output))
      .def_prop_rw("model", SLUICE_NATIVE_FIELD(JobSettings, modelPath))
      .def_prop_rw("image_column", SLUICE_NATIVE_FIELD(JobSettings, imageColumn))
      .def_prop_rw("crop_size", SLUICE_NATIVE_FIELD(JobSettings, cropSize))
      .def_prop_rw("topk", SLUICE_NATIVE_FIELD(JobSettings, topk))
      .def_prop_rw("logits", SLUICE_NATIVE_FIELD(JobSettings, writeLogits))
      .def_prop_rw("device", SLUICE_NATIVE_FIELD(JobSettings, device))
      .def_prop_rw("devices", SLUICE_NATIVE_FIELD(JobSettings, devices))
      .def_prop_rw("precision", SLUICE_NATIVE_FIELD(JobSettings, precision))
      .def_prop_rw("inference_workers", SLUICE_NATIVE_FIELD(JobSettings, inferenceWorkers))
      .def_prop_rw("batch_size", SLUICE_NATIVE_FIELD(JobSettings, batchSize))
      .def_prop_rw("cpu_workers", SLUICE_NATIVE_FIELD(JobSettings, cpuWorkers))
      .def_prop_rw("threads", SLUICE_NATIVE_FIELD(JobSettings, threads))
      .def_prop_rw("time_conv_algorithms", SLUICE_NATIVE_FIELD(JobSettings, timeConvAlgorithms))
      .def_prop_rw("cudnn_cache", SLUICE_NATIVE_FIELD(JobSettings, cudnnCachePath))
      .def_prop_rw("memory_budget_bytes", SLUICE_NATIVE_FIELD(JobSettings, memoryBudgetBytes))
      .def_prop_rw("skip_bad_files", SLUICE_NATIVE_FIELD(JobSettings, skipBadFiles))
      .def_prop_rw("resume", SLUICE_NATIVE_FIELD(JobSettings, resume))
      .def_prop_rw("pass_through", SLUICE_NATIVE_FIELD(JobSettings, passThrough))
      .def_prop_rw("s3_endpoint", [](JobSettings& o) { return o.native.storage.s3Endpoint; },
                   [](JobSettings& o, std::string v) { o.native.storage.s3Endpoint = std::move(v); });

  m.def("run_job", &sluice::python::runJob, nb::arg("options"), nb::arg("progress") = nb::none(),
        nb::arg("reuse_backends") = true,
        "Runs a whole job (as `sluice run`/`preprocess`/`predict`) and returns its report as JSON. "
        "Raises ValueError for a usage error (exit code 2 in the CLI), RuntimeError when the job failed. "
        "reuse_backends: keep the loaded model for the next job of this process with the same model and options.");
  m.def(
      "backend_cache_counts",
      [] {
        auto counts = sluice::python::processBackendCache().counts();
        return std::make_tuple(counts.made, counts.reused, counts.idle);
      },
      "(backends made, requests answered with a kept backend, backends kept now) of run_job's cache.");
  m.def(
      "release_backends",
      [] {
        nb::gil_scoped_release release;
        sluice::python::processBackendCache().clear();
      },
      "Frees the backends run_job keeps between jobs (the model's memory on the GPU or CPU).");
  m.def("list_input_files", &sluice::python::listInputFiles, nb::arg("uri"), nb::arg("s3_endpoint") = "",
        "The Parquet files a job on `uri` reads, as (uri, relative path, size), listed as `sluice run` lists them.");
  m.def("default_memory_budget", &engine::defaultMemoryBudget,
        "The memory budget of a job that sets none: a quarter of physical memory, from 1 GiB to 16 GiB.");
  m.def("finalize_storage", [] { sluice::io::finalizeStorage(); },
        "Releases the S3 client state; call once before the process exits if a job used S3.");
}
