// Parameter math of the ONNX → IR rewrite: explicit pads for auto_pad, resolved Reshape shapes,
// clamped Slice bounds and Resize scales/sizes. Pure functions of shapes and values, so they can
// be tested alone. (The Slice and Resize math will move to model/shapes/data_params.h once that
// lands; these keep the same contract.)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/dtype.h"

namespace edgeloop::model::onnx_import {

// Pads (begins then ends, 2n values) for a convolution or pooling window over `in` spatial dims.
// auto_pad "NOTSET" returns `pads` (zeros when empty), "VALID" zeros, "SAME_UPPER"/"SAME_LOWER" the
// padding that makes out = ceil(in / stride), the odd pixel at the end (UPPER) or begin (LOWER).
Result<std::vector<int64_t>> resolve_auto_pad(std::string_view auto_pad, std::span<const int64_t> in,
                                              std::span<const int64_t> kernel, std::span<const int64_t> strides,
                                              std::span<const int64_t> dilations, std::vector<int64_t> pads);

// ConvTranspose: pads and output_padding that produce `output_shape` (spatial dims), or, for
// SAME_UPPER/SAME_LOWER without an output_shape, in * stride.
struct ConvTransposePads {
  std::vector<int64_t> pads;
  std::vector<int64_t> output_padding;
};
Result<ConvTransposePads> resolve_conv_transpose_pads(std::string_view auto_pad, std::span<const int64_t> in,
                                                      std::span<const int64_t> kernel,
                                                      std::span<const int64_t> strides,
                                                      std::span<const int64_t> dilations,
                                                      std::vector<int64_t> pads, std::vector<int64_t> output_padding,
                                                      std::span<const int64_t> output_shape);

// ONNX Reshape target: 0 copies the input dim (unless allow_zero), one -1 is inferred.
Result<Shape> resolve_reshape(const Shape& in, std::span<const int64_t> target, bool allow_zero);

// ONNX Slice → one start/end/step per dim of `in`, clamped as ONNX does; `axes` and `steps` may be
// empty (all leading axes, steps of 1).
struct SliceParams {
  std::vector<int64_t> starts, ends, steps;
};
Result<SliceParams> resolve_slice(const Shape& in, std::span<const int64_t> starts, std::span<const int64_t> ends,
                                  std::span<const int64_t> axes, std::span<const int64_t> steps);
// Output shape of resolved Slice params: max(0, ceil((end - start) / step)) per dim.
Shape slice_output_shape(const SliceParams& p);
// max(0, ceil((end - start) / step)) without overflow for any int64 values (step != 0).
int64_t slice_extent(int64_t start, int64_t end, int64_t step);

// ONNX Resize/Upsample: exactly one of `scales` / `sizes` non-empty, one value per dim.
// Output sizes are floor(in * scale); given sizes, scales are sizes / in.
struct ResizeParams {
  std::vector<float> scales;
  std::vector<int64_t> sizes;
};
Result<ResizeParams> resolve_resize(const Shape& in, std::span<const float> scales, std::span<const int64_t> sizes);

}  // namespace edgeloop::model::onnx_import
