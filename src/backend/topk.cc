#include "backend/topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace sluice::backend {

namespace {

// NaN ranks below every number, -inf included, so that a row with NaN outputs (an fp16 overflow)
// still orders its classes strictly, as the CUDA kernel does.
bool ranksBefore(float a, int32_t classA, float b, int32_t classB) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? std::isnan(b) && classA < classB : true;
  return a > b || (a == b && classA < classB);
}

}  // namespace

void softmaxTopK(const float* outputs, int64_t classes, int k, bool alreadyProbabilities, int32_t* labels,
                 float* scores) {
  thread_local std::vector<int32_t> order;
  order.resize(classes);
  std::iota(order.begin(), order.end(), 0);
  int count = static_cast<int>(std::min<int64_t>(k, classes));
  std::partial_sort(order.begin(), order.begin() + count, order.end(),
                    [&](int32_t a, int32_t b) { return ranksBefore(outputs[a], a, outputs[b], b); });
  double sum = 1.0;
  // NaN outputs take no part in the softmax: the other classes keep their probabilities.
  float maximum = -INFINITY;
  for (int64_t c = 0; c < classes; ++c) maximum = std::fmax(maximum, outputs[c]);
  if (!alreadyProbabilities) {
    sum = 0;
    for (int64_t c = 0; c < classes; ++c) {
      if (!std::isnan(outputs[c])) sum += std::exp(static_cast<double>(outputs[c]) - maximum);
    }
  }
  for (int i = 0; i < count; ++i) {
    labels[i] = order[i];
    scores[i] = alreadyProbabilities ? outputs[order[i]]
                                     : static_cast<float>(std::exp(static_cast<double>(outputs[order[i]]) - maximum) / sum);
  }
}

}  // namespace sluice::backend
