#include "engine/pipeline.h"

#include <arrow/table.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "core/bounded_queue.h"
#include "core/buffer_pool.h"
#include "core/byte_size.h"
#include "core/system_memory.h"
#include "engine/row_decoder.h"
#include "engine/backend_factory.h"
#include "engine/batch_runner.h"
#include "engine/output_batch.h"
#include "engine/unit_result.h"
#include "engine/work_plan.h"
#include "image/jpeg_decoder.h"
#include "io/arrow_status.h"
#include "io/atomic_parquet_writer.h"
#if SLUICE_WITH_CUDA
#include "backend/cuda/cuda_devices.h"
#endif
#if SLUICE_WITH_NVJPEG
#include "backend/cuda/gpu_jpeg_decoder.h"
#endif

namespace sluice::engine {

namespace {

using Clock = std::chrono::steady_clock;

/// Rows per record batch when reading a row group. Parquet decodes list<uint8> through int32 values
/// plus two int16 levels per value (~1.5 MB per 256x256 image), so batches stay small.
constexpr int64_t kReadBatchRows = 16;
/// Memory for everything not budgeted explicitly: code, Arrow pools, thread stacks.
constexpr int64_t kBaseReserveBytes = 256LL << 20;
/// GPU decode workers per GPU: while one reads its row group and parses JPEG headers on the CPU,
/// the other's batch is on the GPU.
constexpr int kGpuDecodeWorkersPerGpu = 2;

/// A JPEG row a GPU decode worker set aside for its decoder; the array keeps the bytes alive.
struct DeferredJpegRow {
  std::shared_ptr<arrow::Array> column;
  int64_t indexInColumn = 0;
  int64_t row = 0;  // in the unit
};

/// The encoded bytes of row `index` of a binary column, or null when it is not a JPEG.
std::pair<const uint8_t*, size_t> jpegBytes(const arrow::Array& column, int64_t index) {
  std::string_view view;
  if (column.IsNull(index)) return {nullptr, 0};
  if (column.type_id() == arrow::Type::BINARY) {
    view = static_cast<const arrow::BinaryArray&>(column).GetView(index);
  } else if (column.type_id() == arrow::Type::LARGE_BINARY) {
    view = static_cast<const arrow::LargeBinaryArray&>(column).GetView(index);
  } else {
    return {nullptr, 0};
  }
  const auto* data = reinterpret_cast<const uint8_t*>(view.data());
  if (!image::looksLikeJpeg(data, view.size())) return {nullptr, 0};
  return {data, view.size()};
}

/// The first error of the job; later ones are dropped. Setting it cancels every queue.
class JobFailure {
 public:
  void set(const Status& status) {
    {
      std::lock_guard lock(mutex_);
      if (!status_.ok()) return;
      status_ = status;
    }
    failed_ = true;
    for (auto& cancel : cancellers_) cancel();
  }
  bool failed() const { return failed_; }
  Status status() const {
    std::lock_guard lock(mutex_);
    return status_;
  }
  void onFailure(std::function<void()> cancel) { cancellers_.push_back(std::move(cancel)); }

 private:
  mutable std::mutex mutex_;
  Status status_;
  std::atomic<bool> failed_{false};
  std::vector<std::function<void()>> cancellers_;
};

nlohmann::json configurationJson(const JobOptions& options, int64_t batchSize, int workers, int64_t budget,
                                 const WorkPlan& plan, const std::vector<backend::BackendOptions>& backends) {
  std::vector<int> gpus;
  for (const auto& backend : backends) {
    if (backend.device == "cuda") gpus.push_back(backend.deviceIndex);
  }
  const char* modes[] = {"run", "preprocess", "predict"};
  return {
      {"mode", modes[static_cast<int>(options.mode)]},
      {"input", plan.input.uri()},
      {"output", plan.output.uri()},
      {"model", options.modelPath},
      {"image_column", options.imageColumn},
      {"image_shape", plan.imageShape.toString()},
      {"crop_size", options.cropSize},
      {"resize_size", options.resizeSize},
      {"dct_scaling_margin", options.dctScalingMargin},
      {"normalize", image::normalizationName(options.normalization)},
      {"topk", options.topk},
      {"logits", options.writeLogits},
      {"device", backends.empty() ? "none" : backends.front().device},
      {"gpus", gpus},
      {"precision", backends.empty() ? "none" : backend::precisionName(backends.front().precision)},
      {"inference_workers", backends.size()},
      {"batch_size", batchSize},
      {"cpu_workers", workers},
      {"decode", options.decode},
      {"memory_budget_bytes", budget},
      {"limit", options.limit},
      {"skip_bad_files", options.skipBadFiles},
      {"resume", options.resume},
      {"pass_through", options.passThrough},
  };
}

class Pipeline {
 public:
  // The monitor started with the job, before planning, so that listing and reading footers count in its time.
  Pipeline(const JobOptions& options, WorkPlan plan, JobMonitor& monitor)
      : options_(options), plan_(std::move(plan)), monitor_(monitor), start_(monitor.start()) {}

  /// Runs the job; the report (partial when this fails) is `report()` afterwards.
  Status run(const BackendFactory& makeBackend, const StartupMemoryBound& memoryBound);
  JobReport& report() { return report_; }

