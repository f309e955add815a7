#include "backend/cpu/execution_plan.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "backend/buffer_assignment.h"
#include "model/window_geometry.h"

namespace sluice::backend {

namespace {

using dnnl::memory;
using Dims = std::vector<int64_t>;

memory::desc plainDesc(const Dims& dims) {
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return memory::desc(memory::dims(dims.begin(), dims.end()), memory::data_type::f32, strides);
}

memory::desc anyDesc(const Dims& dims) {
  return memory::desc(memory::dims(dims.begin(), dims.end()), memory::data_type::f32,
                      memory::format_tag::any);
}

// Channels per block of the nChw8c / nChw16c layout that matches the CPU's vector width.
int64_t channelBlock() {
  static const int64_t block = [] {
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::sse41:
      case dnnl::cpu_isa::avx:
      case dnnl::cpu_isa::avx2:
      case dnnl::cpu_isa::avx2_vnni:
        return 8;
      default:
        return 16;
    }
  }();
  return block;
}

memory::desc blockedDesc(const Dims& dims) {
  return memory::desc(memory::dims(dims.begin(), dims.end()), memory::data_type::f32,
                      channelBlock() == 8 ? memory::format_tag::nChw8c
                                          : memory::format_tag::nChw16c);
}

int64_t product(const Dims& dims, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i) result *= dims[i];
  return result;
}

std::shared_ptr<void> allocateAligned(int64_t bytes) {
  size_t size = static_cast<size_t>((std::max<int64_t>(bytes, 64) + 63) / 64 * 64);
  return std::shared_ptr<void>(std::aligned_alloc(64, size), std::free);
}

}  // namespace

// Builds an ExecutionPlan step by step. Activation "slots" are (layout, buffer) pairs; several
// slots may share a buffer (in-place ops, reshapes). Buffer lifetimes come from the executions
// that touch them, and buffers are then packed into one arena.
class PlanBuilder {
 public:
  PlanBuilder(const model::Graph& graph, const std::vector<ExecutionStep>& steps,
              int64_t batchSize, const dnnl::engine& engine, WeightCache& weights)
      : graph_(graph), steps_(steps), batchSize_(batchSize), engine_(engine), weights_(weights) {}

  Result<std::unique_ptr<ExecutionPlan>> build() {
    SLUICE_ASSIGN_OR_RETURN(shapes_, graph_.inferShapes(batchSize_));
    for (size_t i = 0; i < steps_.size(); ++i) {
      for (const std::string& input : steps_[i].inputs) lastReader_[input] = static_cast<int>(i);
    }
    lastReader_[graph_.outputName()] = INT_MAX;
    lastReader_[graph_.inputName()] = INT_MAX;  // the caller's input is never overwritten

    const Dims& inputDims = shapes_.at(graph_.inputName());
    int inputBuffer = newBuffer(BufferKind::kInput);
    bindValue(graph_.inputName(), newSlot(plainDesc(inputDims), inputBuffer));

    for (size_t i = 0; i < steps_.size(); ++i) {
      stepIndex_ = static_cast<int>(i);
      const ExecutionStep& step = steps_[i];
      Status status;
      try {
        status = buildStep(step);
      } catch (const dnnl::error& error) {
        status = Status::Unsupported(std::string("oneDNN cannot run it: ") + error.what());
      }
      if (!status.ok()) {
        return status.withContext("node '" + step.node->name + "' (" + step.node->opType + ")");
      }
      // Values read for the last time no longer hold their buffer.
      std::set<std::string> inputs(step.inputs.begin(), step.inputs.end());
      for (const std::string& input : inputs) {
        if (lastReader_[input] == stepIndex_) --buffers_[slots_[slotOf(input)].buffer].numValues;
      }
    }

    const Dims& outputDims = shapes_.at(graph_.outputName());
    int outputBuffer = newBuffer(BufferKind::kOutput);
    int outputSlot = newSlot(plainDesc(outputDims), outputBuffer);
    try {
      addReorder(slotOf(graph_.outputName()), outputSlot);
    } catch (const dnnl::error& error) {
      return Status::Internal(std::string("oneDNN cannot copy out the model output: ") +
                              error.what());
    }
    return finish(outputSlot);
  }

