#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_devices.h"
#include "backend/cuda/cuda_executor.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernels.h"
#include "backend/model_input.h"
#include "image/preprocess.h"
#include "model/model_loader.h"

namespace sluice::backend::cuda {

namespace {

/// Batches one GPU keeps in flight: one copying in while one computes.
constexpr int kSlots = 2;

/// Held while a backend is made on `device`. Backends are made in parallel (one thread each), and
/// CUDA forbids synchronizing a device while one of its streams is being captured, which
/// cudaDeviceSynchronize, cudnnCreate and cudnnDestroy do: two workers on one GPU would break each
/// other's capture. Different GPUs still start in parallel.
std::mutex& startupMutex(int device) {
  static std::mutex guard;
  static std::map<int, std::mutex> mutexes;
  std::lock_guard lock(guard);
  return mutexes[device];
}

struct Slot {
  PinnedBuffer hostCrops;
  DeviceBuffer deviceCrops;
  DeviceBuffer labels, scores, logits;               // top-k (and logits) on the device
  PinnedBuffer hostLabels, hostScores, hostLogits;   // ... and their copies on the host
  cudaEvent_t copied = nullptr;                      // the crops are on the device
  cudaEvent_t done = nullptr;                        // the results are on the host
  cudaGraphExec_t graph = nullptr;
  int64_t launchedCount = 0;                         // 0: nothing launched since the last wait
};

}  // namespace

struct CudaBackend::State {
  BackendOptions options;
  std::unique_ptr<CudaExecutor> executor;
  cudaStream_t copyStream = nullptr;
  cudaStream_t computeStream = nullptr;
  DeviceBuffer normalizationTable;
  Slot slots[kSlots];
  int64_t cropBytes = 0;
  int64_t numClasses = 0;
  int topk = 0;
  bool useGraphs = true;
  std::string captureRefusal;  // why capture failed, for the device name
  bool started = false;        // Make finished: the destructor must take the start-up lock itself
  std::string name;
  StepSeconds startupSteps;

  ~State() {
    cudaSetDevice(options.deviceIndex);
    // Synchronizing or destroying cuDNN on a device breaks a capture another backend may be
    // running there (a BackendCache drops idle backends while others start); Make already holds
    // the lock when a failed start is unwound.
    std::unique_lock startup(startupMutex(options.deviceIndex), std::defer_lock);
    if (started) startup.lock();
    if (computeStream) cudaStreamSynchronize(computeStream);
    if (copyStream) cudaStreamSynchronize(copyStream);
    for (Slot& slot : slots) {
      if (slot.graph) cudaGraphExecDestroy(slot.graph);
      if (slot.copied) cudaEventDestroy(slot.copied);
      if (slot.done) cudaEventDestroy(slot.done);
    }
    // The executor's cuDNN handle still names the compute stream: release it while that exists.
    executor.reset();
    // Freed here, under the lock: cudaFree and cudaFreeHost synchronize the device, as the members'
    // own destructors would after the lock is released.
    for (Slot& slot : slots) slot = Slot{};
    normalizationTable = DeviceBuffer{};
    if (copyStream) cudaStreamDestroy(copyStream);
    if (computeStream) cudaStreamDestroy(computeStream);
  }

  /// Everything a slot's batch does after its crops are on the device, on the compute stream.
  Status enqueue(Slot& slot) {
    const auto shape = executor->inputShape();
    SLUICE_CUDA_RETURN_IF_ERROR(launchNormalize(slot.deviceCrops.as<uint8_t>(), options.batchSize,
                                                static_cast<int>(shape[1]), static_cast<int>(shape[2]),
                                                executor->inputChannels(), normalizationTable.as<float>(),
                                                executor->storageType(), executor->input(), computeStream));
    SLUICE_RETURN_IF_ERROR(executor->enqueue(computeStream));
    float* logits = options.returnLogits ? slot.logits.as<float>() : nullptr;
    SLUICE_CUDA_RETURN_IF_ERROR(launchSoftmaxTopK(executor->output(), options.batchSize, numClasses, topk,
                                                  executor->outputsProbabilities(), executor->storageType(),
                                                  slot.labels.as<int32_t>(), slot.scores.as<float>(), logits,
                                                  computeStream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.hostLabels.as<int32_t>(), slot.labels.data(),
                                                slot.labels.bytes(), cudaMemcpyDeviceToHost, computeStream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.hostScores.as<float>(), slot.scores.data(), slot.scores.bytes(),
                                                cudaMemcpyDeviceToHost, computeStream));
    if (logits) {
      SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.hostLogits.as<float>(), slot.logits.data(),
                                                  slot.logits.bytes(), cudaMemcpyDeviceToHost, computeStream));
    }
    return Status::OK();
  }

  /// Records the slot's work as a CUDA graph; false (and eager launches from then on) if the
  /// driver or a library refuses capture.
  bool capture(Slot& slot) {
    cudaError_t error = cudaStreamBeginCapture(computeStream, cudaStreamCaptureModeThreadLocal);
    if (error != cudaSuccess) {
      captureRefusal = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(error);
      cudaGetLastError();
      return false;
    }
    Status enqueued = enqueue(slot);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(computeStream, &graph);
    const cudaError_t instantiated =
        enqueued.ok() && ended == cudaSuccess && graph ? cudaGraphInstantiate(&slot.graph, graph, 0) : cudaSuccess;
    if (graph) cudaGraphDestroy(graph);
    const bool ok = enqueued.ok() && ended == cudaSuccess && graph && instantiated == cudaSuccess;
    if (!ok) {
      captureRefusal = !enqueued.ok()          ? enqueued.message()
                       : ended != cudaSuccess  ? std::string("cudaStreamEndCapture: ") + cudaGetErrorString(ended)
                       : !graph                ? std::string("cudaStreamEndCapture returned no graph")
                                               : std::string("cudaGraphInstantiate: ") +
                                                     cudaGetErrorString(instantiated);
      cudaGetLastError();
      slot.graph = nullptr;
    }
    return ok;
  }
};

