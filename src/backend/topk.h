#pragma once
#include <cstdint>

namespace sluice::backend {

/// Writes the k best classes of one image's outputs (highest first; ties go to the lower class)
/// and their softmax probabilities. When `alreadyProbabilities` is true (the model ends in
/// Softmax) the outputs are used as they are.
void softmaxTopK(const float* outputs, int64_t classes, int k, bool alreadyProbabilities, int32_t* labels,
                 float* scores);

}  // namespace sluice::backend
