#include "edgeloop/model/shapes/data_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edgeloop::model {

namespace {

// Maps an ONNX axis in [-rank, rank) to [0, rank).
Result<int64_t> onnx_axis(int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank)
    return make_error(ErrorCode::kInvalidArgument, "{} {} out of range for rank {} (valid: {} to {})", what, axis, rank,
                      -rank, rank - 1);
  return axis < 0 ? axis + rank : axis;
}

// Normalizes a list of axes and rejects repeats.
Result<std::vector<int64_t>> onnx_axes(std::span<const int64_t> axes, int64_t rank, std::string_view what) {
  std::vector<int64_t> out;
  std::vector<char> seen(static_cast<size_t>(rank), 0);
  for (int64_t a : axes) {
    EL_TRY(int64_t axis, onnx_axis(a, rank, what));
    if (seen[axis]) return make_error(ErrorCode::kInvalidArgument, "{} {} is repeated", what, axis);
    seen[axis] = 1;
    out.push_back(axis);
  }
  return out;
}

Result<int64_t> product(std::span<const int64_t> dims) {
  Shape s(dims.begin(), dims.end());
  const int64_t n = num_elements(s);
  if (n < 0) return make_error(ErrorCode::kInvalidArgument, "shape {} is invalid or too large", shape_str(s));
  return n;
}

}  // namespace

Result<Shape> resolve_reshape(const Shape& in, std::span<const int64_t> shape, bool allowzero) {
  EL_TRY(const int64_t count, product(in));
  Shape out(shape.begin(), shape.end());
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) return make_error(ErrorCode::kInvalidArgument, "reshape target {} has more than one -1", shape_str(out));
      infer_at = static_cast<int64_t>(i);
    } else if (out[i] == 0) {
      has_zero = true;
      if (!allowzero) {
        if (i >= in.size())
          return make_error(ErrorCode::kInvalidArgument, "reshape target {} copies dim {} (0) but the input {} has rank {}",
                            shape_str(out), i, shape_str(in), in.size());
        out[i] = in[i];
      }
    } else if (out[i] < 0) {
      return make_error(ErrorCode::kInvalidArgument, "reshape target {} has a negative dim other than -1", shape_str(out));
    }
  }
  if (allowzero && has_zero && infer_at >= 0)
    return make_error(ErrorCode::kInvalidArgument, "reshape target {} has both 0 and -1 with allowzero=1", shape_str(out));
  if (infer_at >= 0) {
    Shape known = out;
    known[infer_at] = 1;
    EL_TRY(const int64_t rest, product(known));
    if (rest == 0 || count % rest != 0)
      return make_error(ErrorCode::kInvalidArgument, "cannot infer the -1 in reshape target {} for input {} ({} elements)",
                        shape_str(Shape(shape.begin(), shape.end())), shape_str(in), count);
    out[infer_at] = count / rest;
  }
  EL_TRY(const int64_t out_count, product(out));
  if (out_count != count)
    return make_error(ErrorCode::kInvalidArgument, "cannot reshape {} ({} elements) to {} ({} elements)", shape_str(in), count,
                      shape_str(out), out_count);
  return out;
}

Result<Shape> resolve_flatten(const Shape& in, int64_t axis) {
  const auto rank = static_cast<int64_t>(in.size());
  if (axis < -rank || axis > rank)
    return make_error(ErrorCode::kInvalidArgument, "flatten axis {} out of range for rank {} (valid: {} to {})", axis, rank,
                      -rank, rank);
  if (axis < 0) axis += rank;
  EL_TRY(const int64_t outer, product(std::span(in).first(static_cast<size_t>(axis))));
  EL_TRY(const int64_t inner, product(std::span(in).subspan(static_cast<size_t>(axis))));
  return Shape{outer, inner};
}