CudaBackend::CudaBackend(std::unique_ptr<State> state) : state_(std::move(state)) {}
CudaBackend::~CudaBackend() = default;

Result<std::unique_ptr<CudaBackend>> CudaBackend::Make(const BackendOptions& options) {
  if (options.topk < 1) return Status::InvalidArgument("topk must be at least 1");
  const CudaProbe& probe = probeCuda();
  if (options.deviceIndex < 0 || options.deviceIndex >= static_cast<int>(probe.gpus.size())) {
    return Status::InvalidArgument("GPU " + std::to_string(options.deviceIndex) + " is not available" +
                                   (probe.problem.empty() ? "" : ": " + probe.problem));
  }
  StepSeconds steps;
  StepClock clock(steps);
  // The model is read and parsed on another thread while CUDA makes the context: neither needs the
  // other, and each can take a few hundred milliseconds of a start-up the whole job waits for.
  auto loading = std::async(std::launch::async, [path = options.modelPath] { return model::loadModel(path); });
  // Since CUDA 12 this creates the device's primary context when the process has none yet.
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(options.deviceIndex));
  clock.step("CUDA context");
  // Declared before `state`, so that a failed start also releases its GPU objects under the lock.
  std::lock_guard startup(startupMutex(options.deviceIndex));
  clock.step("wait for the GPU's start-up lock");
  auto state = std::make_unique<State>();
  state->options = options;
  SLUICE_ASSIGN_OR_RETURN(auto graph, loading.get());
  SLUICE_RETURN_IF_ERROR(checkModelInput(graph, options));
  clock.step("load model");  // what was left of it once the context was made
  const GpuInfo& gpu = probe.gpus[options.deviceIndex];
  std::optional<AlgorithmCache> algorithms = loadAlgorithmCache(
      options.timeConvAlgorithms, options.algorithmCachePath, gpu, precisionName(options.precision));
  SLUICE_ASSIGN_OR_RETURN(state->executor,
                          CudaExecutor::Make(graph, {.device = options.deviceIndex,
                                                     .precision = options.precision,
                                                     .batchSize = options.batchSize,
                                                     .timeAlgorithms = options.timeConvAlgorithms,
                                                     .algorithmCache = algorithms ? &*algorithms : nullptr,
                                                     .clock = &clock}));
  const std::string cacheProblem = saveAlgorithmCache(algorithms);
  CudaExecutor& executor = *state->executor;
  state->numClasses = executor.outputSize();
  if (state->numClasses > maxTopKClasses()) {
    return Status::Unsupported("the CUDA top-k handles at most " + std::to_string(maxTopKClasses()) +
                               " outputs per image; this model has " + std::to_string(state->numClasses));
  }
  state->topk = static_cast<int>(std::min<int64_t>(options.topk, state->numClasses));
  state->cropBytes = int64_t{options.cropHeight} * options.cropWidth * 3;

  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&state->copyStream, cudaStreamNonBlocking));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&state->computeStream, cudaStreamNonBlocking));
  const auto table = image::normalizationTable(options.normalization);
  SLUICE_RETURN_IF_ERROR(state->normalizationTable.allocate(sizeof(table)));
  SLUICE_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(state->normalizationTable.data(), table.data(), sizeof(table), cudaMemcpyHostToDevice));
  const int64_t batch = options.batchSize;
  for (Slot& slot : state->slots) {
    SLUICE_RETURN_IF_ERROR(slot.hostCrops.allocate(batch * state->cropBytes));
    SLUICE_RETURN_IF_ERROR(slot.deviceCrops.allocate(batch * state->cropBytes));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaMemset(slot.deviceCrops.data(), 0, batch * state->cropBytes));
    SLUICE_RETURN_IF_ERROR(slot.labels.allocate(batch * state->topk * 4));
    SLUICE_RETURN_IF_ERROR(slot.scores.allocate(batch * state->topk * 4));
    SLUICE_RETURN_IF_ERROR(slot.hostLabels.allocate(batch * state->topk * 4));
    SLUICE_RETURN_IF_ERROR(slot.hostScores.allocate(batch * state->topk * 4));
    if (options.returnLogits) {
      SLUICE_RETURN_IF_ERROR(slot.logits.allocate(batch * state->numClasses * 4));
      SLUICE_RETURN_IF_ERROR(slot.hostLogits.allocate(batch * state->numClasses * 4));
    }
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
    // The inference thread sleeps while it waits for a batch instead of spinning on a core that
    // preprocessing needs (CUDA spins by default when there are fewer contexts than cores).
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming | cudaEventBlockingSync));
  }
  // The table copy and memsets above ran on the legacy stream, which the non-blocking streams do
  // not wait for.
  SLUICE_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  clock.step("pinned slots, buffers");
  // One eager batch checks every kernel before capture; then one graph per slot.
  SLUICE_RETURN_IF_ERROR(state->enqueue(state->slots[0]));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(state->computeStream));
  clock.step("first batch");
  for (Slot& slot : state->slots) state->useGraphs = state->useGraphs && state->capture(slot);
  clock.step("capture CUDA graphs");
  state->startupSteps = std::move(steps);

  state->name = "cuda:" + std::to_string(options.deviceIndex) + " (" + gpu.name + ", " +
                precisionName(options.precision) + ", cuDNN " + cudnnVersionString(probe.cudnnVersion) + ", " +
                (state->useGraphs ? "CUDA graphs" : "no CUDA graphs: capture refused (" + state->captureRefusal + ")") +
                ", " + executor.summary() + cacheProblem + ")";
  state->started = true;
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(state)));
}

