#include "backend/cuda/cuda_executor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backend/buffer_assignment.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_memory.h"
#include "backend/execution_steps.h"
#include "core/byte_size.h"
#include "model/window_geometry.h"

namespace sluice::backend::cuda {

namespace {

constexpr int64_t kAlignment = 256;
/// The most workspace one convolution may ask for; algorithms wanting more are passed over.
constexpr size_t kMaxWorkspaceBytes = size_t{1} << 30;

int64_t alignUp(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

int64_t product(const std::vector<int64_t>& dims, size_t from = 0) {
  int64_t result = 1;
  for (size_t i = from; i < dims.size(); ++i) result *= dims[i];
  return result;
}

cudnnDataType_t cudnnType(StorageType type) {
  switch (type) {
    case StorageType::kFloat: return CUDNN_DATA_FLOAT;
    case StorageType::kHalf: return CUDNN_DATA_HALF;
    case StorageType::kBfloat16: return CUDNN_DATA_BFLOAT16;
  }
  return CUDNN_DATA_FLOAT;
}

StorageType storageFor(Precision precision) {
  switch (precision) {
    case Precision::kFp16: return StorageType::kHalf;
    case Precision::kBf16: return StorageType::kBfloat16;
    default: return StorageType::kFloat;
  }
}

Status unsupported(const model::Node& node, const std::string& why) {
  return Status::Unsupported("node '" + node.name + "' (" + node.opType + ") cannot run on the CUDA backend: " + why);
}

Status setNhwc(TensorDescriptor& descriptor, StorageType type, int64_t n, int64_t c, int64_t h, int64_t w) {
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(descriptor.out()));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetTensor4dDescriptor(descriptor.get(), CUDNN_TENSOR_NHWC, cudnnType(type),
                                                          static_cast<int>(n), static_cast<int>(c),
                                                          static_cast<int>(h), static_cast<int>(w)));
  return Status::OK();
}

/// An activation value: its ONNX (NCHW) shape, and where it lives (NHWC) in the arena.
struct Value {
  std::vector<int64_t> shape;
  int root = -1;  // the value whose buffer this one shares (itself unless an alias)
  int64_t bytes = 0;
  int firstUse = 0;
  int lastUse = 0;
  int64_t offset = 0;
};

struct ConvAlgorithm {
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspaceBytes = 0;
};

struct Op {
  enum class Kind { kConv, kPool, kGlobalAveragePool, kAdd, kRelu, kToNchw, kSoftmax, kSleep };
  Kind kind = Kind::kConv;
  const model::Node* node = nullptr;
  std::vector<int> inputs;
  int output = -1;

  // kConv (also Gemm and MatMul, as 1x1 convolutions)
  TensorDescriptor x, y, bias;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  ActivationDescriptor activation;
  // Algorithms in the heuristics' order, for the fused call and for the plain convolution;
  // validate() keeps the first that runs (fused first) and drops the others.
  std::vector<ConvAlgorithm> fusedCandidates;
  std::vector<ConvAlgorithm> plainCandidates;
  ConvAlgorithm chosen;
  std::vector<int64_t> signature;  // what the algorithms depend on: shapes, window, fusion
  bool fused = true;   // one cudnnConvolutionBiasActivationForward; else convolution + sluice epilogue
  int sumInput = -1;   // value added before the ReLU
  bool relu = false;
  int64_t weightOffset = 0;     // bytes into the weight arena (storage type)
  int64_t biasOffset = 0;       // bytes into the weight arena (storage type), for the fused call
  int64_t biasFloatOffset = 0;  // bytes into the float bias arena, for the epilogue kernel
  int64_t outChannels = 0;

  // kPool: cuDNN's pooling, or sluice's kernel where cuDNN cannot (ownPool)
  PoolingDescriptor pool;
  PoolWindow poolWindow;
  bool ownPool = false;

  // kGlobalAveragePool, kToNchw, kAdd, kRelu, kSoftmax: sizes
  int64_t count = 0;
  int64_t rows = 0;
  int64_t spatial = 0;
  int64_t channels = 0;

  // kSleep
  int64_t nanoseconds = 0;

  // For profiles (DescribeOps, profile): what the op is and costs, filled in when it is built,
  // since the graph's nodes may be gone by then.
  OpTiming description;
  int64_t weightElements = 0;  // kConv: filter and bias, as stored
};

}  // namespace

struct CudaExecutor::State {
  CudaExecutorOptions options;
  const model::Graph* graph = nullptr;  // during build only
  StorageType type = StorageType::kHalf;
  CudnnHandle handle;
  std::vector<Value> values;
  std::map<std::string, int> valueIds;
  std::vector<Op> ops;
  DeviceBuffer arena;
  DeviceBuffer weights;      // storage type
  DeviceBuffer biasFloats;   // float
  DeviceBuffer workspace;
  size_t workspaceBytes = 0;
  std::string fusionRefusal;  // why cuDNN turned down the first fused call it refused, for summary()
  // Convolutions of one signature (ResNet50 has 53 in about two dozen) share what was found for the
  // first: the heuristics' candidates, and the call and algorithm validation chose, so that start-up
  // asks cuDNN (and, with timeAlgorithms, times the candidates) once per signature.
  struct SharedChoice {
    std::vector<ConvAlgorithm> fusedCandidates;
    std::vector<ConvAlgorithm> plainCandidates;
    bool validated = false;
    bool fused = false;
    ConvAlgorithm chosen;
  };
  std::map<std::vector<int64_t>, SharedChoice> convolutionsBySignature;
  int signaturesFromCache = 0;  // timed: signatures whose choice came from options.algorithmCache
  std::array<int64_t, 3> inputShape{};
  int inputChannels = 3;
  int inputValue = -1;
  int outputValue = -1;
  int64_t outputSize = 0;
  bool outputsProbabilities = false;
  bool hostOnly = false;  // CheckModel: descriptors only; cuDNN's output sizes checked, no algorithm chosen

  // Host copies of the weights, gathered while building ops and uploaded at once.
  std::vector<float> hostWeights;  // every weight and bias, float, at offsets / storage bytes
  std::vector<float> hostBiases;

  void* address(int value) const {
    return static_cast<char*>(arena.data()) + values[values[value].root].offset;
  }
  void* weightAddress(int64_t offset) const { return static_cast<char*>(weights.data()) + offset; }

