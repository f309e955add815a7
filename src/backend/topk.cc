#include "backend/topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace sluice::backend {

void softmaxTopK(const float* outputs, int64_t classes, int k, bool alreadyProbabilities, int32_t* labels,
                 float* scores) {
  thread_local std::vector<int32_t> order;
  order.resize(classes);
  std::iota(order.begin(), order.end(), 0);
  int count = static_cast<int>(std::min<int64_t>(k, classes));
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int32_t a, int32_t b) {
    return outputs[a] > outputs[b] || (outputs[a] == outputs[b] && a < b);
  });
  double sum = 1.0;
  float maximum = outputs[order[0]];
  if (!alreadyProbabilities) {
    sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(outputs[c]) - maximum);
  }
  for (int i = 0; i < count; ++i) {
    labels[i] = order[i];
    scores[i] = alreadyProbabilities ? outputs[order[i]]
                                     : static_cast<float>(std::exp(static_cast<double>(outputs[order[i]]) - maximum) / sum);
  }
}

}  // namespace sluice::backend
