// sluice._native: the engine's BatchPredictor for Python. Record batches cross the boundary through
// the Arrow C Data Interface (pyarrow's _export_to_c/_import_from_c on the Python side), so no row is
// ever touched by Python. The GIL is released while native work runs.

#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <stdexcept>

#include "engine/backend_factory.h"
#include "engine/batch_predictor.h"

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

/// Options as Python sets them: plain strings and tuples, converted when the predictor is made.
struct Options {
  engine::BatchPredictorOptions native;
  std::string mode = "run";
  std::string normalize = "imagenet";
  std::tuple<int, int, int> imageShape{256, 256, 3};
};

class Predictor {
 public:
  explicit Predictor(Options options) {
    options.native.mode = parseMode(options.mode);
    options.native.normalization = valueOrRaise(image::parseNormalization(options.normalize));
    auto [height, width, channels] = options.imageShape;
    options.native.imageShape = valueOrRaise(image::parseImageShape(
        std::to_string(height) + "," + std::to_string(width) + "," + std::to_string(channels)));
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

using sluice::python::CData;
using sluice::python::Options;
using sluice::python::Predictor;
namespace engine = sluice::engine;

NB_MODULE(_native, m) {
  m.doc() = "sluice's native engine: BatchPredictor over Arrow record batches (C Data Interface)";
  m.def("has_cuda", [] { return engine::resolveDevice("auto") != "cpu"; },
        "True when this build has a CUDA backend (not yet: inference runs on the CPU).");

  nb::class_<CData>(m, "CData", "An ArrowArray + ArrowSchema pair to export into or import from.")
      .def(nb::init<>())
      .def_prop_ro("array_address", &CData::arrayAddress)
      .def_prop_ro("schema_address", &CData::schemaAddress);

  nb::class_<Options>(m, "Options", "BatchPredictor options (see src/engine/batch_predictor.h).")
      .def(nb::init<>())
      .def_rw("mode", &Options::mode)
      .def_rw("normalize", &Options::normalize)
      .def_rw("image_shape", &Options::imageShape)
      .def_prop_rw("model", [](Options& o) { return o.native.modelPath; },
                   [](Options& o, std::string v) { o.native.modelPath = std::move(v); })
      .def_prop_rw("image_column", [](Options& o) { return o.native.imageColumn; },
                   [](Options& o, std::string v) { o.native.imageColumn = std::move(v); })
      .def_prop_rw("crop_size", [](Options& o) { return o.native.cropSize; },
                   [](Options& o, int v) { o.native.cropSize = v; })
      .def_prop_rw("topk", [](Options& o) { return o.native.topk; }, [](Options& o, int v) { o.native.topk = v; })
      .def_prop_rw("logits", [](Options& o) { return o.native.writeLogits; },
                   [](Options& o, bool v) { o.native.writeLogits = v; })
      .def_prop_rw("device", [](Options& o) { return o.native.device; },
                   [](Options& o, std::string v) { o.native.device = std::move(v); })
      .def_prop_rw("precision", [](Options& o) { return o.native.precision; },
                   [](Options& o, std::string v) { o.native.precision = std::move(v); })
      .def_prop_rw("batch_size", [](Options& o) { return o.native.batchSize; },
                   [](Options& o, int64_t v) { o.native.batchSize = v; })
      .def_prop_rw("cpu_workers", [](Options& o) { return o.native.cpuWorkers; },
                   [](Options& o, int v) { o.native.cpuWorkers = v; })
      .def_prop_rw("threads", [](Options& o) { return o.native.threads; },
                   [](Options& o, int v) { o.native.threads = v; })
      .def_prop_rw("pass_through", [](Options& o) { return o.native.passThrough; },
                   [](Options& o, std::vector<std::string> v) { o.native.passThrough = std::move(v); })
      .def_prop_rw("path_column", [](Options& o) { return o.native.pathColumn; },
                   [](Options& o, std::string v) { o.native.pathColumn = std::move(v); })
      .def_prop_rw("row_column", [](Options& o) { return o.native.rowColumn; },
                   [](Options& o, std::string v) { o.native.rowColumn = std::move(v); })
      .def_prop_rw("source_path", [](Options& o) { return o.native.sourcePath; },
                   [](Options& o, std::string v) { o.native.sourcePath = std::move(v); })
      .def_prop_rw("first_row", [](Options& o) { return o.native.firstRow; },
                   [](Options& o, int64_t v) { o.native.firstRow = v; })
      .def_prop_rw("error_column", [](Options& o) { return o.native.errorColumn; },
                   [](Options& o, std::string v) { o.native.errorColumn = std::move(v); })
      .def_prop_rw("variable_size_lists", [](Options& o) { return o.native.variableSizeLists; },
                   [](Options& o, bool v) { o.native.variableSizeLists = v; });

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
}