  int64_t addWeights(const std::vector<float>& data) {
    const int64_t elementBytes = storageBytes(type);
    // Keep every tensor's start aligned: pad the float staging vector to a multiple of the alignment.
    int64_t offsetElements = static_cast<int64_t>(hostWeights.size());
    int64_t alignedElements = alignUp(offsetElements * elementBytes) / elementBytes;
    hostWeights.resize(alignedElements, 0.0f);
    hostWeights.insert(hostWeights.end(), data.begin(), data.end());
    return alignedElements * elementBytes;
  }
  int64_t addBiasFloats(const std::vector<float>& data) {
    int64_t offsetElements = alignUp(static_cast<int64_t>(hostBiases.size()) * 4) / 4;
    hostBiases.resize(offsetElements, 0.0f);
    hostBiases.insert(hostBiases.end(), data.begin(), data.end());
    return offsetElements * 4;
  }

  int valueId(const std::string& name) {
    auto [it, inserted] = valueIds.emplace(name, static_cast<int>(values.size()));
    if (inserted) {
      values.emplace_back();
      values.back().root = it->second;
    }
    return it->second;
  }

  Status build(const model::Graph& graph);
  Status buildConv(Op& op, const model::Node& node, const std::string& sumInput, bool relu);
  Status buildGemm(Op& op, const model::Node& node);
  Status buildPool(Op& op, const model::Node& node);
  Status convolutionDescriptors(Op& op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s,
                                int64_t outH, int64_t outW, std::array<int64_t, 2> pads,
                                std::array<int64_t, 2> strides, std::array<int64_t, 2> dilations, int64_t group);
  Status chooseAlgorithms(Op& op);
  Status allocate();
  /// `afterConvolution`, when given, is recorded between a convolution and its epilogue kernel.
  Status runOp(Op& op, cudaStream_t stream, cudaEvent_t afterConvolution = nullptr);
  Status validate(cudaStream_t stream);
  /// Sets `op` to the candidate `cached` names (whose workspace the arena's covers); false if it is
  /// none of them.
  bool adoptCached(Op& op, const CachedAlgorithm& cached) const;
  void describe(Op& op) const;
  std::vector<OpTiming> describeOps() const;
};

CudaExecutor::CudaExecutor(std::unique_ptr<State> state) : state_(std::move(state)) {}
CudaExecutor::~CudaExecutor() {
  // The handle may still name a stream its user has destroyed; cudnnDestroy should not see it.
  if (state_ && state_->handle.get()) cudnnSetStream(state_->handle.get(), nullptr);
}

namespace {

// cuDNN's tensor descriptors count elements in 32-bit ints: a batch whose largest activation has
// more is a usage error, found before the GPU is touched.
Status checkTensorSizes(const model::Graph& graph, int64_t batch) {
  SLUICE_ASSIGN_OR_RETURN(model::ShapeMap shapes, graph.inferShapes(batch));
  // The input as the executor holds it: up to 8 channels (padded for tensor cores, see build).
  const auto input = graph.inputShape();
  shapes[graph.inputName()] = {batch, std::max<int64_t>(input[0], 8), input[1], input[2]};
  for (const auto& [name, shape] : shapes) {
    const int64_t elements = product(shape);
    if (elements > std::numeric_limits<int32_t>::max()) {
      const int64_t perImage = std::max<int64_t>(elements / std::max<int64_t>(batch, 1), 1);
      return Status::InvalidArgument("batch size " + std::to_string(batch) + " is too large for cuDNN: '" + name +
                                     "' would have " + std::to_string(elements) +
                                     " elements (at most 2^31 - 1); use --batch-size " +
                                     std::to_string(std::numeric_limits<int32_t>::max() / perImage) + " or less");
    }
  }
  return Status::OK();
}

// What cuDNN computes from an op's descriptors against what the graph says.
Status checkCudnnOutput(const model::Node& node, const int (&dims)[4], std::array<int64_t, 4> expected) {
  if (dims[0] == expected[0] && dims[1] == expected[1] && dims[2] == expected[2] && dims[3] == expected[3]) {
    return Status::OK();
  }
  auto text = [](auto a, auto b, auto c, auto d) {
    return std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c) + "x" + std::to_string(d);
  };
  return Status::Internal("node '" + node.name + "' (" + node.opType + "): cuDNN would compute a " +
                          text(dims[0], dims[1], dims[2], dims[3]) + " output, the graph says " +
                          text(expected[0], expected[1], expected[2], expected[3]));
}

}  // namespace

Status CudaExecutor::CheckModel(const model::Graph& graph, const CudaExecutorOptions& options) {
  return DescribeOps(graph, options).status();
}

Result<std::vector<OpTiming>> CudaExecutor::DescribeOps(const model::Graph& graph,
                                                        const CudaExecutorOptions& options) {
  SLUICE_RETURN_IF_ERROR(checkTensorSizes(graph, options.batchSize));
  auto state = std::make_unique<State>();
  state->options = options;
  state->type = storageFor(options.precision);
  state->hostOnly = true;
  SLUICE_RETURN_IF_ERROR(state->build(graph));
  return state->describeOps();
}

Result<std::unique_ptr<CudaExecutor>> CudaExecutor::Make(const model::Graph& graph,
                                                         const CudaExecutorOptions& options) {
  SLUICE_RETURN_IF_ERROR(checkTensorSizes(graph, options.batchSize));
  auto state = std::make_unique<State>();
  state->options = options;
  state->type = storageFor(options.precision);
  auto step = [&](const char* name) {
    if (options.clock) options.clock->step(name);
  };
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreate(state->handle.out()));
  step("cuDNN handle");
  SLUICE_RETURN_IF_ERROR(state->build(graph));
  step("lower the graph (descriptors, algorithm heuristics)");
  SLUICE_RETURN_IF_ERROR(state->allocate());
  step("allocate, upload weights");
  cudaStream_t stream = nullptr;
  SLUICE_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Status validated = state->validate(stream);
  // The handle must not keep a stream that is about to be destroyed; enqueue() sets its own.
  cudnnSetStream(state->handle.get(), nullptr);
  cudaStreamDestroy(stream);
  SLUICE_RETURN_IF_ERROR(validated);
  step(options.timeAlgorithms ? "run and time the algorithms" : "run the algorithms until one works");
  return std::unique_ptr<CudaExecutor>(new CudaExecutor(std::move(state)));
}

