#pragma once
// Resizing with Pillow's BILINEAR filter, which is what torchvision's Resize applies to PIL images:
// models trained through torchvision saw images resized exactly this way.

#include <cstdint>
#include <vector>

#include "image/image.h"
#include "image/image_decoder.h"
#include "sluice/status.h"

namespace sluice::image {

/// A rectangle of a source image in pixel coordinates, edges included as in Pillow's `box`
/// argument: (left, top) is the top-left corner, (right, bottom) the bottom-right; may be fractional.
struct Region {
  double left = 0;
  double top = 0;
  double right = 0;
  double bottom = 0;

  static Region whole(const ImageView& image) { return {0, 0, double(image.width), double(image.height)}; }
};

/// Which implementation of the filter loops to run; both give the same pixels.
enum class ResampleKernels {
  kFastest,   ///< AVX2 loops where the CPU has AVX2 (checked at run time), else the portable ones
  kPortable,  ///< plain C++ loops only (the reference the vector loops are tested against)
};

/// Resizes a region of a uint8 image the way Pillow's `Image.resize(size, BILINEAR, box)` does,
/// bit for bit: a separable triangle filter whose support widens by the scale factor when
/// downscaling (antialiased), coefficients normalised and rounded to 22-bit fixed point, and two
/// passes with the intermediate rounded to uint8. The pass order follows Pillow 13: the vertical
/// pass first when the height shrinks by more than twice as many pixels as the width does,
/// otherwise the horizontal pass first (older Pillow always went horizontal first; the two orders
/// differ by at most 1 in a minority of pixels).
/// Keeps its coefficient tables and intermediate buffer between calls, so a worker that resizes
/// many images allocates only when the geometry grows. Not thread-safe: one per worker thread.
class BilinearResampler {
 public:
  explicit BilinearResampler(ResampleKernels kernels = ResampleKernels::kFastest);

  /// Whether this CPU runs the vector loops that ResampleKernels::kFastest picks.
  static bool hasVectorKernels();

  /// Writes `region` of `source`, resized to `destination`'s width and height, into `destination`.
  /// Both must have the same channel count (1 to 4); the region must lie inside the source.
  Status resize(const ImageView& source, const Region& region, const MutableImageView& destination);

  /// Writes the window of `source` resized whole to fullWidth x fullHeight whose top-left corner
  /// is (windowLeft, windowTop) and whose size is `destination`'s: bit for bit what Pillow's
  /// `resize((fullWidth, fullHeight), BILINEAR).crop(window)` gives (same coefficients, same pass
  /// order), while filtering only the pixels the window needs. This is Resize + CenterCrop fused.
  /// The window must lie inside the full size.
  Status resizeWindow(const ImageView& source, int fullWidth, int fullHeight, int windowLeft, int windowTop,
                      const MutableImageView& destination);

  /// The source pixels resizeWindow reads for a windowWidth x windowHeight window, with the same
  /// arguments otherwise: the rest of the source may hold anything. Empty for invalid arguments.
  PixelWindow sourceWindow(Size source, int fullWidth, int fullHeight, int windowLeft, int windowTop,
                           int windowWidth, int windowHeight);

 private:
  // One axis' filter: for each output position, the first input index, the number of taps and
  // `tapStride` fixed-point weights.
  struct AxisCoefficients {
    std::vector<int32_t> firstInput;
    std::vector<int32_t> numTaps;
    std::vector<int32_t> weights;
    int tapStride = 0;
  };
  // Coefficients of outputs [firstOutput, firstOutput + numOutputs) of a resize of
  // [regionStart, regionEnd) to outputSize.
  void computeCoefficients(int inputSize, double regionStart, double regionEnd, int outputSize,
                           int firstOutput, int numOutputs, AxisCoefficients& coefficients);
  // Runs both passes with the coefficients computed, in the given order.
  void resampleBothPasses(const ImageView& source, bool verticalFirst, const MutableImageView& destination);
  // Filters rows [firstRow, firstRow + destination.height) of `source` horizontally; `source`
  // starts at input column `firstColumn` of the coefficient tables.
  void resampleHorizontally(const ImageView& source, int firstRow, int firstColumn,
                            const MutableImageView& destination);
  // Filters `source` vertically; `source` starts at input row `firstRow` of the coefficient tables.
  void resampleVertically(const ImageView& source, int firstRow, const MutableImageView& destination);

  bool vectorKernels_ = false;
  AxisCoefficients horizontal_;
  AxisCoefficients vertical_;
  std::vector<double> unnormalizedWeights_;
  std::vector<uint8_t> intermediate_;     // the first pass' output
  std::vector<int32_t> rowAccumulator_;   // one output row of the vertical pass, in fixed point
  std::vector<const uint8_t*> tapRows_;   // the input rows of one output row of the vertical pass
};

/// Resizes `region` of `source` to outputWidth x outputHeight (Pillow BILINEAR) into a new Image.
Result<Image> resizeBilinear(const ImageView& source, const Region& region, int outputWidth,
                             int outputHeight);

/// Resizes the whole of `source` to outputWidth x outputHeight (Pillow BILINEAR).
Result<Image> resizeBilinear(const ImageView& source, int outputWidth, int outputHeight);

}  // namespace sluice::image