Result<Shape> resolve_squeeze(const Shape& in, std::span<const int64_t> axes) {
  const auto rank = static_cast<int64_t>(in.size());
  EL_TRY(const std::vector<int64_t> list, onnx_axes(axes, rank, "squeeze axis"));
  std::vector<char> drop(in.size(), 0);
  for (int64_t a : list) {
    if (in[a] != 1)
      return make_error(ErrorCode::kInvalidArgument, "cannot squeeze axis {} of shape {}: its size is {}, not 1", a,
                        shape_str(in), in[a]);
    drop[a] = 1;
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!(list.empty() ? in[i] == 1 : drop[i] != 0)) out.push_back(in[i]);
  return out;
}

Result<Shape> resolve_unsqueeze(const Shape& in, std::span<const int64_t> axes) {
  const auto out_rank = static_cast<int64_t>(in.size() + axes.size());
  EL_TRY(const std::vector<int64_t> list, onnx_axes(axes, out_rank, "unsqueeze axis"));
  std::vector<char> inserted(static_cast<size_t>(out_rank), 0);
  for (int64_t a : list) inserted[a] = 1;
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(inserted[i] ? 1 : in[next++]);
  return out;
}

Result<SplitParams> resolve_split(const Shape& in, int64_t axis, std::span<const int64_t> split, size_t num_outputs) {
  const auto rank = static_cast<int64_t>(in.size());
  EL_TRY(const int64_t a, onnx_axis(axis, rank, "split axis"));
  const int64_t dim = in[a];
  SplitParams p{a, {}};
  if (split.empty()) {
    if (num_outputs == 0) return make_error(ErrorCode::kInvalidArgument, "split has no outputs");
    const auto n = static_cast<int64_t>(num_outputs);
    if (dim % n != 0)
      return make_error(ErrorCode::kInvalidArgument, "cannot split dim {} of size {} into {} equal parts; give `split` sizes",
                        a, dim, n);
    p.split.assign(num_outputs, dim / n);
    return p;
  }
  if (split.size() != num_outputs)
    return make_error(ErrorCode::kInvalidArgument, "split has {} sizes but {} outputs", split.size(), num_outputs);
  int64_t sum = 0;
  for (int64_t s : split) {
    if (s < 0 || s > dim) return make_error(ErrorCode::kInvalidArgument, "split size {} out of range for dim of size {}", s, dim);
    sum += s;  // each s <= dim and we stop once past dim: no overflow
    if (sum > dim) break;
  }
  if (sum != dim)
    return make_error(ErrorCode::kInvalidArgument, "split sizes must sum to the size of axis {} ({})", a, dim);
  p.split.assign(split.begin(), split.end());
  return p;
}

Result<SliceParams> resolve_slice(const Shape& in, std::span<const int64_t> starts, std::span<const int64_t> ends,
                                  std::span<const int64_t> axes, std::span<const int64_t> steps) {
  const auto rank = static_cast<int64_t>(in.size());
  if (starts.size() != ends.size())
    return make_error(ErrorCode::kInvalidArgument, "slice has {} starts but {} ends", starts.size(), ends.size());
  if (!axes.empty() && axes.size() != starts.size())
    return make_error(ErrorCode::kInvalidArgument, "slice has {} starts but {} axes", starts.size(), axes.size());
  if (!steps.empty() && steps.size() != starts.size())
    return make_error(ErrorCode::kInvalidArgument, "slice has {} starts but {} steps", starts.size(), steps.size());
  std::vector<int64_t> axis_list;
  if (axes.empty()) {
    if (static_cast<int64_t>(starts.size()) > rank)
      return make_error(ErrorCode::kInvalidArgument, "slice has {} starts for an input of rank {}", starts.size(), rank);
    for (size_t i = 0; i < starts.size(); ++i) axis_list.push_back(static_cast<int64_t>(i));
  } else {
    EL_TRY(axis_list, onnx_axes(axes, rank, "slice axis"));
  }
  SliceParams p;
  p.starts.assign(in.size(), 0);
  p.ends.assign(in.begin(), in.end());
  p.steps.assign(in.size(), 1);
  for (size_t i = 0; i < axis_list.size(); ++i) {
    const int64_t a = axis_list[i];
    const int64_t dim = in[a];
    const int64_t step = steps.empty() ? 1 : steps[i];
    if (step == 0) return make_error(ErrorCode::kInvalidArgument, "slice step for axis {} is 0", a);
    // ONNX uses INT64_MAX/INT64_MIN as "to the end": adding dim to a negative value cannot
    // overflow, and positive values are only ever clamped down.
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      // For an empty dim both bounds become -1: an empty slice.
      start = std::max<int64_t>(std::min<int64_t>(start, dim - 1), dim == 0 ? -1 : 0);
      end = std::clamp<int64_t>(end, -1, dim - 1);
    }
    p.starts[a] = start;
    p.ends[a] = end;
    p.steps[a] = step;
  }
  return p;
}