Status CudaExecutor::State::build(const model::Graph& graph) {
  this->graph = &graph;
  const int64_t batch = options.batchSize;
  // The staging vector is filled in one go: growing it by doubling would hold up to three times
  // the weights at once at start-up (startupMemoryBound counts the file three times, graph included).
  // Room for every initializer, each tensor's alignment padding, and the first convolution's
  // padded input channels.
  int64_t floats = 0;
  for (const auto& [name, tensor] : graph.initializers()) floats += static_cast<int64_t>(tensor.floats.size()) + 64;
  hostWeights.reserve(static_cast<size_t>(floats + floats / 16));
  SLUICE_ASSIGN_OR_RETURN(model::ShapeMap shapes, graph.inferShapes(batch));
  inputShape = graph.inputShape();
  // Tensor-core kernels want channel counts in multiples of 8 (fp16, bf16) or 4 (tf32): the
  // first convolution gets zero channels (and zero weights) appended, which change nothing.
  const auto steps = planExecutionSteps(graph);
  bool onlyConvsReadInput = true;
  for (const auto& step : steps) {
    for (const auto& input : step.inputs) {
      // The padded input may only be a convolution's data input: a residual sum or any other op
      // would see the padding channels.
      if (input == graph.inputName() && (step.node->opType != "Conv" || step.node->intAttribute("group", 1) != 1 ||
                                         step.sumInput == input)) {
        onlyConvsReadInput = false;
      }
    }
  }
  inputChannels = static_cast<int>(inputShape[0]);
  if (onlyConvsReadInput && inputShape[0] == 3) {
    if (type != StorageType::kFloat) inputChannels = 8;
    else if (options.precision == Precision::kTf32) inputChannels = 4;
  }
  inputValue = valueId(graph.inputName());
  values[inputValue].shape = {batch, inputChannels, inputShape[1], inputShape[2]};
  values[inputValue].firstUse = 0;

  auto readValue = [&](const std::string& name, int use) {
    int id = valueId(name);
    Value& root = values[values[id].root];
    root.lastUse = std::max(root.lastUse, use);
    return id;
  };
  auto makeValue = [&](const std::string& name, int use) {
    int id = valueId(name);
    values[id].shape = shapes.at(name);
    values[id].firstUse = use;
    values[id].lastUse = std::max(values[id].lastUse, use);
    return id;
  };
  auto alias = [&](const std::string& name, int source, int use) {
    int id = valueId(name);
    values[id].shape = shapes.at(name);
    values[id].root = values[source].root;
    Value& root = values[values[id].root];
    root.lastUse = std::max(root.lastUse, use);
    return id;
  };

  // Use 0 is the normalize kernel; step i is use i + 1; the top-k kernel reads the output last.
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& step = steps[i];
    const model::Node& node = *step.node;
    const int use = static_cast<int>(i) + 1;
    const std::string& op = node.opType;
    Op built;
    built.node = &node;
    for (const auto& input : step.inputs) built.inputs.push_back(readValue(input, use));
    if (op == "Identity" || op == model::kSleepOp) {
      int out = alias(step.output, built.inputs.at(0), use);
      if (op == model::kSleepOp) {
        SLUICE_ASSIGN_OR_RETURN(double seconds, model::sleepSeconds(node));
        built.kind = Op::Kind::kSleep;
        built.nanoseconds = static_cast<int64_t>(seconds * 1e9);
        built.output = out;
        describe(built);
        ops.push_back(std::move(built));
      }
      continue;
    }
    if (op == "Flatten" || op == "Reshape") {
      const auto& in = values[built.inputs.at(0)].shape;
      const auto& outShape = shapes.at(step.output);
      if (outShape.size() != 2 || outShape[0] != batch) {
        return unsupported(node, "only reshapes to [batch, features] are supported");
      }
      if (in.size() == 4 && in[2] * in[3] != 1) {
        // NHWC in memory, but the features must come in ONNX (C, H, W) order.
        built.kind = Op::Kind::kToNchw;
        built.rows = batch;
        built.spatial = in[2] * in[3];
        built.channels = in[1];
        built.output = makeValue(step.output, use);
        describe(built);
        ops.push_back(std::move(built));
      } else {
        alias(step.output, built.inputs.at(0), use);
      }
      continue;
    }
    built.output = makeValue(step.output, use);
    const auto& outShape = values[built.output].shape;
    if (op == "Conv") {
      SLUICE_RETURN_IF_ERROR(buildConv(built, node, step.sumInput, step.fuseRelu));
    } else if (op == "Gemm" || op == "MatMul") {
      SLUICE_RETURN_IF_ERROR(buildGemm(built, node));
    } else if (op == "MaxPool" || op == "AveragePool") {
      SLUICE_RETURN_IF_ERROR(buildPool(built, node));
    } else if (op == "GlobalAveragePool") {
      const auto& in = values[built.inputs.at(0)].shape;
      built.kind = Op::Kind::kGlobalAveragePool;
      built.rows = batch;
      built.spatial = product(in, 2);
      built.channels = in.at(1);
    } else if (op == "Add" || op == "Relu") {
      if (op == "Add" && (built.inputs.size() != 2 || values[built.inputs[0]].shape != values[built.inputs[1]].shape)) {
        return unsupported(node, "only the sum of two activations of the same shape is supported");
      }
      built.kind = op == "Add" ? Op::Kind::kAdd : Op::Kind::kRelu;
      built.count = product(outShape);
      built.channels = outShape.size() > 1 ? outShape[1] : 1;
    } else if (op == "Softmax") {
      // The kernel normalizes over the classes (axis 1): of [batch, classes], or of [batch, classes, 1, 1]
      // only when the axis is 1 (from opset 13 the default -1 would be the last, 1-wide, axis).
      const int64_t axis = node.intAttribute("axis", graph.opsetVersion() >= 13 ? -1 : 1);
      const int64_t rank = static_cast<int64_t>(outShape.size());
      if (product(outShape, 2) != 1 || (axis < 0 ? axis + rank : axis) != 1) {
        return unsupported(node, "only a softmax over the classes of [batch, classes] is supported");
      }
      built.kind = Op::Kind::kSoftmax;
      built.rows = batch;
      built.channels = outShape.at(1);
    } else {
      return unsupported(node, "no CUDA kernel for this op here (BatchNormalization must follow a Conv)");
    }
    describe(built);
    ops.push_back(std::move(built));
  }

  outputValue = valueId(graph.outputName());
  const auto& outShape = values[outputValue].shape;
  if (outShape.empty() || outShape[0] != batch || product(outShape, 2) != 1) {
    return Status::Unsupported("the CUDA backend needs a model output of [batch, classes]; this one is " +
                               std::to_string(outShape.size()) + "-D with spatial positions");
  }
  outputSize = product(outShape, 1);
  values[values[outputValue].root].lastUse = static_cast<int>(steps.size()) + 1;
  outputsProbabilities = !graph.nodes().empty() && graph.nodes().back().opType == "Softmax";
  return Status::OK();
}

