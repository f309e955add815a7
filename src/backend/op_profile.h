#pragma once
// Where a model's forward pass spends its time, op by op (`sluice model-bench --profile`): each op
// timed on its own, beside what it costs (FLOPs, bytes it must move at the least), so that a report
// can say which ops are compute-bound, which memory-bound, and how fast each runs.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::backend {

struct OpTiming {
  std::string node;          // the graph node
  std::string kind;          // what it is grouped by: "Conv 3x3", "Gemm", "bias/add/ReLU epilogue", "MaxPool", ...
  std::string shape;         // input -> output, N×C×H×W as the op stores them
  std::string detail;        // convolutions: stride, fusion, cuDNN algorithm and math, workspace
  double milliseconds = 0;   // mean per forward pass
  double flops = 0;          // 2 × the multiply-adds over the model's own channels; 0 where not counted
  double bytes = 0;          // activations read and written and weights, each once: the least traffic
};

struct ModelProfile {
  int64_t batchSize = 0;
  int runs = 0;                  // eager forward passes the times are the mean of
  double forwardMilliseconds = 0;  // one forward pass as the benchmark ran it (graph replay), 0 if unknown
  std::vector<OpTiming> ops;

  double totalMilliseconds() const;
  double totalFlops() const;
};

/// The ops of one kind together.
struct KindTotal {
  std::string kind;
  int ops = 0;
  double milliseconds = 0;
  double flops = 0;
  double bytes = 0;
};
/// Every kind's total, largest time first (ties: by kind).
std::vector<KindTotal> totalsByKind(const ModelProfile& profile);

/// The `count` slowest ops, slowest first (ties: in forward order).
std::vector<OpTiming> slowestOps(const ModelProfile& profile, int count);

/// Two text tables: the totals by kind, then the `top` slowest ops, each with its share of the
/// time, TFLOP/s and GB/s.
std::string formatProfile(const ModelProfile& profile, int top = 12);

}  // namespace sluice::backend
