// Canonicalization of the data ops' ONNX parameters into the attributes of docs/ops.md.
// ONNX passes many of these as (constant) inputs with defaults, negative axes, 0/-1 shape
// entries and out-of-range slice bounds; the IR stores one resolved spelling. The importer calls
// these functions so the math lives in one place, next to the shape functions that check it.
// Errors are kInvalidArgument and describe the ONNX parameter; callers add the node's name.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/dtype.h"

namespace edgeloop::model {

// Reshape: resolves ONNX's `shape` input. 0 copies the input dim at that position (unless
// allowzero, where 0 is a literal zero), one -1 is inferred from the element count. The result
// has no 0-copies and no -1, and the same element count as `in`.
Result<Shape> resolve_reshape(const Shape& in, std::span<const int64_t> shape, bool allowzero = false);

// Flatten(axis) as a Reshape target: [prod(in[:axis]), prod(in[axis:])], axis in [-r, r].
Result<Shape> resolve_flatten(const Shape& in, int64_t axis);

// Squeeze as a Reshape target. Empty `axes` removes every dim of size 1; listed axes
// (negative allowed, no repeats) must have size 1.
Result<Shape> resolve_squeeze(const Shape& in, std::span<const int64_t> axes);

// Unsqueeze as a Reshape target. `axes` index the output (rank r + axes.size()), negative allowed,
// any order, no repeats.
Result<Shape> resolve_unsqueeze(const Shape& in, std::span<const int64_t> axes);

// Split: the non-negative axis and one size per output. An empty `split` splits into
// `num_outputs` equal parts (the dim must divide evenly, as in ONNX opsets up to 17).
struct SplitParams {
  int64_t axis = 0;
  std::vector<int64_t> split;
};
Result<SplitParams> resolve_split(const Shape& in, int64_t axis, std::span<const int64_t> split, size_t num_outputs);

// Slice: one start/end/step per dim of the input, clamped as ONNX does:
//   negative start/end count from the end (+dim), then
//   step > 0: start and end clamped to [0, dim];
//   step < 0: start clamped to [0, dim-1], end to [-1, dim-1] (-1 = "before index 0").
// Dims not named in `axes` take the whole range with step 1. Output extent per dim is
// max(0, ceil((end - start) / step)).
struct SliceParams {
  std::vector<int64_t> starts;
  std::vector<int64_t> ends;
  std::vector<int64_t> steps;
};
// `axes` empty = [0, 1, ..., starts.size()-1]; `steps` empty = all 1. Axes may be negative and
// in any order but not repeated; steps must be non-zero. Works for Slice-1 (attributes) too.
Result<SliceParams> resolve_slice(const Shape& in, std::span<const int64_t> starts, std::span<const int64_t> ends,
                                  std::span<const int64_t> axes = {}, std::span<const int64_t> steps = {});
// Output dims of a canonical slice (no validation beyond what the formula needs).
Shape slice_output_shape(const SliceParams& p);
// Elements a slice [start, end) by step takes: max(0, ceil((end - start) / step)). Exact and
// overflow-free for any int64 values (hostile files reach it); 0 for step 0.
int64_t slice_extent(int64_t start, int64_t end, int64_t step);

// Resize/Upsample: per-axis scales and the output shape from exactly one of ONNX's `scales`
// (output dim = floor(in * scale), computed in double like the ONNX reference) or `sizes`
// (scale = sizes / in, as ONNX does; stored as float). Scales must be finite and > 0, sizes >= 0;
// each has one entry per input dim. `roi` only matters to tf_crop_and_resize, which the IR
// refuses, so it is not taken here. Upsample (opsets 7-9) is Resize with coordinate_transformation_mode
// asymmetric and, for mode nearest, nearest_mode floor (checked against test_upsample_nearest).
struct ResizeParams {
  std::vector<float> scales;
  std::vector<int64_t> sizes;  // the output shape
};
Result<ResizeParams> resolve_resize(const Shape& in, std::span<const float> scales, std::span<const int64_t> sizes);

}  // namespace edgeloop::model