Status CudaExecutor::State::convolutionDescriptors(Op& op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k,
                                                   int64_t r, int64_t s, int64_t outH, int64_t outW,
                                                   std::array<int64_t, 2> pads, std::array<int64_t, 2> strides,
                                                   std::array<int64_t, 2> dilations, int64_t group) {
  const cudnnDataType_t dataType = cudnnType(type);
  SLUICE_RETURN_IF_ERROR(setNhwc(op.x, type, n, c, h, w));
  SLUICE_RETURN_IF_ERROR(setNhwc(op.y, type, n, k, outH, outW));
  SLUICE_RETURN_IF_ERROR(setNhwc(op.bias, type, 1, k, 1, 1));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(op.w.out()));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetFilter4dDescriptor(op.w.get(), dataType, CUDNN_TENSOR_NHWC,
                                                          static_cast<int>(k), static_cast<int>(c / group),
                                                          static_cast<int>(r), static_cast<int>(s)));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreateConvolutionDescriptor(op.conv.out()));
  // fp16 and bf16 store in 16 bits and accumulate in fp32.
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetConvolution2dDescriptor(
      op.conv.get(), static_cast<int>(pads[0]), static_cast<int>(pads[1]), static_cast<int>(strides[0]),
      static_cast<int>(strides[1]), static_cast<int>(dilations[0]), static_cast<int>(dilations[1]),
      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetConvolutionGroupCount(op.conv.get(), static_cast<int>(group)));
  op.signature = {n, c, h, w, k, r, s, outH, outW, pads[0], pads[1], strides[0], strides[1], dilations[0],
                  dilations[1], group, op.relu ? 1 : 0, op.sumInput >= 0 ? 1 : 0};
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreateActivationDescriptor(op.activation.out()));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetActivationDescriptor(
      op.activation.get(), op.relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  op.outChannels = k;
  if (!hostOnly) return chooseAlgorithms(op);
  int dims[4] = {};
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnGetConvolution2dForwardOutputDim(op.conv.get(), op.x.get(), op.w.get(), &dims[0],
                                                                     &dims[1], &dims[2], &dims[3]));
  return checkCudnnOutput(*op.node, dims, {n, k, outH, outW});
}

