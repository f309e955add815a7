#include "backend/cuda/resize_crop.h"

#include <algorithm>
#include <cmath>

#include "image/encoded_image_preprocessor.h"
#include "image/preprocess.h"

namespace sluice::backend::cuda {

namespace {

constexpr int64_t kAlignment = 256;

int64_t alignUp(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

ResizeCropJob resizeCropJob(int width, int height, int resizeSize, int cropSize) {
  const image::Size resized = image::resizedSize(width, height, resizeSize);
  ResizeCropJob job;
  job.sourceWidth = width;
  job.sourceHeight = height;
  job.resizedWidth = resized.width;
  job.resizedHeight = resized.height;
  job.cropLeft = image::centerCropOffset(resized.width, cropSize);
  job.cropTop = image::centerCropOffset(resized.height, cropSize);
  // Pillow's pass order for the whole resize (as image::BilinearResampler::resizeWindow).
  job.verticalFirst = resized.height < height && 2 * (width - resized.width) < height - resized.height ? 1 : 0;
  return job;
}

FirstPassSize firstPassSize(const ResizeCropJob& job, int cropSize) {
  // The inputs from the first output's first to the last output's last: the count firstPassPixel
  // takes from the coefficient table (an output never has more taps than resizeTapStride allows).
  const int axis = job.verticalFirst ? 0 : 1;
  const int span = resize_crop::filterSpan(job, axis, cropSize - 1).last - resize_crop::filterSpan(job, axis, 0).first;
  if (job.verticalFirst) return {std::max(span, 1), cropSize};
  return {cropSize, std::max(span, 1)};
}

int64_t firstPassBytes(const ResizeCropJob& job, int cropSize) {
  const FirstPassSize size = firstPassSize(job, cropSize);
  return alignUp(int64_t{size.width} * size.height * 3);
}

ResizeCropPlan planResizeCrop(std::vector<ResizeCropJob>& jobs, int cropSize) {
  ResizeCropPlan plan;
  for (ResizeCropJob& job : jobs) {
    plan.tapStride = std::max({plan.tapStride, resizeTapStride(job.sourceWidth, job.resizedWidth),
                               resizeTapStride(job.sourceHeight, job.resizedHeight)});
    // Only what the second pass reads: an image far taller than wide that is scaled up needs a few
    // of its rows, not all of them.
    const FirstPassSize size = firstPassSize(job, cropSize);
    plan.firstPassWidth = std::max(plan.firstPassWidth, size.width);
    plan.firstPassHeight = std::max(plan.firstPassHeight, size.height);
    job.intermediateOffset = plan.intermediateBytes;
    plan.intermediateBytes += firstPassBytes(job, cropSize);
  }
  return plan;
}

int resizeTapStride(int inputSize, int outputSize) {
  const double scale = static_cast<double>(inputSize) / outputSize;
  const double support = scale > 1.0 ? scale : 1.0;
  return static_cast<int>(std::ceil(support)) * 2 + 1;
}

}  // namespace sluice::backend::cuda