int64_t slice_extent(int64_t start, int64_t end, int64_t step) {
  // Unsigned distances: end - start may not fit in int64 for hostile values.
  if (step > 0) {
    if (end <= start) return 0;
    const uint64_t span = static_cast<uint64_t>(end) - static_cast<uint64_t>(start);
    return static_cast<int64_t>((span - 1) / static_cast<uint64_t>(step) + 1);
  }
  if (step == 0 || end >= start) return 0;
  const uint64_t span = static_cast<uint64_t>(start) - static_cast<uint64_t>(end);
  const uint64_t magnitude = static_cast<uint64_t>(-(step + 1)) + 1;  // |step| without overflow
  return static_cast<int64_t>((span - 1) / magnitude + 1);
}

Shape slice_output_shape(const SliceParams& p) {
  Shape out(p.starts.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = slice_extent(p.starts[i], p.ends[i], p.steps[i]);
  return out;
}

Result<ResizeParams> resolve_resize(const Shape& in, std::span<const float> scales, std::span<const int64_t> sizes) {
  const size_t rank = in.size();
  if (scales.empty() == sizes.empty())
    return make_error(ErrorCode::kInvalidArgument, "resize needs exactly one of scales and sizes (got {} scales, {} sizes)",
                      scales.size(), sizes.size());
  ResizeParams p;
  if (!scales.empty()) {
    if (scales.size() != rank)
      return make_error(ErrorCode::kInvalidArgument, "resize has {} scales for an input of rank {}", scales.size(), rank);
    for (size_t i = 0; i < rank; ++i) {
      const float s = scales[i];
      if (!std::isfinite(s) || s <= 0.f)
        return make_error(ErrorCode::kInvalidArgument, "resize scale {} for axis {} must be finite and > 0", s, i);
      const double out = std::floor(static_cast<double>(s) * static_cast<double>(in[i]));
      if (out > static_cast<double>(int64_t{1} << 40))
        return make_error(ErrorCode::kInvalidArgument, "resize scale {} makes axis {} too large", s, i);
      p.sizes.push_back(static_cast<int64_t>(out));
    }
    p.scales.assign(scales.begin(), scales.end());
    return p;
  }
  if (sizes.size() != rank)
    return make_error(ErrorCode::kInvalidArgument, "resize has {} sizes for an input of rank {}", sizes.size(), rank);
  for (size_t i = 0; i < rank; ++i) {
    if (sizes[i] < 0) return make_error(ErrorCode::kInvalidArgument, "resize size {} for axis {} is negative", sizes[i], i);
    if (in[i] == 0) {
      if (sizes[i] != 0)
        return make_error(ErrorCode::kInvalidArgument, "cannot resize axis {} of size 0 to size {}", i, sizes[i]);
      p.scales.push_back(1.f);
    } else {
      if (sizes[i] == 0)
        return make_error(ErrorCode::kInvalidArgument, "resize size for axis {} is 0: empty outputs are not supported", i);
      p.scales.push_back(static_cast<float>(static_cast<double>(sizes[i]) / static_cast<double>(in[i])));
    }
  }
  p.sizes.assign(sizes.begin(), sizes.end());
  return p;
}

}  // namespace edgeloop::model