Status CudaExecutor::State::chooseAlgorithms(Op& op) {
  if (auto found = convolutionsBySignature.find(op.signature); found != convolutionsBySignature.end()) {
    op.fusedCandidates = found->second.fusedCandidates;
    op.plainCandidates = found->second.plainCandidates;
    op.fused = !op.fusedCandidates.empty();
    return Status::OK();  // the workspace already covers them
  }
  // fp32 means true FP32: only FMA kernels. Everything else may use tensor cores.
  const bool fmaOnly = options.precision == Precision::kFp32;
  SLUICE_CUDNN_RETURN_IF_ERROR(
      cudnnSetConvolutionMathType(op.conv.get(), fmaOnly ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardAlgorithm_v7(
      handle.get(), op.x.get(), op.w.get(), op.conv.get(), op.y.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
      results));
  // The workspace an algorithm needs with its math type, or nothing when cuDNN will not say (it
  // would not run either).
  auto withWorkspace = [&](cudnnConvolutionFwdAlgo_t algo, cudnnMathType_t math) -> std::optional<ConvAlgorithm> {
    size_t bytes = 0;
    if (cudnnSetConvolutionMathType(op.conv.get(), math) != CUDNN_STATUS_SUCCESS ||
        cudnnGetConvolutionForwardWorkspaceSize(handle.get(), op.x.get(), op.w.get(), op.conv.get(), op.y.get(), algo,
                                                &bytes) != CUDNN_STATUS_SUCCESS ||
        bytes > kMaxWorkspaceBytes) {
      return std::nullopt;
    }
    return ConvAlgorithm{algo, math, bytes};
  };
  bool listedPrecompGemm = false;
  for (int i = 0; i < returned; ++i) {
    const auto& result = results[i];
    if (result.status != CUDNN_STATUS_SUCCESS || result.memory > kMaxWorkspaceBytes) continue;
    if (fmaOnly && (result.mathType == CUDNN_TENSOR_OP_MATH || result.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) {
      continue;
    }
    // CUDNN_DEFAULT_MATH permits TF32 tensor cores on float data (Ampere and later): fp32 runs
    // every algorithm with CUDNN_FMA_MATH, whatever math type the heuristics report. On float data
    // ALLOW_CONVERSION may compute in fp16, which TF32 is not: tf32 keeps to TENSOR_OP_MATH.
    cudnnMathType_t math = fmaOnly ? CUDNN_FMA_MATH : result.mathType;
    if (options.precision == Precision::kTf32 && math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) {
      math = CUDNN_TENSOR_OP_MATH;
    }
    auto candidate = withWorkspace(result.algo, math);
    if (!candidate) continue;
    op.plainCandidates.push_back(*candidate);
    // The fused call without an activation only runs with the implicit precomputed GEMM algorithm.
    if (op.relu || result.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) {
      op.fusedCandidates.push_back(*candidate);
    }
    listedPrecompGemm |= result.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  }
  if (op.plainCandidates.empty()) return unsupported(*op.node, "cuDNN offers no algorithm for this convolution");
  if ((!op.relu || op.sumInput >= 0) && !listedPrecompGemm) {
    // Not among the heuristics' choices, but the only one the fused call takes without a ReLU, and
    // one that takes a residual z in its own buffer (others may want z to be y).
    if (auto candidate = withWorkspace(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                       fmaOnly ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH)) {
      op.fusedCandidates.push_back(*candidate);
    }
  }
  op.fused = !op.fusedCandidates.empty();
  for (const auto& candidate : op.fusedCandidates) workspaceBytes = std::max(workspaceBytes, candidate.workspaceBytes);
  for (const auto& candidate : op.plainCandidates) workspaceBytes = std::max(workspaceBytes, candidate.workspaceBytes);
  SharedChoice& shared = convolutionsBySignature[op.signature];
  shared.fusedCandidates = op.fusedCandidates;
  shared.plainCandidates = op.plainCandidates;
  return Status::OK();
}

Status CudaExecutor::State::buildConv(Op& op, const model::Node& node, const std::string& sumInput, bool relu) {
  op.kind = Op::Kind::kConv;
  op.relu = relu;
  if (!sumInput.empty()) op.sumInput = valueId(sumInput);
  const model::Tensor* weight = graph->initializer(node.inputs.at(1));
  if (!weight || weight->dims.size() != 4 || weight->floats.empty()) {
    return unsupported(node, "the weight must be a constant 4-D float tensor");
  }
  const auto& in = values[op.inputs.at(0)].shape;
  const auto& out = values[op.output].shape;
  if (in.size() != 4) return unsupported(node, "only 2-D convolutions are supported");
  const int64_t group = node.intAttribute("group", 1);
  // cuDNN reads z with y's descriptor: the residual must have exactly the output's shape (no broadcast).
  if (op.sumInput >= 0 && values[op.sumInput].shape != out) {
    return unsupported(node, "the residual Add must add two tensors of the same shape");
  }
  const int64_t k = weight->dims[0], groupChannels = weight->dims[1], r = weight->dims[2], s = weight->dims[3];
  SLUICE_ASSIGN_OR_RETURN(model::WindowGeometry window, model::resolveWindow(node, {in[2], in[3]}, {r, s}));
  // With a residual, `out` is the Add's output: an Add that broadcasts the convolution's output up
  // to it cannot be fused (cuDNN reads z with y's descriptor).
  if (out.size() != 4 || out[1] != k || out[2] != window.output[0] || out[3] != window.output[1]) {
    return unsupported(node, "the residual Add broadcasts the convolution's output; only same-shape sums are fused");
  }
  if (!window.matchesSymmetricPadding({in[2], in[3]})) {
    return unsupported(node, "its padding differs at the two ends in a way cuDNN (which pads both alike) cannot do");
  }
  // ONNX KCRS -> cuDNN NHWC filters (KRSC); a padded input gets zero weights for its extra channels.
  const int64_t channels = group == 1 ? in[1] : groupChannels;
  std::vector<float> filter(k * r * s * channels, 0.0f);
  for (int64_t o = 0; o < k; ++o) {
    for (int64_t c = 0; c < groupChannels; ++c) {
      for (int64_t y = 0; y < r; ++y) {
        for (int64_t x = 0; x < s; ++x) {
          filter[((o * r + y) * s + x) * channels + c] = weight->floats[((o * groupChannels + c) * r + y) * s + x];
        }
      }
    }
  }
  op.weightOffset = addWeights(filter);
  op.weightElements = static_cast<int64_t>(filter.size()) + k;
  op.description.flops = 2.0 * static_cast<double>(product(out)) * static_cast<double>(groupChannels * r * s);
  std::vector<float> bias(k, 0.0f);
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const model::Tensor* given = graph->initializer(node.inputs[2]);
    if (!given || given->numElements() != k) return unsupported(node, "the bias must be a constant of one value per output channel");
    bias = given->floats;
  }
  op.biasOffset = addWeights(bias);
  op.biasFloatOffset = addBiasFloats(bias);
  op.description.kind = "Conv " + std::to_string(r) + "x" + std::to_string(s) + (group > 1 ? " grouped" : "");
  op.description.detail = "stride " + std::to_string(window.strides[0]) +
                          (window.strides[1] != window.strides[0] ? "x" + std::to_string(window.strides[1]) : "") +
                          (group > 1 ? ", group " + std::to_string(group) : "");
  return convolutionDescriptors(op, in[0], in[1], in[2], in[3], k, r, s, out[2], out[3], window.padsBegin,
                                window.strides, window.dilations, group);
}

Status CudaExecutor::State::buildGemm(Op& op, const model::Node& node) {
  // [N, K] x [K, M] (+ bias) runs as a 1x1 convolution of an N x K x 1 x 1 tensor.
  op.kind = Op::Kind::kConv;
  const auto& in = values[op.inputs.at(0)].shape;
  if (in.size() != 2) return unsupported(node, "the activation input must be [batch, features]");
  const int64_t features = in[1];
  const bool isGemm = node.opType == "Gemm";
  const model::Tensor* b = graph->initializer(node.inputs.at(1));
  if (!b || b->dims.size() != 2 || b->floats.empty()) return unsupported(node, "B must be a constant 2-D float matrix");
  if (isGemm && node.intAttribute("transA", 0) != 0) return unsupported(node, "transA=1 is not supported");
  const bool transB = isGemm && node.intAttribute("transB", 0) != 0;
  const float alpha = isGemm ? node.floatAttribute("alpha", 1.0f) : 1.0f;
  const float beta = isGemm ? node.floatAttribute("beta", 1.0f) : 1.0f;
  const int64_t m = transB ? b->dims[0] : b->dims[1];
  if ((transB ? b->dims[1] : b->dims[0]) != features) return unsupported(node, "B does not match the input features");
  std::vector<float> filter(m * features);
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t f = 0; f < features; ++f) {
      filter[o * features + f] = alpha * (transB ? b->floats[o * features + f] : b->floats[f * m + o]);
    }
  }
  op.weightOffset = addWeights(filter);
  op.weightElements = m * features + m;
  op.description.flops = 2.0 * static_cast<double>(in[0]) * static_cast<double>(m * features);
  std::vector<float> bias(m, 0.0f);
  if (isGemm && node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const model::Tensor* c = graph->initializer(node.inputs[2]);
    if (!c || (c->numElements() != m && c->numElements() != 1)) {
      return unsupported(node, "C must be a constant of one value per output (or one value)");
    }
    for (int64_t o = 0; o < m; ++o) bias[o] = beta * c->floats[c->numElements() == 1 ? 0 : o];
  }
  op.biasOffset = addWeights(bias);
  op.biasFloatOffset = addBiasFloats(bias);
  op.description.kind = node.opType;
  op.description.detail = "as a 1x1 convolution";
  return convolutionDescriptors(op, in[0], features, 1, 1, m, 1, 1, 1, 1, {0, 0}, {1, 1}, {1, 1}, 1);
}