 private:
  enum class BufferKind { kArena, kInput, kOutput };
  struct Buffer {
    BufferKind kind = BufferKind::kArena;
    int64_t bytes = 0;
    int firstUse = INT_MAX;
    int lastUse = -1;
    int numValues = 0;  // values whose current slot lives here (in-place needs exactly one)
  };
  struct Slot {
    memory::desc desc;
    int buffer = -1;
  };
  struct PendingExecution {
    dnnl::primitive primitive;                  // none for a pause
    std::vector<std::pair<int, int>> slotArgs;  // DNNL_ARG_* -> slot
    std::unordered_map<int, memory> constantArgs;
    std::chrono::nanoseconds pause{0};
  };

  // A fresh attribute per primitive: primitive_attr copies share one underlying object.
  static dnnl::primitive_attr makeAttr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  int newBuffer(BufferKind kind, int64_t bytes = 0) {
    buffers_.push_back(Buffer{kind, bytes});
    return static_cast<int>(buffers_.size()) - 1;
  }
  int newSlot(const memory::desc& desc, int buffer) {
    Buffer& target = buffers_[buffer];
    target.bytes = std::max<int64_t>(target.bytes, static_cast<int64_t>(desc.get_size()));
    slots_.push_back(Slot{desc, buffer});
    return static_cast<int>(slots_.size()) - 1;
  }
  int newSlotWithBuffer(const memory::desc& desc) {
    return newSlot(desc, newBuffer(BufferKind::kArena));
  }
  void bindValue(const std::string& value, int slot) {
    valueSlots_[value] = slot;
    ++buffers_[slots_[slot].buffer].numValues;
  }
  int slotOf(const std::string& value) const { return valueSlots_.at(value); }
  const Dims& dimsOf(const std::string& value) const { return shapes_.at(value); }

  // True when the current step is the last reader of `value`, so its buffer may take the output.
  bool mayOverwrite(const std::string& value) const {
    auto it = lastReader_.find(value);
    const Buffer& buffer = buffers_[slots_[slotOf(value)].buffer];
    return it != lastReader_.end() && it->second == stepIndex_ &&
           buffer.kind == BufferKind::kArena && buffer.numValues == 1;
  }

  void addExecution(dnnl::primitive primitive, std::vector<std::pair<int, int>> slotArgs,
                    std::unordered_map<int, memory> constantArgs = {}) {
    const int index = static_cast<int>(executions_.size());
    for (const auto& [arg, slot] : slotArgs) {
      Buffer& buffer = buffers_[slots_[slot].buffer];
      buffer.firstUse = std::min(buffer.firstUse, index);
      buffer.lastUse = std::max(buffer.lastUse, index);
    }
    executions_.push_back(
        PendingExecution{std::move(primitive), std::move(slotArgs), std::move(constantArgs)});
  }

  // A pause touches no memory, so it extends no buffer's lifetime.
  void addPause(std::chrono::nanoseconds pause) {
    executions_.push_back(PendingExecution{dnnl::primitive(), {}, {}, pause});
  }

  void trackScratchpad(const dnnl::primitive_desc_base& pd) {
    scratchpadBytes_ = std::max<int64_t>(scratchpadBytes_, pd.scratchpad_desc().get_size());
  }