int CudaBackend::slots() const { return kSlots; }

uint8_t* CudaBackend::inputSlot(int slot) { return state_->slots[slot].hostCrops.as<uint8_t>(); }

Status CudaBackend::launch(int index, int64_t count) {
  State& state = *state_;
  if (index < 0 || index >= kSlots || count < 1 || count > state.options.batchSize) {
    return Status::Internal("launch of slot " + std::to_string(index) + " with " + std::to_string(count) + " images");
  }
  Slot& slot = state.slots[index];
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(state.options.deviceIndex));
  // Only the real crops travel; rows past `count` hold an earlier batch's crops and are ignored.
  SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.deviceCrops.data(), slot.hostCrops.as<uint8_t>(),
                                              count * state.cropBytes, cudaMemcpyHostToDevice, state.copyStream));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.copied, state.copyStream));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(state.computeStream, slot.copied, 0));
  if (state.useGraphs) {
    SLUICE_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(slot.graph, state.computeStream));
  } else {
    SLUICE_RETURN_IF_ERROR(state.enqueue(slot));
  }
  SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.done, state.computeStream));
  slot.launchedCount = count;
  return Status::OK();
}

Result<BatchOutputs> CudaBackend::wait(int index) {
  State& state = *state_;
  Slot& slot = state.slots[index];
  if (slot.launchedCount == 0) return Status::Internal("wait on slot " + std::to_string(index) + " before launch");
  SLUICE_CUDA_RETURN_IF_ERROR(cudaSetDevice(state.options.deviceIndex));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.done));
  slot.launchedCount = 0;
  return BatchOutputs{.topkLabels = slot.hostLabels.as<int32_t>(),
                      .topkScores = slot.hostScores.as<float>(),
                      .logits = state.options.returnLogits ? slot.hostLogits.as<float>() : nullptr};
}

int64_t CudaBackend::numClasses() const { return state_->numClasses; }
int CudaBackend::topk() const { return state_->topk; }

int64_t CudaBackend::hostMemoryBound(const BackendOptions& options) {
  const int64_t batch = options.batchSize;
  const int64_t crops = batch * options.cropHeight * options.cropWidth * 3;
  const int64_t labelsAndScores = 2 * batch * std::max(options.topk, 0) * 4;
  const int64_t logits = options.returnLogits ? batch * maxTopKClasses() * 4 : 0;
  return kSlots * (crops + labelsAndScores + logits);
}

int64_t CudaBackend::memoryBytes() const {
  int64_t bytes = 0;
  for (const Slot& slot : state_->slots) {
    bytes += slot.hostCrops.bytes() + slot.hostLabels.bytes() + slot.hostScores.bytes() + slot.hostLogits.bytes();
  }
  return bytes;
}

std::string CudaBackend::deviceName() const { return state_->name; }
StepSeconds CudaBackend::startupSteps() const { return state_->startupSteps; }

}  // namespace sluice::backend::cuda