Status CudaExecutor::State::buildPool(Op& op, const model::Node& node) {
  op.kind = Op::Kind::kPool;
  const auto& in = values[op.inputs.at(0)].shape;
  const auto& out = values[op.output].shape;
  if (in.size() != 4) return unsupported(node, "only 2-D pooling is supported");
  SLUICE_ASSIGN_OR_RETURN(model::WindowGeometry window, model::resolveWindow(node, {in[2], in[3]}, {0, 0}));
  if (window.dilations != std::array<int64_t, 2>{1, 1}) return unsupported(node, "dilated pooling is not supported");
  const bool includePad = node.opType == "AveragePool" && node.intAttribute("count_include_pad", 0) != 0;
  op.poolWindow = {.n = out[0], .height = in[2], .width = in[3], .channels = in[1], .outHeight = out[2],
                   .outWidth = out[3], .kernelH = static_cast<int>(window.kernel[0]),
                   .kernelW = static_cast<int>(window.kernel[1]), .strideH = static_cast<int>(window.strides[0]),
                   .strideW = static_cast<int>(window.strides[1]), .padTop = static_cast<int>(window.padsBegin[0]),
                   .padLeft = static_cast<int>(window.padsBegin[1]), .padBottom = static_cast<int>(window.padsEnd[0]),
                   .padRight = static_cast<int>(window.padsEnd[1])};
  op.poolWindow.mode = node.opType == "MaxPool" ? PoolWindow::Mode::kMax
                       : includePad             ? PoolWindow::Mode::kAverageIncludePadding
                                                : PoolWindow::Mode::kAverageExcludePadding;
  // cuDNN pads both ends alike, and its include-padding average divides by the whole window even
  // where a ceil_mode window reaches past the end padding, which ONNX does not count. Other windows
  // (and any cuDNN refuses, see validate) use the kernel.
  const std::array<int64_t, 2> neededEnd = window.effectivePadsEnd({in[2], in[3]});
  op.ownPool = !window.matchesSymmetricPadding({in[2], in[3]}) ||
               (includePad && (neededEnd[0] > window.padsEnd[0] || neededEnd[1] > window.padsEnd[1]));
  if (op.ownPool) return Status::OK();
  cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
  if (node.opType == "AveragePool") {
    mode = includePad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  }
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnCreatePoolingDescriptor(op.pool.out()));
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetPooling2dDescriptor(
      op.pool.get(), mode, CUDNN_NOT_PROPAGATE_NAN, static_cast<int>(window.kernel[0]),
      static_cast<int>(window.kernel[1]), static_cast<int>(window.padsBegin[0]), static_cast<int>(window.padsBegin[1]),
      static_cast<int>(window.strides[0]), static_cast<int>(window.strides[1])));
  SLUICE_RETURN_IF_ERROR(setNhwc(op.x, type, in[0], in[1], in[2], in[3]));
  SLUICE_RETURN_IF_ERROR(setNhwc(op.y, type, out[0], out[1], out[2], out[3]));
  if (!hostOnly) return Status::OK();
  int dims[4] = {};
  SLUICE_CUDNN_RETURN_IF_ERROR(
      cudnnGetPooling2dForwardOutputDim(op.pool.get(), op.x.get(), &dims[0], &dims[1], &dims[2], &dims[3]));
  return checkCudnnOutput(node, dims, {out[0], out[1], out[2], out[3]});
}

Status CudaExecutor::State::allocate() {
  std::vector<BufferRequest> requests;
  std::vector<int> owners;
  const int64_t elementBytes = storageBytes(type);
  for (size_t id = 0; id < values.size(); ++id) {
    Value& value = values[id];
    if (value.root != static_cast<int>(id)) continue;
    value.bytes = product(value.shape) * elementBytes;
    requests.push_back({alignUp(value.bytes), value.firstUse, value.lastUse});
    owners.push_back(static_cast<int>(id));
  }
  BufferLayout layout = assignBuffers(requests, kAlignment);
  for (size_t i = 0; i < owners.size(); ++i) values[owners[i]].offset = layout.offsets[i];
  SLUICE_RETURN_IF_ERROR(arena.allocate(std::max<int64_t>(layout.totalBytes, kAlignment)));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaMemset(arena.data(), 0, static_cast<size_t>(arena.bytes())));

  // Weights: uploaded as float once, converted on the GPU to the storage type.
  const int64_t weightCount = static_cast<int64_t>(hostWeights.size());
  SLUICE_RETURN_IF_ERROR(weights.allocate(std::max<int64_t>(weightCount * elementBytes, kAlignment)));
  DeviceBuffer staging;
  SLUICE_RETURN_IF_ERROR(staging.allocate(std::max<int64_t>(weightCount * 4, kAlignment)));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaMemcpy(staging.data(), hostWeights.data(), weightCount * 4, cudaMemcpyHostToDevice));
  SLUICE_CUDA_RETURN_IF_ERROR(launchCast(staging.as<float>(), weights.data(), weightCount, type, nullptr));
  SLUICE_RETURN_IF_ERROR(biasFloats.allocate(std::max<int64_t>(static_cast<int64_t>(hostBiases.size()) * 4, kAlignment)));
  SLUICE_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(biasFloats.data(), hostBiases.data(), hostBiases.size() * 4, cudaMemcpyHostToDevice));
  SLUICE_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  hostWeights = {};
  hostBiases = {};
  return workspace.allocate(static_cast<int64_t>(workspaceBytes));
}

Status CudaExecutor::State::runOp(Op& op, cudaStream_t stream, cudaEvent_t afterConvolution) {
  const float one = 1.0f, zero = 0.0f;
  void* y = address(op.output);
  const void* x = op.inputs.empty() ? nullptr : address(op.inputs[0]);
  switch (op.kind) {
    case Op::Kind::kConv: {
      const void* w = weightAddress(op.weightOffset);
      const void* z = op.sumInput >= 0 ? address(op.sumInput) : y;
      SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(op.conv.get(), op.chosen.math));
      if (op.fused) {
        const float alpha2 = op.sumInput >= 0 ? 1.0f : 0.0f;
        SLUICE_CUDNN_RETURN_IF_ERROR(cudnnConvolutionBiasActivationForward(
            handle.get(), &one, op.x.get(), x, op.w.get(), w, op.conv.get(), op.chosen.algo, workspace.data(),
            workspaceBytes, &alpha2, op.y.get(), z, op.bias.get(), weightAddress(op.biasOffset), op.activation.get(),
            op.y.get(), y));
        return Status::OK();
      }
      SLUICE_CUDNN_RETURN_IF_ERROR(cudnnConvolutionForward(handle.get(), &one, op.x.get(), x, op.w.get(), w,
                                                           op.conv.get(), op.chosen.algo, workspace.data(),
                                                           workspaceBytes, &zero, op.y.get(), y));
      if (afterConvolution) SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(afterConvolution, stream));
      const float* bias = reinterpret_cast<const float*>(static_cast<const char*>(biasFloats.data()) + op.biasFloatOffset);
      const int64_t count = product(values[op.output].shape);
      return cudaStatus(launchBiasAddRelu(y, bias, op.sumInput >= 0 ? z : nullptr, y, count, op.outChannels, op.relu,
                                          type, stream),
                        "bias/add/ReLU epilogue");
    }
    case Op::Kind::kPool:
      if (op.ownPool) return cudaStatus(launchPool2d(x, y, op.poolWindow, type, stream), "pooling");
      SLUICE_CUDNN_RETURN_IF_ERROR(cudnnPoolingForward(handle.get(), op.pool.get(), &one, op.x.get(), x, &zero,
                                                       op.y.get(), y));
      return Status::OK();
    case Op::Kind::kGlobalAveragePool:
      return cudaStatus(launchGlobalAveragePool(x, y, op.rows, op.spatial, op.channels, type, stream),
                        "global average pool");
    case Op::Kind::kAdd:
      return cudaStatus(launchBiasAddRelu(x, nullptr, address(op.inputs.at(1)), y, op.count, op.channels, false, type,
                                          stream),
                        "add");
    case Op::Kind::kRelu:
      return cudaStatus(launchBiasAddRelu(x, nullptr, nullptr, y, op.count, op.channels, true, type, stream), "ReLU");
    case Op::Kind::kToNchw:
      return cudaStatus(launchNhwcToNchw(x, y, op.rows, op.spatial, op.channels, type, stream), "flatten");
    case Op::Kind::kSoftmax:
      return cudaStatus(launchSoftmax(x, y, op.rows, op.channels, type, stream), "softmax");
    case Op::Kind::kSleep:
      return cudaStatus(launchSleep(op.nanoseconds, stream), "sleep");
  }
  return Status::Internal("unknown CUDA op");
}