 private:
  // Start-up, in two parts: prepare() plans what needs no backend (and may let preprocessing start),
  // start() makes the backends and GPU decoders, sizes the queues and builds the output layout.
  Status prepare(const StartupMemoryBound& memoryBound);
  Status start(const BackendFactory& makeBackend);
  Status planGpuDecode();
  Status createGpuDecoders();
  // What the budget leaves the queues when the backends hold `modelBytes` of host memory.
  int64_t queueBytesFor(int64_t modelBytes) const;
  Status budgetTooSmall(int64_t modelBytes) const;
  // Gives the queues their budget: while the backends start, then once their memory is known.
  void sizeQueues(int64_t queueBytes);
  int64_t preprocessedShare(int64_t queueBytes) const;  // of the queues' budget
  void preprocessWorker(WorkerTimes& times);
  void gpuDecodeWorker(int worker, WorkerTimes& times);
  UnitResult preprocessUnit(const WorkUnit& unit, RowDecoder& decoder,
                            std::vector<DeferredJpegRow>* deferred = nullptr);
  // Hands a unit to the inference stage (or the writer); false when the job is over.
  bool pushPreprocessed(int64_t index, UnitResult result, WorkerTimes& times);
  Status createBackends(const BackendFactory& makeBackend, const std::vector<backend::BackendOptions>& plans);
  void inferenceWorker(backend::InferenceBackend& backend, WorkerTimes& times);
  void writerWorker(WorkerTimes& times);
  Status writeUnit(UnitResult& unit);

  const JobOptions& options_;
  WorkPlan plan_;
  JobMonitor& monitor_;
  Clock::time_point start_;
  std::vector<backend::BackendOptions> backendPlans_;  // one per inference worker
  std::vector<std::unique_ptr<backend::InferenceBackend>> backends_;  // made from backendPlans_
  // Preprocessing runs while the backends start: their memory was known before they were made.
  bool overlapStartup_ = false;
  int64_t budget_ = 0;
  int64_t unitBytes_ = 0;   // the largest unit's crops
  int64_t stageBytes_ = 0;  // the stages' own working memory
  image::ResizeCropOptions resizeCrop_;
  int64_t cropBytes_ = 0;
  std::unique_ptr<OutputBatchBuilder> outputBuilder_;
  std::unique_ptr<OrderedQueue<UnitResult>> preprocessed_;
  std::unique_ptr<OrderedQueue<UnitResult>> predicted_;
  // Crop buffers the inference workers are done with, for the preprocessing workers to fill again.
  std::unique_ptr<BufferPool> cropBuffers_;
  JobFailure failure_;
  JobReport report_;
  int64_t batchSize_ = 0;
  int workers_ = 1;                 // CPU preprocess workers
  std::vector<int> gpuDecodeDevices_;  // one GPU decode worker per entry, on that GPU
  std::atomic<int64_t> preprocessedRows_{0};  // rows handed on by the preprocessing stage
  std::atomic<int64_t> cpuDecodedRows_{0};
  std::atomic<int64_t> gpuDecodedRows_{0};
#if SLUICE_WITH_NVJPEG
  std::vector<std::unique_ptr<backend::cuda::GpuJpegDecoder>> gpuDecoders_;  // one per GPU decode worker
#endif
  int64_t numClasses_ = 0;
  int topk_ = 0;
  std::atomic<int64_t> nextUnit_{0};
  std::atomic<double> firstBatchSeconds_{-1};

