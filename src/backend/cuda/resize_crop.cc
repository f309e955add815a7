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

ResizeCropPlan planResizeCrop(std::vector<ResizeCropJob>& jobs, int cropSize) {
  ResizeCropPlan plan;
  for (ResizeCropJob& job : jobs) {
    plan.tapStride = std::max({plan.tapStride, resizeTapStride(job.sourceWidth, job.resizedWidth),
                               resizeTapStride(job.sourceHeight, job.resizedHeight)});
    // The first pass' output is at most cropSize columns x all rows, or all columns x cropSize rows.
    const int width = job.verticalFirst ? job.sourceWidth : cropSize;
    const int height = job.verticalFirst ? cropSize : job.sourceHeight;
    plan.firstPassWidth = std::max(plan.firstPassWidth, width);
    plan.firstPassHeight = std::max(plan.firstPassHeight, height);
    job.intermediateOffset = plan.intermediateBytes;
    plan.intermediateBytes += alignUp(int64_t{width} * height * 3);
  }
  return plan;
}

int resizeTapStride(int inputSize, int outputSize) {
  const double scale = static_cast<double>(inputSize) / outputSize;
  const double support = scale > 1.0 ? scale : 1.0;
  return static_cast<int>(std::ceil(support)) * 2 + 1;
}

}  // namespace sluice::backend::cuda