  void addReorder(int from, int to) {
    dnnl::reorder::primitive_desc pd(engine_, slots_[from].desc, engine_, slots_[to].desc,
                                     makeAttr());
    trackScratchpad(pd);
    addExecution(dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }

  // The slot holding `value` in layout `desc`, reordering (once per layout) when needed.
  int slotAs(const std::string& value, const memory::desc& desc) {
    int slot = slotOf(value);
    if (slots_[slot].desc == desc) return slot;
    auto& cached = conversions_[value];
    for (int converted : cached) {
      if (slots_[converted].desc == desc) return converted;
    }
    int converted = newSlotWithBuffer(desc);
    addReorder(slot, converted);
    cached.push_back(converted);
    return converted;
  }

  // The same bytes as `slot`, viewed through another descriptor (a reshape of plain data).
  int aliasOf(int slot, const memory::desc& desc) { return newSlot(desc, slots_[slot].buffer); }

  memory constant(const std::string& key, const Dims& dims, const float* data,
                  const memory::desc& target) {
    return weights_.get(key, plainDesc(dims), data, target);
  }
  memory constant(const std::string& key, const Dims& dims, const float* data) {
    return constant(key, dims, data, plainDesc(dims));
  }

  const model::Tensor& initializer(const std::string& name) const {
    return *graph_.initializer(name);
  }

  Status buildStep(const ExecutionStep& step) {
    const std::string& op = step.node->opType;
    if (op == "Conv") return buildConv(step);
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") {
      return buildPooling(step);
    }
    if (op == "BatchNormalization") return buildBatchNorm(step);
    if (op == "Relu") return buildRelu(step);
    if (op == "Add") return buildAdd(step);
    if (op == "Flatten" || op == "Reshape" || op == "Identity") return buildReshape(step);
    if (op == "Softmax") return buildSoftmax(step);
    if (op == "Gemm") return buildGemm(step);
    if (op == "MatMul") return buildMatMul(step);
    if (op == model::kSleepOp) return buildSleep(step);
    return Status::Unsupported("the CPU executor has no kernel for this op");
  }

  Status buildConv(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& x = node.inputs[0];
    const Dims& xDims = dimsOf(x);
    const model::Tensor& weight = initializer(node.inputs[1]);
    const Dims& wDims = weight.dims;
    const int64_t group = node.intAttribute("group", 1);
    SLUICE_ASSIGN_OR_RETURN(model::WindowGeometry window,
                            model::resolveWindow(node, {xDims[2], xDims[3]}, {wDims[2], wDims[3]}));
    const Dims outDims = dimsOf(step.output);
    const Dims weightDims = group > 1
        ? Dims{group, wDims[0] / group, wDims[1], wDims[2], wDims[3]}
        : wDims;
    std::vector<float> zeros;
    const float* biasData = nullptr;
    std::string biasKey;
    if (node.numPresentInputs() > 2) {
      biasData = initializer(node.inputs[2]).floats.data();
      biasKey = node.inputs[2];
    } else {
      zeros.assign(wDims[0], 0.f);
      biasData = zeros.data();
      biasKey = node.name + ".zero_bias";
    }

    dnnl::post_ops postOps;
    if (!step.sumInput.empty()) postOps.append_sum(1.f);
    if (step.fuseRelu) postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr = makeAttr();
    attr.set_post_ops(postOps);

    memory::desc biasDesc = plainDesc({wDims[0]});
    // Channel-blocked activations: on this oneDNN the blocked direct/1x1 kernels beat the
    // NHWC ones `any` picks for fp32 (ResNet50, batch 32, 2 cores: ~12 vs ~11 images/s, noisy).
    const int64_t block = channelBlock();
    memory::desc srcDesc = xDims[1] % block == 0 ? blockedDesc(xDims) : anyDesc(xDims);
    memory::desc dstDesc = outDims[1] % block == 0 ? blockedDesc(outDims) : anyDesc(outDims);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, srcDesc,
        anyDesc(weightDims), biasDesc, dstDesc,
        {window.strides[0], window.strides[1]},
        {window.dilations[0] - 1, window.dilations[1] - 1},
        {window.padsBegin[0], window.padsBegin[1]}, {window.padsEnd[0], window.padsEnd[1]});
    dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
    trackScratchpad(pd);