Status CudaExecutor::State::validate(cudaStream_t stream) {
  // One eager pass: every call is tried once before any is captured into a CUDA graph. A
  // convolution takes the first of its algorithms cuDNN runs, fused ones first (or, with
  // timeAlgorithms, the fastest that runs, fused or plain with the epilogue); one that cuDNN
  // turns down fused runs as a convolution plus sluice's epilogue kernel instead.
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetStream(handle.get(), stream));
  auto tryOp = [&](Op& op) {
    Status status = runOp(op, stream);
    if (status.ok()) status = cudaStatus(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    if (!status.ok()) cudaGetLastError();  // a refused launch must not fail the next call
    return status;
  };
  CudaEvent start, stop;
  if (options.timeAlgorithms) {
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreate(start.out()));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreate(stop.out()));
  }
  // Milliseconds per run of an op that has just run once (its warm-up).
  auto timeOp = [&](Op& op) -> Result<float> {
    constexpr int kTimedRuns = 3;
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(start.get(), stream));
    for (int run = 0; run < kTimedRuns; ++run) SLUICE_RETURN_IF_ERROR(runOp(op, stream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop.get(), stream));
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop.get()));
    float milliseconds = 0;
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&milliseconds, start.get(), stop.get()));
    return milliseconds / kTimedRuns;
  };
  for (Op& op : ops) {
    if (op.kind != Op::Kind::kConv) {
      Status status = tryOp(op);
      if (!status.ok() && op.kind == Op::Kind::kPool && !op.ownPool) {
        op.ownPool = true;  // e.g. NHWC bf16, which cuDNN's pooling may not take
        status = tryOp(op);
      }
      if (!status.ok()) return status.withContext("node '" + op.node->name + "'");
      continue;
    }
    SharedChoice& shared = convolutionsBySignature[op.signature];
    if (shared.validated) {
      // What the first of this signature chose, run once here too; the whole search if it fails.
      op.fused = shared.fused;
      op.chosen = shared.chosen;
      if (tryOp(op).ok()) continue;
    }
    // A choice an earlier job timed: used if it is still among cuDNN's candidates and runs.
    if (options.timeAlgorithms && options.algorithmCache && !shared.validated) {
      if (auto cached = options.algorithmCache->find(op.signature); cached && adoptCached(op, *cached) &&
                                                                    tryOp(op).ok()) {
        shared.validated = true;
        shared.fused = op.fused;
        shared.chosen = op.chosen;
        ++signaturesFromCache;
        continue;
      }
    }
    // The heuristics' way: the first that runs, fused calls first. Timed: every call that runs,
    // fused or not, since a plain convolution with sluice's epilogue may beat the fused call.
    Status firstFailure;
    std::optional<std::pair<bool, ConvAlgorithm>> firstRan, fastest;
    float fastestMilliseconds = 0;
    for (bool fusedCall : {true, false}) {
      for (const ConvAlgorithm& candidate : fusedCall ? op.fusedCandidates : op.plainCandidates) {
        op.fused = fusedCall;
        op.chosen = candidate;
        Status status = tryOp(op);
        if (!status.ok()) {
          if (firstFailure.ok()) firstFailure = status;
          if (fusedCall && fusionRefusal.empty()) fusionRefusal = "node '" + op.node->name + "': " + status.message();
          continue;
        }
        if (!firstRan) firstRan = {fusedCall, candidate};
        if (!options.timeAlgorithms) break;
        // It runs: a candidate whatever its timing. If no timing succeeds, the first that ran is kept.
        Result<float> milliseconds = timeOp(op);
        if (!milliseconds.ok()) {
          cudaGetLastError();
        } else if (!fastest || *milliseconds < fastestMilliseconds) {
          fastest = {fusedCall, candidate};
          fastestMilliseconds = *milliseconds;
        }
      }
      if (firstRan && !options.timeAlgorithms) break;
    }
    if (!firstRan) return firstFailure.withContext("node '" + op.node->name + "' (no cuDNN algorithm ran)");
    std::tie(op.fused, op.chosen) = fastest ? *fastest : *firstRan;
    if (!shared.validated) {
      shared.validated = true;
      shared.fused = op.fused;
      shared.chosen = op.chosen;
    }
  }
  if (options.timeAlgorithms && options.algorithmCache) {
    for (const auto& [signature, choice] : convolutionsBySignature) {
      if (!choice.validated) continue;
      options.algorithmCache->put(signature, {.fused = choice.fused,
                                              .algorithm = static_cast<int>(choice.chosen.algo),
                                              .math = static_cast<int>(choice.chosen.math),
                                              .workspaceBytes = static_cast<int64_t>(choice.chosen.workspaceBytes)});
    }
  }
  // Only the chosen algorithms run from now on: the workspace shrinks to what they need.
  size_t needed = 0;
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kConv) needed = std::max(needed, op.chosen.workspaceBytes);
  }
  if (needed < workspaceBytes) {
    const size_t tested = workspaceBytes;
    workspaceBytes = needed;
    SLUICE_RETURN_IF_ERROR(workspace.allocate(static_cast<int64_t>(workspaceBytes)));
    // The fused call plans its own workspace, which the query for the plain convolution does not
    // report: run the convolutions once more at the new size, and keep the tested size if one refuses.
    for (Op& op : ops) {
      if (op.kind == Op::Kind::kConv && !tryOp(op).ok()) {
        workspaceBytes = tested;
        return workspace.allocate(static_cast<int64_t>(workspaceBytes));
      }
    }
  }
  return Status::OK();
}

bool CudaExecutor::State::adoptCached(Op& op, const CachedAlgorithm& cached) const {
  for (const ConvAlgorithm& candidate : cached.fused ? op.fusedCandidates : op.plainCandidates) {
    if (static_cast<int>(candidate.algo) == cached.algorithm && static_cast<int>(candidate.math) == cached.math) {
      op.fused = cached.fused;
      op.chosen = candidate;
      return true;
    }
  }
  return false;
}