  // Writer state: the file being written, and its counts (added to the report when committed).
  int currentFile_ = -1;
  bool currentFileSkipped_ = false;
  int64_t currentFileImages_ = 0;
  int64_t currentFileErrors_ = 0;
  std::string currentFileFirstError_;  // promoted to the report when the file commits
  std::unique_ptr<io::AtomicParquetWriter> writer_;
};

Status Pipeline::prepare(const StartupMemoryBound& memoryBound) {
  const bool predicting = options_.mode != JobMode::kPreprocess;
  const auto& shape = plan_.imageShape;
  if (shape.height < options_.cropSize || shape.width < options_.cropSize) {
    return Status::InvalidArgument("images of shape " + shape.toString() + " are smaller than the crop size " +
                                   std::to_string(options_.cropSize));
  }
  workers_ = options_.cpuWorkers > 0 ? options_.cpuWorkers : std::max(1u, std::thread::hardware_concurrency());
  if (options_.decode != "cpu" && options_.decode != "gpu" && options_.decode != "auto") {
    return Status::InvalidArgument("unknown --decode '" + options_.decode + "'; use cpu, gpu or auto");
  }
  const std::string device = predicting ? resolveDevice(options_.device) : "none";
  batchSize_ = options_.batchSize > 0 ? options_.batchSize : defaultBatchSize(device);
  resizeCrop_ = image::ResizeCropOptions{options_.resizeSize, options_.cropSize, options_.dctScalingMargin};
  // Raw pixels in list columns are only cropped: --resize-size does not apply to them.
  const bool onlyRawPixels = std::all_of(plan_.files.begin(), plan_.files.end(), [](const PlannedFile& file) {
    return file.input->imageKind() != io::ImageColumnKind::kBinary;
  });
  if (onlyRawPixels) resizeCrop_.resizeSize = std::max(resizeCrop_.resizeSize, resizeCrop_.cropSize);
  SLUICE_RETURN_IF_ERROR(image::validate(resizeCrop_));
  cropBytes_ = RowDecoder(shape, resizeCrop_).cropBytes();

  if (predicting) {
    SLUICE_ASSIGN_OR_RETURN(backendPlans_,
                            planBackends({.device = options_.device,
                                          .devices = options_.devices,
                                          .precision = options_.precision,
                                          .workers = options_.inferenceWorkers},
                                         backendOptionsFor(options_, batchSize_)));
  } else {
    report_.device = "none (preprocess only)";
  }
  SLUICE_RETURN_IF_ERROR(planGpuDecode());

  // Memory: what the stages hold themselves, then the rest for the queues between them.
  budget_ = options_.memoryBudgetBytes > 0 ? options_.memoryBudgetBytes : defaultMemoryBudget();
  report_.memoryBudgetBytes = budget_;
  unitBytes_ = std::max<int64_t>(plan_.largestUnitRows, 1) * (cropBytes_ + 64);
  // A read batch in decoding: int32 values, two int16 levels and the uint8 result per pixel value.
  const int64_t readBytes = kReadBatchRows * shape.bytes() * 9 + (8LL << 20);
  // A GPU decode worker also holds its unit's encoded bytes while the GPU decodes them.
  const int64_t gpuWorkers = static_cast<int64_t>(gpuDecodeDevices_.size());
  const int64_t inferenceWorkers = static_cast<int64_t>(backendPlans_.size());
  // When predicting, a few crop buffers wait in the pool between an inference worker's giving and
  // a preprocessing worker's taking (crops are written, not recycled, when preprocessing). Two per
  // inference worker: enough to catch most hand-backs, small enough not to crowd the queues (a
  // unit of a 1,000-row row group is ~150 MB).
  const int64_t pooledBuffers = 2 * inferenceWorkers;
  cropBuffers_ = std::make_unique<BufferPool>(pooledBuffers);
  stageBytes_ = (workers_ + 2 * gpuWorkers + 2 * inferenceWorkers + pooledBuffers) * unitBytes_ +
                (workers_ + gpuWorkers) * readBytes;
  report_.configuration = configurationJson(options_, batchSize_, workers_, budget_, plan_, backendPlans_);
  // The queues exist from here on, with no room until start() or the overlap below sizes them, so
  // that a failure (or Ctrl-C, from the monitor's thread) always finds them to cancel.
  preprocessed_ = std::make_unique<OrderedQueue<UnitResult>>(0);
  predicted_ = std::make_unique<OrderedQueue<UnitResult>>(0);
  failure_.onFailure([this] { preprocessed_->cancel(); });
  failure_.onFailure([this] { predicted_->cancel(); });
  if (!predicting) return Status::OK();

  // Starting a model can take seconds (on a GPU: the CUDA context, cuDNN's algorithm choice, graph
  // capture), in which the CPU workers could have preprocessed thousands of images. They start
  // first when the memory every backend will hold is known before it is made, and the budget
  // leaves the preprocessed queue room for two units even then; the queues grow to their final
  // size once the backends say what they hold.
  int64_t bound = 0;
  for (const auto& backendPlan : backendPlans_) {
    const std::optional<int64_t> backendBound = memoryBound ? memoryBound(backendPlan) : std::nullopt;
    if (!backendBound) return Status::OK();
    bound += *backendBound;
  }
  if (workers_ > 0 && preprocessedShare(queueBytesFor(bound)) >= 2 * unitBytes_) {
    overlapStartup_ = true;
    sizeQueues(queueBytesFor(bound));
  }
  return Status::OK();
}

Status Pipeline::start(const BackendFactory& makeBackend) {
  const bool predicting = options_.mode != JobMode::kPreprocess;
  int64_t modelBytes = 0;
  if (predicting) {
    SLUICE_RETURN_IF_ERROR(createBackends(makeBackend, backendPlans_));
    numClasses_ = backends_.front()->numClasses();
    topk_ = backends_.front()->topk();
    for (const auto& backend : backends_) modelBytes += backend->memoryBytes();
  }
  const int64_t queueBytes = queueBytesFor(modelBytes);
  if (queueBytes < 2 * unitBytes_) return budgetTooSmall(modelBytes);
  sizeQueues(queueBytes);
  SLUICE_RETURN_IF_ERROR(createGpuDecoders());

  OutputLayout layout;
  layout.mode = options_.mode;
  layout.numClasses = numClasses_;
  layout.topk = topk_;
  layout.writeLogits = options_.writeLogits && predicting;
  layout.cropShape = image::ImageShape{options_.cropSize, options_.cropSize, plan_.imageShape.channels};
  layout.hasSourceColumns = plan_.hasSourceColumns;
  layout.largestUnitRows = plan_.largestUnitRows;
  if (!plan_.files.empty()) {
    const auto& schema = *plan_.files.front().input->schema();
    for (const auto& name : options_.passThrough) layout.passThrough.push_back(schema.GetFieldByName(name));
  }
  outputBuilder_ = std::make_unique<OutputBatchBuilder>(std::move(layout));
  return Status::OK();
}

int64_t Pipeline::queueBytesFor(int64_t modelBytes) const {
  return budget_ - kBaseReserveBytes - modelBytes - stageBytes_;
}

Status Pipeline::budgetTooSmall(int64_t modelBytes) const {
  // Every part, so the sum is the figure asked for, and the lever that matters most first.
  const bool modelDominates = modelBytes > stageBytes_;
  return Status::InvalidArgument(
      "--memory-budget " + formatByteSize(budget_) + " is too small for this job; give at least " +
      formatByteSize(kBaseReserveBytes + modelBytes + stageBytes_ + 2 * unitBytes_) + ": the model with its " +
      "batch buffers takes " + formatByteSize(modelBytes) + ", the stages' working memory (" +
      std::to_string(workers_) + " preprocessing worker(s), row groups of " + std::to_string(plan_.largestUnitRows) +
      " images) " + formatByteSize(stageBytes_) + ", the queues at least " + formatByteSize(2 * unitBytes_) +
      " and a fixed reserve " + formatByteSize(kBaseReserveBytes) +
      (modelDominates ? "; a smaller --batch-size shrinks the batch buffers"
                      : "; fewer --cpu-workers or smaller row groups shrink the stages"));
}

int64_t Pipeline::preprocessedShare(int64_t queueBytes) const {
  // When predicting, the queue after inference holds results only (a quarter is plenty).
  return options_.mode != JobMode::kPreprocess ? queueBytes * 3 / 4 : queueBytes;
}

void Pipeline::sizeQueues(int64_t queueBytes) {
  const int64_t preprocessedBytes = preprocessedShare(queueBytes);
  preprocessed_->setCapacity(preprocessedBytes);
  predicted_->setCapacity(std::max<int64_t>(queueBytes - preprocessedBytes, 1));
}

Status Pipeline::planGpuDecode() {
  if (options_.decode == "cpu") return Status::OK();
  std::string unavailable;  // why GPU decoding cannot run here
#if SLUICE_WITH_NVJPEG
  const auto& probe = backend::cuda::probeCuda();
  if (probe.gpus.empty()) unavailable = "no usable GPU (" + probe.problem + ")";
#else
  unavailable =
      "this build of sluice has no nvJPEG (neither the CUDA toolkit nor the nvidia-nvjpeg wheel had it when sluice "
      "was built)";
#endif
  if (!unavailable.empty()) {
    if (options_.decode == "auto") return Status::OK();
    return Status::InvalidArgument("--decode gpu cannot run: " + unavailable +
                                   "; use --decode cpu, or auto, which decodes on the CPU when no GPU is usable");
  }
  // Only a binary image column can hold JPEGs; raw pixels (and predict's crops) leave nothing to decode.
  bool encodedColumn = false;
  if (options_.mode != JobMode::kPredict && !plan_.files.empty()) {
    auto field = plan_.files.front().input->schema()->GetFieldByName(options_.imageColumn);
    encodedColumn = field && (field->type()->id() == arrow::Type::BINARY ||
                              field->type()->id() == arrow::Type::LARGE_BINARY);
  }
  if (!encodedColumn) return Status::OK();
  // Decode on the GPUs that run the model (their copies of the crops stay local), else on GPU 0.
  std::vector<int> gpus;
  for (const auto& plan : backendPlans_) {
    if (plan.device == "cuda" && std::find(gpus.begin(), gpus.end(), plan.deviceIndex) == gpus.end()) {
      gpus.push_back(plan.deviceIndex);
    }
  }
  if (gpus.empty()) gpus.push_back(0);
  for (int gpu : gpus) {
    for (int i = 0; i < kGpuDecodeWorkersPerGpu; ++i) gpuDecodeDevices_.push_back(gpu);
  }
  // gpu: the GPU decode workers alone (they decode what nvJPEG declines themselves); auto: beside
  // the CPU workers, all drawing from the same units.
  if (options_.decode == "gpu") workers_ = 0;
  return Status::OK();
}

Status Pipeline::createGpuDecoders() {
#if SLUICE_WITH_NVJPEG
  // After the backends: setting a decoder up may synchronize its GPU, which would break a graph
  // capture a backend runs there (CudaBackend's start-up lock covers backends only).
  std::vector<int> gpus;
  for (int gpu : gpuDecodeDevices_) {
    SLUICE_ASSIGN_OR_RETURN(auto decoder, backend::cuda::GpuJpegDecoder::Make({.deviceIndex = gpu,
                                                                               .resizeCrop = resizeCrop_}));
    const std::string why = decoder->hardwareUnavailable();
    report_.gpuDecoder = "nvJPEG (" + decoder->backendName() +
                         (why.empty() ? "" : "; hardware backend: " + why) +
                         ") on cuda:" + std::to_string(gpu);
    gpuDecoders_.push_back(std::move(decoder));
    if (std::find(gpus.begin(), gpus.end(), gpu) == gpus.end()) gpus.push_back(gpu);
  }
  if (gpus.size() > 1) report_.gpuDecoder += " and " + std::to_string(gpus.size() - 1) + " more GPU(s)";
#endif
  return Status::OK();
}

UnitResult Pipeline::preprocessUnit(const WorkUnit& unit, RowDecoder& decoder,
                                    std::vector<DeferredJpegRow>* deferred) {
  UnitResult result;
  result.unit = unit;
  result.crops = cropBuffers_->take(unit.numRows * cropBytes_);  // pushPreprocessed zeroes failed rows
  result.errors.assign(unit.numRows, "");
  if (unit.rowGroup < 0) return result;

  const auto& file = *plan_.files[unit.fileIndex].input;
  // Raw pixels in a list column come straight from the pages into the crops; the other columns, if
  // any, through Arrow.
  const bool streamPixels = file.canStreamPixels() && !plan_.hasSourceColumns && !options_.arrowPixelReader;
  if (streamPixels) {
    StreamedRowCropper cropper(decoder, result.crops.data(), result.errors);
    Status streamed = file.streamPixels(unit.rowGroup, unit.numRows, cropper);
    if (!streamed.ok()) {
      result.fileError = streamed;
      return result;
    }
    cpuDecodedRows_ += unit.numRows;
    if (plan_.extraColumns.empty()) return result;
  }
  auto batches = file.readRowGroup(unit.rowGroup, kReadBatchRows, !streamPixels);
  if (!batches.ok()) {
    result.fileError = batches.status();
    return result;
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> extraBatches;
  int64_t row = 0;
  while (row < unit.numRows) {
    std::shared_ptr<arrow::RecordBatch> batch;
    auto status = (*batches)->ReadNext(&batch);
    if (!status.ok()) {
      result.fileError = io::fromArrow(status, "reading row group " + std::to_string(unit.rowGroup) + " of " + file.uri());
      return result;
    }
    if (!batch) {
      result.fileError = Status::InvalidData(file.uri() + ": row group " + std::to_string(unit.rowGroup) +
                                             " ended before the rows its footer announces");
      return result;
    }
    int64_t rows = std::min(batch->num_rows(), unit.numRows - row);
    if (rows < batch->num_rows()) batch = batch->Slice(0, rows);
    if (!streamPixels) {
      auto images = batch->GetColumnByName(options_.imageColumn);
      std::shared_ptr<arrow::Array> sourceErrors;
      if (plan_.hasSourceColumns) sourceErrors = batch->GetColumnByName(kSourceErrorColumn);
      for (int64_t i = 0; i < rows; ++i) {
        auto& error = result.errors[row + i];
        if (sourceErrors && !sourceErrors->IsNull(i)) {
          auto view = static_cast<const arrow::StringArray&>(*sourceErrors).GetView(i);
          error.assign(view.data(), view.size());
          if (error.empty()) error = kEarlierStageFailure;
          continue;
        }
        if (deferred && jpegBytes(*images, i).first) {
          deferred->push_back({images, i, row + i});
          continue;
        }
        error = decoder.decode(*images, i, result.crops.data() + (row + i) * cropBytes_);
        ++cpuDecodedRows_;
      }
    }
    if (!plan_.extraColumns.empty()) {
      arrow::ArrayVector extra;
      arrow::FieldVector fields;
      for (const auto& name : plan_.extraColumns) {
        extra.push_back(batch->GetColumnByName(name));
        fields.push_back(batch->schema()->GetFieldByName(name));
      }
      extraBatches.push_back(arrow::RecordBatch::Make(arrow::schema(fields), rows, std::move(extra)));
    }
    row += rows;
  }
  if (!extraBatches.empty()) {
    auto table = arrow::Table::FromRecordBatches(extraBatches);
    auto combined = table.ok() ? (*table)->CombineChunksToBatch() : table.status();
    if (!combined.ok()) {
      result.fileError = io::fromArrow(combined.status(), "collecting columns of " + file.uri());
      return result;
    }
    result.extra = *combined;
  }
  return result;
}

bool Pipeline::pushPreprocessed(int64_t index, UnitResult result, WorkerTimes& times) {
  if (!result.fileError.ok() && !options_.skipBadFiles) {
    // Skipping helps with a corrupt file, not with a storage or credentials failure.
    failure_.set(result.fileError.code() == StatusCode::kInvalidData ? result.fileError.withAdvice(kSkipBadFilesAdvice)
                                                                     : result.fileError);
    return false;
  }
  // A reused crop buffer holds an older unit's pixels where a row failed (and a failed decode may
  // have written part of its crop): failed rows are written as zeroes.
  if (result.fileError.ok()) {
    for (int64_t row = 0; row < result.unit.numRows; ++row) {
      if (result.rowFailed(row)) std::fill_n(result.crops.data() + row * cropBytes_, cropBytes_, uint8_t{0});
    }
  }
  const int64_t bytes = result.bytes();
  const int64_t rows = result.unit.numRows;
  if (!preprocessed_->push(index, std::move(result), bytes, &times.waitingForOutputSeconds)) return false;
  preprocessedRows_ += rows;
  return true;
}

void Pipeline::preprocessWorker(WorkerTimes& times) {
  const int64_t units = static_cast<int64_t>(plan_.units.size());
  RowDecoder decoder(plan_.imageShape, resizeCrop_);  // this worker's decoding buffers
  for (int64_t index = nextUnit_++; index < units && !failure_.failed(); index = nextUnit_++) {
    UnitResult result;
    {
      ScopedTimer busy(times.busySeconds);
      result = preprocessUnit(plan_.units[index], decoder);
    }
    if (!pushPreprocessed(index, std::move(result), times)) return;
  }
}

void Pipeline::gpuDecodeWorker([[maybe_unused]] int worker, [[maybe_unused]] WorkerTimes& times) {
#if SLUICE_WITH_NVJPEG
  backend::cuda::GpuJpegDecoder& gpuDecoder = *gpuDecoders_[worker];
  const int64_t units = static_cast<int64_t>(plan_.units.size());
  RowDecoder decoder(plan_.imageShape, resizeCrop_);  // rows that are not JPEGs, or that nvJPEG declines
  std::vector<DeferredJpegRow> deferred;
  std::vector<backend::cuda::GpuDecodeRequest> requests;
  for (int64_t index = nextUnit_++; index < units && !failure_.failed(); index = nextUnit_++) {
    UnitResult result;
    {
      ScopedTimer busy(times.busySeconds);
      deferred.clear();
      result = preprocessUnit(plan_.units[index], decoder, &deferred);
      if (result.fileError.ok() && !deferred.empty()) {
        requests.clear();
        for (const auto& row : deferred) {
          auto [data, size] = jpegBytes(*row.column, row.indexInColumn);
          requests.push_back({data, size, result.crops.data() + row.row * cropBytes_});
        }
        auto decoded = gpuDecoder.decode(requests);
        if (!decoded.ok()) return failure_.set(decoded.status());
        int64_t onGpu = 0;
        for (size_t i = 0; i < deferred.size(); ++i) {
          if ((*decoded)[i]) {
            ++onGpu;
            continue;
          }
          const auto& row = deferred[i];
          result.errors[row.row] = decoder.decode(*row.column, row.indexInColumn, requests[i].crop);
          ++cpuDecodedRows_;
        }
        gpuDecodedRows_ += onGpu;
      }
      deferred.clear();  // releases the row group's encoded bytes
    }
    if (!pushPreprocessed(index, std::move(result), times)) return;
  }
#endif
}

Status Pipeline::createBackends(const BackendFactory& makeBackend,
                                const std::vector<backend::BackendOptions>& plans) {
  // In parallel: on GPUs most of the start-up is per-device work (plans, graph capture).
  std::vector<std::future<Result<std::unique_ptr<backend::InferenceBackend>>>> made;
  for (const auto& plan : plans) made.push_back(std::async(std::launch::async, makeBackend, plan));
  Status firstError;
  for (auto& future : made) {
    auto backend = future.get();
    if (!backend.ok()) {
      if (firstError.ok()) firstError = backend.status();
      continue;
    }
    report_.backendStartups.push_back({(*backend)->deviceName(), (*backend)->startupSteps()});
    backends_.push_back(std::move(*backend));
  }
  if (!firstError.ok()) return firstError;
  // One line for the report: "cuda:0 (...), cuda:1 (...)", or "2 x cpu (...)" for identical workers.
  std::vector<std::string> names;
  for (const auto& backend : backends_) {
    if (std::find(names.begin(), names.end(), backend->deviceName()) == names.end()) {
      names.push_back(backend->deviceName());
    }
  }
  report_.device = names.size() == 1 && backends_.size() > 1
                       ? std::to_string(backends_.size()) + " x " + names.front()
                       : names.front();
  for (size_t i = 1; i < names.size(); ++i) report_.device += ", " + names[i];
  return Status::OK();
}

void Pipeline::inferenceWorker(backend::InferenceBackend& backend, WorkerTimes& times) {
  BatchRunner runner(backend, batchSize_, cropBytes_, [this](int64_t images) {
    double unset = -1;
    firstBatchSeconds_.compare_exchange_strong(unset, secondsSince(start_));
    monitor_.imagesDone(images);
  });
  std::deque<UnitResult> pending;  // this worker's units, oldest first; addresses stay put
  // Units whose results are all in leave, oldest first (the writer's queue puts every worker's
  // units back in sequence order).
  auto forwardFinished = [&](bool all) {
    while (!pending.empty() && (all || pending.front().rowsInFlight == 0)) {
      UnitResult unit = std::move(pending.front());
      pending.pop_front();
      const int64_t sequence = unit.unit.sequence;
      int64_t bytes = unit.bytes();
      if (!predicted_->push(sequence, std::move(unit), bytes, &times.waitingForOutputSeconds)) return false;
    }
    return true;
  };
  while (true) {
    while (!runner.idle() && !preprocessed_->nextReady()) {
      // Preprocessing is behind: rather than hold the open batch and the results in flight until
      // the next unit comes, collect results (so finished units reach the writer) and, once the
      // device has nothing else, run the rows the open batch has. A part-full batch costs a full
      // one on a GPU (its graph has one batch size), so it waits while another batch is in flight.
      {
        ScopedTimer busy(times.busySeconds);
        Status status = runner.advance();
        if (!status.ok()) return failure_.set(status);
      }
      if (!forwardFinished(false)) return;
    }
    auto next = preprocessed_->pop(&times.waitingForInputSeconds);
    if (!next) break;
    {
      ScopedTimer busy(times.busySeconds);
      UnitResult& unit = pending.emplace_back(std::move(*next));
      runner.prepare(unit, options_.writeLogits);
      if (unit.fileError.ok()) {
        for (int64_t row = 0; row < unit.unit.numRows; ++row) {
          if (unit.rowFailed(row)) {
            monitor_.imagesDone(1);
            continue;
          }
          Status status = runner.add(unit, row);
          if (!status.ok()) return failure_.set(status);
        }
      }
      // Every crop is in a batch now, and crops are not written when predicting.
      cropBuffers_->give(std::move(unit.crops));
    }
    if (!forwardFinished(false)) return;
  }
  if (failure_.failed()) return;
  {
    ScopedTimer busy(times.busySeconds);
    Status status = runner.finish();
    if (!status.ok()) return failure_.set(status);
  }
  forwardFinished(true);
}

Status Pipeline::writeUnit(UnitResult& unit) {
  const auto& planned = plan_.files[unit.unit.fileIndex];
  if (unit.unit.fileIndex != currentFile_) {
    currentFile_ = unit.unit.fileIndex;
    currentFileSkipped_ = false;
    currentFileImages_ = 0;
    currentFileErrors_ = 0;
    currentFileFirstError_.clear();
  }
  if (currentFileSkipped_) return Status::OK();
  if (!unit.fileError.ok()) {
    // Only reached with --skip-bad-files: drop what was written of this file and go on.
    if (writer_) writer_->abort();
    writer_.reset();
    currentFileSkipped_ = true;
    report_.skippedFiles.push_back(unit.fileError.message());
    return Status::OK();
  }
  if (!writer_) {
    SLUICE_ASSIGN_OR_RETURN(writer_, io::AtomicParquetWriter::Open(plan_.output, planned.outputPath,
                                                                   outputBuilder_->schema()));
  }
  int64_t failedRows = 0;
  for (int64_t row = 0; row < unit.unit.numRows; ++row) {
    if (!unit.rowFailed(row)) continue;
    if (failedRows++ == 0 && currentFileFirstError_.empty()) {
      currentFileFirstError_ = planned.input->uri() + " row " + std::to_string(unit.unit.firstRow + row) + ": " +
                               unit.errors[row];
    }
  }
  SLUICE_ASSIGN_OR_RETURN(auto batch, outputBuilder_->build(unit, planned.input->uri()));
  SLUICE_RETURN_IF_ERROR(writer_->write(*batch));
  currentFileImages_ += unit.unit.numRows;
  currentFileErrors_ += failedRows;
  if (options_.mode == JobMode::kPreprocess) monitor_.imagesDone(unit.unit.numRows);
  if (unit.unit.lastOfFile) {
    SLUICE_RETURN_IF_ERROR(writer_->commit());
    writer_.reset();
    ++report_.files;
    report_.images += currentFileImages_;
    report_.errors += currentFileErrors_;
    if (report_.firstError.empty()) report_.firstError = currentFileFirstError_;
  }
  return Status::OK();
}

void Pipeline::writerWorker(WorkerTimes& times) {
  const bool predicting = options_.mode != JobMode::kPreprocess;
  while (true) {
    std::optional<UnitResult> unit =
        predicting ? predicted_->pop(&times.waitingForInputSeconds) : preprocessed_->pop(&times.waitingForInputSeconds);
    if (!unit) break;
    Status status;
    {
      ScopedTimer busy(times.busySeconds);
      status = writeUnit(*unit);
    }
    if (!status.ok()) {
      failure_.set(status);
      break;
    }
  }
  if (writer_) {
    writer_->abort();  // the job failed part-way through this file
    writer_.reset();
  }
}

Status Pipeline::run(const BackendFactory& makeBackend, const StartupMemoryBound& memoryBound) {
  report_.skippedFiles = plan_.skippedFiles;  // files skipped while running are added after these
  report_.resumedFiles = plan_.resumedFiles;
  report_.redoneFiles = plan_.redoneFiles;
  Status status = prepare(memoryBound);
  if (status.ok() && monitor_.stopRequested()) status = Status::Cancelled("the job was interrupted");
  if (!status.ok()) {
    report_.seconds = secondsSince(start_);
    return status;
  }
  const bool predicting = options_.mode != JobMode::kPreprocess;
  // When the CPU workers started, and when the others could (once the backends were made): each
  // stage's utilization is its busy share of the time it could run.
  Clock::time_point preprocessStart, runningStart;

  StageStats preprocessStats("preprocess", workers_);
  const int gpuDecodeWorkers = static_cast<int>(gpuDecodeDevices_.size());
  StageStats gpuDecodeStats("gpu_decode", gpuDecodeWorkers);
  const int inferenceWorkers = static_cast<int>(backendPlans_.size());
  StageStats inferenceStats("inference", std::max(1, inferenceWorkers));
  StageStats writerStats("write", 1);
  monitor_.onStop([this] {
    failure_.set(Status::Cancelled("the job was interrupted: output files in progress were dropped and "
                                   "complete ones kept; --resume goes on from them"));
  });
  std::vector<std::thread> preprocessThreads;
  std::atomic<int> preprocessRunning{workers_ + gpuDecodeWorkers};
  auto startCpuWorkers = [&] {
    preprocessStart = Clock::now();
    for (int i = 0; i < workers_; ++i) {
      preprocessThreads.emplace_back([&] {
        WorkerTimes times;
        preprocessWorker(times);
        preprocessStats.add(times);
        if (--preprocessRunning == 0) preprocessed_->close();
      });
    }
  };
  if (overlapStartup_) startCpuWorkers();
  status = start(makeBackend);
  if (!status.ok() || failure_.failed() || monitor_.stopRequested()) {
    // Nothing was written yet. A stop says so plainly; otherwise the start-up's own error wins
    // over one the early preprocessing may have hit meanwhile, as it did before they overlapped.
    if (monitor_.stopRequested()) {
      status = Status::Cancelled("the job was interrupted while it started; no output was written");
    } else if (status.ok()) {
      status = failure_.status();
    }
    failure_.set(status);  // stops the preprocessing that ran meanwhile
    for (auto& thread : preprocessThreads) thread.join();
    monitor_.onStop({});
    report_.seconds = secondsSince(start_);
    return status;
  }
  report_.startupSeconds = secondsSince(start_);
  report_.startupPreprocessedImages = preprocessedRows_.load();
  monitor_.enterPhase(JobPhase::kRunning);
  runningStart = Clock::now();
  if (!overlapStartup_) startCpuWorkers();
  for (int i = 0; i < gpuDecodeWorkers; ++i) {
    preprocessThreads.emplace_back([&, i] {
      WorkerTimes times;
      gpuDecodeWorker(i, times);
      gpuDecodeStats.add(times);
      if (--preprocessRunning == 0) preprocessed_->close();
    });
  }
  std::vector<std::thread> inferenceThreads;
  std::atomic<int> inferenceRunning{inferenceWorkers};
  for (auto& backend : backends_) {
    inferenceThreads.emplace_back([&, backend = backend.get()] {
      WorkerTimes times;
      inferenceWorker(*backend, times);
      inferenceStats.add(times);
      if (--inferenceRunning == 0) predicted_->close();
    });
  }
  std::thread writerThread([&] {
    WorkerTimes times;
    writerWorker(times);
    writerStats.add(times);
  });
  for (auto& thread : preprocessThreads) thread.join();
  for (auto& thread : inferenceThreads) thread.join();
  writerThread.join();
  monitor_.onStop({});  // the handler refers to this pipeline's failure

  report_.seconds = secondsSince(start_);
  report_.firstBatchSeconds = firstBatchSeconds_.load();
  std::vector<const StageStats*> stages;
  if (workers_ > 0) stages.push_back(&preprocessStats);
  if (gpuDecodeWorkers > 0) stages.push_back(&gpuDecodeStats);
  if (predicting) stages.push_back(&inferenceStats);
  stages.push_back(&writerStats);
  for (const auto* stage : stages) {
    StageReport stageReport{stage->name(), stage->workers(), stage->totals(), 0};
    const double seconds = std::max(1e-9, secondsSince(stage == &preprocessStats ? preprocessStart : runningStart));
    stageReport.utilization = stageReport.times.busySeconds / (stage->workers() * seconds);
    report_.stages.push_back(stageReport);
  }
  report_.queues.push_back({"preprocessed", preprocessed_->stats()});
  if (predicting) report_.queues.push_back({"predicted", predicted_->stats()});
  report_.peakRssBytes = peakResidentBytes();
  report_.cpuDecodedImages = cpuDecodedRows_.load();
  report_.gpuDecodedImages = gpuDecodedRows_.load();
#if SLUICE_WITH_NVJPEG
  for (const auto& decoder : gpuDecoders_) report_.gpuDecodeRefusals += decoder->engineRefusals();
#endif

  if (failure_.failed()) return failure_.status();
  if (report_.images != plan_.totalRows && report_.skippedFiles.size() == plan_.skippedFiles.size()) {
    return Status::Internal("the pipeline wrote " + std::to_string(report_.images) + " rows but planned " +
                            std::to_string(plan_.totalRows));
  }
  monitor_.reportNow();
  return Status::OK();
}

}  // namespace

int64_t defaultBatchSize(const std::string& device) { return device == "cpu" ? 32 : 256; }

int64_t defaultMemoryBudget() {
  return std::clamp<int64_t>(physicalMemoryBytes() / 4, 1LL << 30, 16LL << 30);
}

JobResult runJob(const JobOptions& options, const BackendFactory& makeBackend, const JobCallbacks& callbacks,
                 const StartupMemoryBound& memoryBound) {
  JobMonitor monitor(callbacks, options.stopRequested);
  JobResult result;
  auto fail = [&](Status status) {
    result.status = std::move(status);
    result.report.failure = result.status.message();
    return std::move(result);
  };
  if (options.mode != JobMode::kPreprocess && options.modelPath.empty()) {
    return fail(Status::InvalidArgument("no model given; pass --model FILE.onnx"));
  }
  if (options.topk < 1) return fail(Status::InvalidArgument("--topk must be at least 1"));
  auto plan = planJob(options, &monitor);
  if (plan.ok() && monitor.stopRequested()) plan = Status::Cancelled("the job was interrupted");
  if (!plan.ok()) {
    result.report.seconds = monitor.seconds();
    return fail(plan.status());
  }
  monitor.setImagesTotal(plan->totalRows);
  monitor.enterPhase(JobPhase::kStarting);
  Pipeline pipeline(options, std::move(plan).value(), monitor);
  Status status = pipeline.run(makeBackend, memoryBound);
  monitor.stop();
  result.report = std::move(pipeline.report());
  if (!status.ok()) return fail(status);
  return result;
}

}  // namespace sluice::engine