    memory weights = constant(node.inputs[1], weightDims, weight.floats.data(), pd.weights_desc());
    memory bias = constant(biasKey, {wDims[0]}, biasData);
    int src = slotAs(x, pd.src_desc());
    int dst;
    if (!step.sumInput.empty()) {
      int skip = slotOf(step.sumInput);
      // Accumulate onto the skip tensor's own buffer when nothing reads it later (and the conv
      // does not read it as its source).
      if (step.sumInput != x && mayOverwrite(step.sumInput) &&
          slots_[skip].desc == pd.dst_desc()) {
        dst = newSlot(pd.dst_desc(), slots_[skip].buffer);
      } else {
        dst = newSlotWithBuffer(pd.dst_desc());
        addReorder(skip, dst);  // pre-fill the destination with the addend
      }
    } else {
      dst = newSlotWithBuffer(pd.dst_desc());
    }
    addExecution(dnnl::convolution_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                 {{DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}});
    bindValue(step.output, dst);
    return Status::OK();
  }

  Status buildPooling(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& x = node.inputs[0];
    const Dims& xDims = dimsOf(x);
    const Dims& outDims = dimsOf(step.output);
    memory::dims strides{1, 1}, kernel{xDims[2], xDims[3]}, dilation{0, 0}, padL{0, 0},
        padR{0, 0};
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
    if (node.opType != "GlobalAveragePool") {
      SLUICE_ASSIGN_OR_RETURN(model::WindowGeometry window,
                              model::resolveWindow(node, {xDims[2], xDims[3]}, {1, 1}));
      auto padEnd = window.ceilMode ? window.effectivePadsEnd({xDims[2], xDims[3]})
                                    : window.padsEnd;
      const bool includePad = node.intAttribute("count_include_pad", 0) != 0;
      if (node.opType == "AveragePool" && includePad &&
          (padEnd[0] > window.padsEnd[0] || padEnd[1] > window.padsEnd[1])) {
        return Status::Unsupported("count_include_pad=1 with a ceil_mode window that reaches "
                                   "past the padding is not supported");
      }
      for (int i = 0; i < 2; ++i) {
        strides[i] = window.strides[i];
        kernel[i] = window.kernel[i];
        dilation[i] = window.dilations[i] - 1;
        padL[i] = window.padsBegin[i];
        padR[i] = padEnd[i];
      }
      if (node.opType == "MaxPool") {
        algorithm = dnnl::algorithm::pooling_max;
      } else if (includePad) {
        algorithm = dnnl::algorithm::pooling_avg_include_padding;
      }
    }
    int src = slotOf(x);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                        slots_[src].desc, anyDesc(outDims), strides, kernel,
                                        dilation, padL, padR);
    dnnl::pooling_v2_forward::primitive_desc pd(desc, makeAttr(), engine_);
    trackScratchpad(pd);
    int dst = newSlotWithBuffer(pd.dst_desc());
    addExecution(dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    bindValue(step.output, dst);
    return Status::OK();
  }

  // The output slot of an op that keeps its input's layout: the input's buffer when this step
  // is its last reader, a new buffer otherwise.
  int sameLayoutOutput(const std::string& input, int inputSlot) {
    if (inputSlot == slotOf(input) && mayOverwrite(input)) {
      return newSlot(slots_[inputSlot].desc, slots_[inputSlot].buffer);
    }
    return newSlotWithBuffer(slots_[inputSlot].desc);
  }

  Status buildBatchNorm(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& x = node.inputs[0];
    const int64_t channels = dimsOf(x)[1];
    int src = slotOf(x);
    std::vector<float> scaleShift(2 * channels);
    const auto& scale = initializer(node.inputs[1]).floats;
    const auto& shift = initializer(node.inputs[2]).floats;
    std::copy(scale.begin(), scale.end(), scaleShift.begin());
    std::copy(shift.begin(), shift.end(), scaleShift.begin() + channels);
    dnnl::batch_normalization_forward::desc desc(
        dnnl::prop_kind::forward_inference, slots_[src].desc,
        node.floatAttribute("epsilon", 1e-5f),
        dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale_shift);
    dnnl::batch_normalization_forward::primitive_desc pd(desc, makeAttr(), engine_);
    trackScratchpad(pd);
    memory scaleShiftMemory =
        constant(node.name + ".scale_shift", {2, channels}, scaleShift.data());
    memory mean = constant(node.inputs[3], {channels}, initializer(node.inputs[3]).floats.data());
    memory variance =
        constant(node.inputs[4], {channels}, initializer(node.inputs[4]).floats.data());
    int dst = sameLayoutOutput(x, src);
    addExecution(dnnl::batch_normalization_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                 {{DNNL_ARG_SCALE_SHIFT, scaleShiftMemory},
                  {DNNL_ARG_MEAN, mean},
                  {DNNL_ARG_VARIANCE, variance}});
    bindValue(step.output, dst);
    return Status::OK();
  }

  Status buildRelu(const ExecutionStep& step) {
    const std::string& x = step.node->inputs[0];
    int src = slotOf(x);
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::eltwise_relu, slots_[src].desc, 0.f, 0.f);
    dnnl::eltwise_forward::primitive_desc pd(desc, makeAttr(), engine_);
    trackScratchpad(pd);
    int dst = sameLayoutOutput(x, src);
    addExecution(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    bindValue(step.output, dst);
    return Status::OK();
  }

  Status buildAdd(const ExecutionStep& step) {
    std::string a = step.node->inputs[0];
    std::string b = step.node->inputs[1];
    const Dims& outDims = dimsOf(step.output);
    if (graph_.initializer(a)) std::swap(a, b);
    if (graph_.initializer(a)) return Status::Unsupported("both addends are constants");
    if (dimsOf(a) != outDims) std::swap(a, b);
    if (dimsOf(a) != outDims || graph_.initializer(a)) {
      return Status::Unsupported("neither addend has the output shape");
    }
    int src0 = slotOf(a);
    const memory::desc& layout = slots_[src0].desc;
    // The second addend, its rank raised to the output's, each dim 1 (broadcast) or equal.
    Dims bDims = dimsOf(b);
    bDims.insert(bDims.begin(), outDims.size() - bDims.size(), 1);
    for (size_t i = 0; i < outDims.size(); ++i) {
      if (bDims[i] != 1 && bDims[i] != outDims[i]) {
        return Status::Unsupported("the addends do not broadcast");
      }
    }
    std::vector<std::pair<int, int>> slotArgs;
    std::unordered_map<int, memory> constantArgs;
    memory::desc src1Desc = plainDesc(bDims);
    if (const model::Tensor* tensor = graph_.initializer(b)) {
      constantArgs[DNNL_ARG_SRC_1] = constant(b + ".rank" + std::to_string(bDims.size()), bDims,
                                              tensor->floats.data());
    } else if (bDims == outDims) {
      src1Desc = layout;
      slotArgs.push_back({DNNL_ARG_SRC_1, slotAs(b, layout)});
    } else {
      int plain = slotAs(b, plainDesc(dimsOf(b)));
      slotArgs.push_back({DNNL_ARG_SRC_1, aliasOf(plain, src1Desc)});
    }
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, layout, src1Desc, layout);
    dnnl::binary::primitive_desc pd(desc, makeAttr(), engine_);
    trackScratchpad(pd);
    int dst = sameLayoutOutput(a, src0);
    slotArgs.push_back({DNNL_ARG_SRC_0, src0});
    slotArgs.push_back({DNNL_ARG_DST, dst});
    addExecution(dnnl::binary(pd), std::move(slotArgs), std::move(constantArgs));
    bindValue(step.output, dst);
    return Status::OK();
  }

  Status buildReshape(const ExecutionStep& step) {
    const std::string& x = step.node->inputs[0];
    int plain = slotAs(x, plainDesc(dimsOf(x)));
    bindValue(step.output, aliasOf(plain, plainDesc(dimsOf(step.output))));
    return Status::OK();
  }

  Status buildSoftmax(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& x = node.inputs[0];
    const Dims& dims = dimsOf(x);
    const int64_t rank = static_cast<int64_t>(dims.size());
    int64_t axis = node.intAttribute("axis", graph_.opsetVersion() >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    int src = slotAs(x, plainDesc(dims));
    memory::desc layout = plainDesc(dims);
    if (graph_.opsetVersion() < 13) {
      // Before opset 13, Softmax normalizes over all dims from `axis` on, as one flat row.
      layout = plainDesc({product(dims, 0, axis), product(dims, axis, rank)});
      src = aliasOf(src, layout);
      axis = 1;
    }
    dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, layout,
                                     static_cast<int>(axis));
    dnnl::softmax_forward::primitive_desc pd(desc, makeAttr(), engine_);
    trackScratchpad(pd);
    int dst = newSlotWithBuffer(layout);
    addExecution(dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    bindValue(step.output, aliasOf(dst, plainDesc(dimsOf(step.output))));
    return Status::OK();
  }

  // Runs dst[rows, n] = src[rows, k] · weights[k, n] (+ bias[1, n]) with a matmul primitive.
  void addMatMul(int src, const memory::desc& srcDesc, int64_t rows, int64_t k, int64_t n,
                 const std::string& weightKey, const float* weightData,
                 const std::string& biasKey, const float* biasData, const std::string& output) {
    memory::desc weightsDesc = plainDesc({k, n});
    memory::desc dstDesc = plainDesc({rows, n});
    std::unordered_map<int, memory> constants;
    constants[DNNL_ARG_WEIGHTS] = constant(weightKey, {k, n}, weightData);
    std::unique_ptr<dnnl::matmul::desc> desc;
    if (biasData) {
      memory::desc biasDesc = plainDesc({1, n});
      desc = std::make_unique<dnnl::matmul::desc>(srcDesc, weightsDesc, biasDesc, dstDesc);
      constants[DNNL_ARG_BIAS] = constant(biasKey, {1, n}, biasData);
    } else {
      desc = std::make_unique<dnnl::matmul::desc>(srcDesc, weightsDesc, dstDesc);
    }
    dnnl::matmul::primitive_desc pd(*desc, makeAttr(), engine_);
    trackScratchpad(pd);
    int dst = newSlotWithBuffer(dstDesc);
    addExecution(dnnl::matmul(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                 std::move(constants));
    bindValue(output, aliasOf(dst, plainDesc(dimsOf(output))));
  }

  Status buildGemm(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& a = node.inputs[0];
    const Dims& aDims = dimsOf(a);
    const model::Tensor& b = initializer(node.inputs[1]);
    const bool transA = node.intAttribute("transA", 0) != 0;
    const bool transB = node.intAttribute("transB", 0) != 0;
    const float alpha = node.floatAttribute("alpha", 1.f);
    const float beta = node.floatAttribute("beta", 1.f);
    const int64_t m = transA ? aDims[1] : aDims[0];
    const int64_t k = transA ? aDims[0] : aDims[1];
    const int64_t n = transB ? b.dims[0] : b.dims[1];
    int plain = slotAs(a, plainDesc(aDims));
    memory::desc srcDesc = transA
        ? memory::desc({m, k}, memory::data_type::f32, memory::dims{1, m})
        : plainDesc({m, k});
    int src = transA ? aliasOf(plain, srcDesc) : plain;
    // Weights as [k, n] with alpha folded in; bias as beta * C broadcast to a [1, n] row.
    std::vector<float> weights(k * n);
    for (int64_t row = 0; row < k; ++row) {
      for (int64_t col = 0; col < n; ++col) {
        weights[row * n + col] = alpha * (transB ? b.floats[col * k + row] : b.floats[row * n + col]);
      }
    }
    std::vector<float> bias;
    if (node.numPresentInputs() > 2) {
      const model::Tensor& c = initializer(node.inputs[2]);
      bias.resize(n);
      for (int64_t col = 0; col < n; ++col) {
        bias[col] = beta * (c.numElements() == 1 ? c.floats[0] : c.floats[col]);
      }
    }
    addMatMul(src, srcDesc, m, k, n, node.name + ".gemm_weights", weights.data(),
              node.name + ".gemm_bias", bias.empty() ? nullptr : bias.data(), step.output);
    return Status::OK();
  }

  Status buildMatMul(const ExecutionStep& step) {
    const model::Node& node = *step.node;
    const std::string& a = node.inputs[0];
    const Dims& aDims = dimsOf(a);
    const model::Tensor& b = initializer(node.inputs[1]);
    const int64_t k = aDims.back();
    const int64_t rows = product(aDims, 0, aDims.size() - 1);
    int plain = slotAs(a, plainDesc(aDims));
    memory::desc srcDesc = plainDesc({rows, k});
    addMatMul(aliasOf(plain, srcDesc), srcDesc, rows, k, b.dims[1], node.inputs[1],
              b.floats.data(), "", nullptr, step.output);
    return Status::OK();
  }

  // The output is the input itself (same slot, same layout): the op only waits.
  Status buildSleep(const ExecutionStep& step) {
    SLUICE_ASSIGN_OR_RETURN(double seconds, model::sleepSeconds(*step.node));
    // Rounded up: the op waits at least `seconds`.
    addPause(std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds)));
    bindValue(step.output, slotOf(step.node->inputs[0]));
    return Status::OK();
  }

  Result<std::unique_ptr<ExecutionPlan>> finish(int outputSlot) {
    std::vector<BufferRequest> requests;
    std::vector<int> requestOf(buffers_.size(), -1);
    for (size_t i = 0; i < buffers_.size(); ++i) {
      const Buffer& buffer = buffers_[i];
      if (buffer.kind != BufferKind::kArena || buffer.lastUse < 0) continue;
      requestOf[i] = static_cast<int>(requests.size());
      requests.push_back(BufferRequest{buffer.bytes, buffer.firstUse, buffer.lastUse});
    }
    BufferLayout layout = assignBuffers(requests);

    auto plan = std::unique_ptr<ExecutionPlan>(new ExecutionPlan());
    plan->arenaBytes_ = layout.totalBytes;
    plan->scratchpadBytes_ = scratchpadBytes_;
    plan->arena_ = allocateAligned(layout.totalBytes);
    plan->scratchpad_ = allocateAligned(scratchpadBytes_);
    if (!plan->arena_ || !plan->scratchpad_) {
      return Status::Internal("cannot allocate " + std::to_string(layout.totalBytes) +
                              " bytes of activation memory");
    }
    auto* arena = static_cast<char*>(plan->arena_.get());
    memory scratchpad(memory::desc({std::max<int64_t>(scratchpadBytes_, 1)},
                                   memory::data_type::u8, memory::format_tag::a),
                      engine_, plan->scratchpad_.get());
    std::vector<memory> slotMemories(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Buffer& buffer = buffers_[slots_[i].buffer];
      if (buffer.kind == BufferKind::kArena) {
        if (requestOf[slots_[i].buffer] < 0) continue;  // never touched by an execution
        void* address = arena + layout.offsets[requestOf[slots_[i].buffer]];
        slotMemories[i] = memory(slots_[i].desc, engine_, address);
      } else {
        slotMemories[i] = memory(slots_[i].desc, engine_, nullptr);
        if (buffer.kind == BufferKind::kInput) plan->inputMemories_.push_back(slotMemories[i]);
      }
    }
    plan->outputMemory_ = slotMemories[outputSlot];
    for (PendingExecution& pending : executions_) {
      ExecutionPlan::Execution execution{std::move(pending.primitive),
                                         std::move(pending.constantArgs), pending.pause};
      for (const auto& [arg, slot] : pending.slotArgs) execution.args[arg] = slotMemories[slot];
      if (execution.primitive) execution.args[DNNL_ARG_SCRATCHPAD] = scratchpad;
      plan->executions_.push_back(std::move(execution));
    }
    return plan;
  }

  const model::Graph& graph_;
  const std::vector<ExecutionStep>& steps_;
  int64_t batchSize_;
  dnnl::engine engine_;
  WeightCache& weights_;
  model::ShapeMap shapes_;
  std::map<std::string, int> lastReader_;
  std::map<std::string, int> valueSlots_;
  std::map<std::string, std::vector<int>> conversions_;
  std::vector<Buffer> buffers_;
  std::vector<Slot> slots_;
  std::vector<PendingExecution> executions_;
  int64_t scratchpadBytes_ = 0;
  int stepIndex_ = 0;
};

Result<std::unique_ptr<ExecutionPlan>> ExecutionPlan::Make(const model::Graph& graph,
                                                           const std::vector<ExecutionStep>& steps,
                                                           int64_t batchSize,
                                                           const dnnl::engine& engine,
                                                           WeightCache& weights) {
  return PlanBuilder(graph, steps, batchSize, engine, weights).build();
}

Status ExecutionPlan::run(dnnl::stream& stream, const float* input, float* output) {
  for (dnnl::memory& memory : inputMemories_) {
    memory.set_data_handle(const_cast<float*>(input));  // read only: no step writes the input
  }
  outputMemory_.set_data_handle(output);
  try {
    for (Execution& execution : executions_) {
      if (execution.primitive) {
        execution.primitive.execute(stream, execution.args);
      } else {
        std::this_thread::sleep_for(execution.pause);
      }
    }
    stream.wait();
  } catch (const dnnl::error& error) {
    return Status::Internal(std::string("oneDNN failed while running the model: ") +
                            error.what());
  }
  return Status::OK();
}

}  // namespace sluice::backend