Status CudaExecutor::enqueue(cudaStream_t stream) {
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetStream(state_->handle.get(), stream));
  for (auto& op : state_->ops) SLUICE_RETURN_IF_ERROR(state_->runOp(op, stream));
  return Status::OK();
}

namespace {

std::string dimensions(const std::vector<int64_t>& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += 'x';
    text += std::to_string(shape[i]);
  }
  return text;
}

std::string algorithmName(cudnnConvolutionFwdAlgo_t algo) {
  switch (algo) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "algorithm " + std::to_string(static_cast<int>(algo));
  }
}

std::string mathName(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH: return "default math";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op math";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op math with conversion";
    case CUDNN_FMA_MATH: return "FMA math";
    default: return "math type " + std::to_string(static_cast<int>(math));
  }
}

}  // namespace

void CudaExecutor::State::describe(Op& op) const {
  op.description.node = op.node->name;
  if (!op.description.kind.empty()) return;  // convolutions: set while they were built
  op.description.kind = op.kind == Op::Kind::kToNchw ? op.node->opType + " (NHWC to NCHW)" : op.node->opType;
}

std::vector<OpTiming> CudaExecutor::State::describeOps() const {
  const double elementBytes = static_cast<double>(storageBytes(type));
  std::vector<OpTiming> rows;
  for (const Op& op : ops) {
    OpTiming row = op.description;
    const std::vector<int64_t>& out = values[op.output].shape;
    // The inputs a call reads: an unfused convolution leaves the residual to its epilogue.
    const bool epilogue = op.kind == Op::Kind::kConv && !op.fused;
    double elements = static_cast<double>(product(out) + op.weightElements);
    std::string inputs;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      if (epilogue && op.inputs[i] == op.sumInput) continue;
      const std::vector<int64_t>& shape = values[op.inputs[i]].shape;
      inputs += (inputs.empty() ? "" : " + ") + dimensions(shape);
      elements += static_cast<double>(product(shape));
    }
    row.shape = inputs + " -> " + dimensions(out);
    row.bytes = elements * elementBytes;
    const std::string fusedParts =
        std::string("bias") + (op.sumInput >= 0 ? "/add" : "") + (op.relu ? "/ReLU" : "");
    if (op.kind == Op::Kind::kConv) {
      row.detail += epilogue ? ", " + fusedParts + " in sluice's epilogue" : ", fused " + fusedParts;
      if (!hostOnly) {
        row.detail += ", " + algorithmName(op.chosen.algo) + ", " + mathName(op.chosen.math) + ", workspace " +
                      formatByteSize(static_cast<int64_t>(op.chosen.workspaceBytes));
      }
    } else if (op.kind == Op::Kind::kPool) {
      row.detail = op.ownPool ? "sluice's kernel" : "cuDNN";
    }
    rows.push_back(std::move(row));
    if (!epilogue) continue;
    OpTiming after;
    after.node = op.description.node;
    after.kind = "bias/add/ReLU epilogue";
    after.detail = fusedParts;
    after.shape = dimensions(out) + (op.sumInput >= 0 ? " + " + dimensions(values[op.sumInput].shape) : "") +
                  " -> " + dimensions(out);
    after.bytes = static_cast<double>(product(out)) * elementBytes * (op.sumInput >= 0 ? 3 : 2) +
                  4.0 * static_cast<double>(op.outChannels);
    rows.push_back(std::move(after));
  }
  return rows;
}

Result<std::vector<OpTiming>> CudaExecutor::profile(cudaStream_t stream, int runs) {
  State& state = *state_;
  std::vector<OpTiming> rows = state.describeOps();
  // An event before the first op and after each row's work: a convolution whose epilogue runs
  // apart gets one between the two (runOp's afterConvolution).
  std::vector<CudaEvent> events(rows.size() + 1);
  for (CudaEvent& event : events) SLUICE_CUDA_RETURN_IF_ERROR(cudaEventCreate(event.out()));
  std::vector<double> sums(rows.size(), 0.0);
  SLUICE_CUDNN_RETURN_IF_ERROR(cudnnSetStream(state.handle.get(), stream));
  runs = std::max(runs, 1);
  for (int run = 0; run < runs; ++run) {
    size_t point = 0;
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(events[point++].get(), stream));
    for (Op& op : state.ops) {
      const bool split = op.kind == Op::Kind::kConv && !op.fused;
      SLUICE_RETURN_IF_ERROR(state.runOp(op, stream, split ? events[point++].get() : nullptr));
      SLUICE_CUDA_RETURN_IF_ERROR(cudaEventRecord(events[point++].get(), stream));
    }
    if (point != events.size()) return Status::Internal("the profile's events do not match its ops");
    SLUICE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(events.back().get()));
    for (size_t i = 0; i < rows.size(); ++i) {
      float milliseconds = 0;
      SLUICE_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&milliseconds, events[i].get(), events[i + 1].get()));
      sums[i] += milliseconds;
    }
  }
  for (size_t i = 0; i < rows.size(); ++i) rows[i].milliseconds = sums[i] / runs;
  return rows;
}

void* CudaExecutor::input() const { return state_->address(state_->inputValue); }
int CudaExecutor::inputChannels() const { return state_->inputChannels; }
std::array<int64_t, 3> CudaExecutor::inputShape() const { return state_->inputShape; }
const void* CudaExecutor::output() const { return state_->address(state_->outputValue); }
int64_t CudaExecutor::outputSize() const { return state_->outputSize; }
StorageType CudaExecutor::storageType() const { return state_->type; }
bool CudaExecutor::outputsProbabilities() const { return state_->outputsProbabilities; }

int64_t CudaExecutor::deviceBytes() const {
  return state_->arena.bytes() + state_->weights.bytes() + state_->biasFloats.bytes() + state_->workspace.bytes();
}

std::string CudaExecutor::summary() const {
  int convolutions = 0, fused = 0;
  for (const auto& op : state_->ops) {
    if (op.kind != Op::Kind::kConv) continue;
    ++convolutions;
    fused += op.fused;
  }
  std::string text = std::to_string(fused) + " of " + std::to_string(convolutions) +
                     " convolutions (" + std::to_string(state_->convolutionsBySignature.size()) +
                     " signatures) fused with bias/add/ReLU";
  if (!state_->fusionRefusal.empty()) text += " (first refused: " + state_->fusionRefusal + ")";
  if (state_->options.timeAlgorithms && state_->options.algorithmCache) {
    text += ", algorithms of " + std::to_string(state_->signaturesFromCache) + " of " +
            std::to_string(state_->convolutionsBySignature.size()) + " signatures from the cache";
  }
  return text;
}

}  // namespace sluice::backend::cuda
