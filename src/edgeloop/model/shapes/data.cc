// Shape inference for the data ops (docs/ops.md).
//
// The data ops move stored values without looking at them, so they take any dtype whose elements
// are whole bytes (not i4). A quantized input must be per tensor, and every output must carry the
// input's quantization parameters: a copied value means the same real number only under the
// same scale and zero point.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "edgeloop/model/shape_inference.h"
#include "edgeloop/model/shapes/data_params.h"

namespace edgeloop::model {

namespace {

// Every attribute of docs/ops.md is present after import, so a missing one or one of the wrong
// type is a malformed node, not a default.
template <class T>
Result<T> attr(const ShapeContext& ctx, std::string_view name, std::string_view type) {
  const AttrValue* v = ctx.node.attrs.find(name);
  if (v == nullptr) return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' ({}) is missing", name, type);
  if (const T* t = std::get_if<T>(v)) return *t;
  return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' must be {}", name, type);
}
Result<int64_t> int_attr(const ShapeContext& ctx, std::string_view name) { return attr<int64_t>(ctx, name, "an int"); }
Result<float> float_attr(const ShapeContext& ctx, std::string_view name) { return attr<float>(ctx, name, "a float"); }
Result<std::string> string_attr(const ShapeContext& ctx, std::string_view name) {
  return attr<std::string>(ctx, name, "a string");
}
Result<std::vector<int64_t>> ints_attr(const ShapeContext& ctx, std::string_view name) {
  return attr<std::vector<int64_t>>(ctx, name, "a list of ints");
}
Result<std::vector<float>> floats_attr(const ShapeContext& ctx, std::string_view name) {
  return attr<std::vector<float>>(ctx, name, "a list of floats");
}

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

// The 'axis' attribute, stored non-negative and inside [0, rank).
Result<int64_t> axis_attr(const ShapeContext& ctx, size_t rank) {
  EL_TRY(const int64_t axis, int_attr(ctx, "axis"));
  if (axis < 0 || axis >= static_cast<int64_t>(rank))
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'axis' = {} out of range for rank {} (stored axes are in [0, rank))",
                    axis, rank);
  return axis;
}

// Input i is present, has byte-sized elements and at most per-tensor quantization.
Status expect_movable(const ShapeContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return ctx.fail(ErrorCode::kInvalidArgument, "input {} is missing", i);
  if (t->dtype == DType::kI4)
    return ctx.fail(ErrorCode::kUnsupported,
                    "input {} '{}' has dtype i4, which data ops do not support (two values share a byte); "
                    "keep this tensor in i8",
                    i, t->name);
  if (!t->quant.empty() && !t->quant.per_tensor())
    return ctx.fail(ErrorCode::kUnsupported,
                    "input {} '{}' is quantized per channel or per group; data ops need per-tensor quantization", i,
                    t->name);
  return ok();
}

// Output i copies values of `in`, so it must have the same quantization.
Status expect_same_quant(const ShapeContext& ctx, const Tensor& in, size_t out) {
  const Tensor& o = *ctx.outputs[out];
  if (o.quant == in.quant) return ok();
  auto describe = [](const QuantParams& q) {
    if (q.empty()) return std::string("none");
    return fmt::format("scale {} zero point {}", q.scales.empty() ? 0.f : q.scales[0], q.zero_point(0));
  };
  return ctx.fail(ErrorCode::kUnsupported,
                  "output {} '{}' has quantization ({}) but input '{}' has ({}); this op copies stored values, so "
                  "give the output the input's quantization parameters",
                  out, o.name, describe(o.quant), in.name, describe(in.quant));
}

bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

Status infer_Reshape(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  EL_TRY(Shape shape, ints_attr(ctx, "shape"));
  for (int64_t d : shape)
    if (d < 0)
      return ctx.fail(ErrorCode::kInvalidArgument,
                      "attribute 'shape' {} must be fully resolved (no -1; the importer resolves 0 and -1)", shape_str(shape));
  const int64_t count = num_elements(shape);
  if (count < 0) return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'shape' {} is too large", shape_str(shape));
  if (count != x.elements())
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'shape' {} has {} elements but input '{}' {} has {}",
                    shape_str(shape), count, x.name, shape_str(x.shape), x.elements());
  EL_CHECK(expect_same_quant(ctx, x, 0));
  ctx.set_output(0, x.dtype, std::move(shape));
  return ok();
}

Status infer_Transpose(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  EL_TRY(const std::vector<int64_t> perm, ints_attr(ctx, "perm"));
  const size_t rank = x.shape.size();
  if (perm.size() != rank)
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'perm' {} has {} entries but input '{}' has rank {}",
                    ints_str(perm), perm.size(), x.name, rank);
  std::vector<char> seen(rank, 0);
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t p = perm[i];
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p])
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'perm' {} is not a permutation of 0..{}", ints_str(perm),
                      static_cast<int64_t>(rank) - 1);
    seen[p] = 1;
    out[i] = x.shape[p];
  }
  EL_CHECK(expect_same_quant(ctx, x, 0));
  ctx.set_output(0, x.dtype, std::move(out));
  return ok();
}

Status infer_Concat(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, std::numeric_limits<size_t>::max(), 1, 1));
  for (size_t i = 0; i < ctx.inputs.size(); ++i) EL_CHECK(expect_movable(ctx, i));
  const Tensor& first = *ctx.input(0);
  EL_TRY(const int64_t axis, axis_attr(ctx, first.shape.size()));
  Shape out = first.shape;
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const Tensor& t = *ctx.input(i);
    if (t.dtype != first.dtype)
      return ctx.fail(ErrorCode::kInvalidArgument, "input {} '{}' has dtype {} but input 0 '{}' has {}", i, t.name,
                      dtype_name(t.dtype), first.name, dtype_name(first.dtype));
    if (t.quant != first.quant)
      return ctx.fail(ErrorCode::kUnsupported,
                      "input {} '{}' is quantized differently from input 0 '{}'; concat copies stored values, so all "
                      "inputs need the same quantization",
                      i, t.name, first.name);
    bool same = t.shape.size() == first.shape.size();
    for (size_t d = 0; same && d < t.shape.size(); ++d)
      same = static_cast<int64_t>(d) == axis || t.shape[d] == first.shape[d];
    if (!same)
      return ctx.fail(ErrorCode::kInvalidArgument,
                      "input {} '{}' has shape {}, which does not match input 0 '{}' {} outside axis {}", i, t.name,
                      shape_str(t.shape), first.name, shape_str(first.shape), axis);
    if (!checked_add(out[axis], t.shape[axis], &out[axis]))
      return ctx.fail(ErrorCode::kInvalidArgument, "concatenated axis {} is too large", axis);
  }
  EL_CHECK(expect_same_quant(ctx, first, 0));
  ctx.set_output(0, first.dtype, std::move(out));
  return ok();
}

Status infer_Split(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, std::numeric_limits<size_t>::max()));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  EL_TRY(const int64_t axis, axis_attr(ctx, x.shape.size()));
  EL_TRY(const std::vector<int64_t> split, ints_attr(ctx, "split"));
  if (split.size() != ctx.outputs.size())
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'split' {} has {} sizes but the node has {} outputs",
                    ints_str(split), split.size(), ctx.outputs.size());
  int64_t sum = 0;
  for (int64_t s : split)
    if (s < 0 || !checked_add(sum, s, &sum))
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'split' {} has a negative or too large size", ints_str(split));
  if (sum != x.shape[axis])
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'split' {} sums to {} but axis {} of input '{}' {} has size {}",
                    ints_str(split), sum, axis, x.name, shape_str(x.shape), x.shape[axis]);
  for (size_t i = 0; i < split.size(); ++i) {
    EL_CHECK(expect_same_quant(ctx, x, i));
    Shape out = x.shape;
    out[axis] = split[i];
    ctx.set_output(i, x.dtype, std::move(out));
  }
  return ok();
}

Status infer_Slice(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  const size_t rank = x.shape.size();
  SliceParams p;
  EL_TRY(p.starts, ints_attr(ctx, "starts"));
  EL_TRY(p.ends, ints_attr(ctx, "ends"));
  EL_TRY(p.steps, ints_attr(ctx, "steps"));
  if (p.starts.size() != rank || p.ends.size() != rank || p.steps.size() != rank)
    return ctx.fail(ErrorCode::kInvalidArgument,
                    "attributes 'starts', 'ends', 'steps' need one entry per dim of input '{}' (rank {}), got {}, {}, {}",
                    x.name, rank, p.starts.size(), p.ends.size(), p.steps.size());
  // The clamped ranges guarantee every index start + k*step (k < extent) is inside the dim.
  for (size_t i = 0; i < rank; ++i) {
    const int64_t dim = x.shape[i], step = p.steps[i];
    if (step == 0) return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'steps' has 0 for axis {}", i);
    const int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    for (auto [name, v] : {std::pair{"starts", p.starts[i]}, std::pair{"ends", p.ends[i]}})
      if (v < lo || v > hi)
        return ctx.fail(ErrorCode::kInvalidArgument,
                        "attribute '{}' = {} for axis {} (size {}, step {}) is outside [{}, {}]; the importer clamps "
                        "starts and ends as ONNX does",
                        name, v, i, dim, step, lo, hi);
  }
  EL_CHECK(expect_same_quant(ctx, x, 0));
  ctx.set_output(0, x.dtype, slice_output_shape(p));
  return ok();
}

Status infer_Pad(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  const size_t rank = x.shape.size();
  EL_TRY(const std::string mode, string_attr(ctx, "mode"));
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return ctx.fail(ErrorCode::kUnsupported, "mode '{}' is not supported (supported: constant, reflect, edge)", mode);
  EL_TRY(const std::vector<int64_t> pads, ints_attr(ctx, "pads"));
  EL_TRY(const float value, float_attr(ctx, "value"));
  if (pads.size() != 2 * rank)
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'pads' {} needs 2 x rank = {} entries (begins, then ends)",
                    ints_str(pads), 2 * rank);
  // The constant must be representable in a plain integer dtype; a quantized input quantizes it.
  const bool integer = x.dtype == DType::kI8 || x.dtype == DType::kU8 || x.dtype == DType::kI32 || x.dtype == DType::kI64;
  if (mode == "constant" && integer && x.quant.empty()) {
    const double lo = x.dtype == DType::kI8 ? -128.0 : x.dtype == DType::kU8 ? 0.0 : x.dtype == DType::kI32 ? -2147483648.0 : -9.2e18;
    const double hi = x.dtype == DType::kI8 ? 127.0 : x.dtype == DType::kU8 ? 255.0 : x.dtype == DType::kI32 ? 2147483647.0 : 9.2e18;
    if (!std::isfinite(value) || std::trunc(value) != value || value < lo || value > hi)
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'value' {} is not a {} value", value, dtype_name(x.dtype));
  }
  constexpr int64_t kMaxPad = int64_t{1} << 40;
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t begin = pads[i], end = pads[i + rank], dim = x.shape[i];
    if (begin < -kMaxPad || begin > kMaxPad || end < -kMaxPad || end > kMaxPad)
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'pads' {} has a value beyond +-2^40", ints_str(pads));
    const int64_t kept = dim - std::max<int64_t>(0, -begin) - std::max<int64_t>(0, -end);
    if (kept < 0)
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'pads' crops {} from axis {} of size {}",
                      std::max<int64_t>(0, -begin) + std::max<int64_t>(0, -end), i, dim);
    if (kept == 0 && mode != "constant" && (begin > 0 || end > 0))
      return ctx.fail(ErrorCode::kInvalidArgument, "mode '{}' cannot pad axis {}: no values are left to copy from", mode, i);
    out[i] = dim + begin + end;
  }
  EL_CHECK(expect_same_quant(ctx, x, 0));
  ctx.set_output(0, x.dtype, std::move(out));
  return ok();
}

Status infer_Resize(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  const Tensor& x = *ctx.input(0);
  const size_t rank = x.shape.size();
  EL_TRY(const std::string mode, string_attr(ctx, "mode"));
  EL_TRY(const std::string ctm, string_attr(ctx, "coordinate_transformation_mode"));
  EL_TRY(const std::string nearest_mode, string_attr(ctx, "nearest_mode"));
  EL_TRY(const std::vector<float> scales, floats_attr(ctx, "scales"));
  EL_TRY(const std::vector<int64_t> sizes, ints_attr(ctx, "sizes"));
  EL_TRY(const float cubic_coeff_a, float_attr(ctx, "cubic_coeff_a"));
  EL_TRY(const int64_t exclude_outside, int_attr(ctx, "exclude_outside"));
  EL_TRY([[maybe_unused]] const float extrapolation_value, float_attr(ctx, "extrapolation_value"));

  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return ctx.fail(ErrorCode::kUnsupported, "mode '{}' is not supported (supported: nearest, linear, cubic)", mode);
  if (ctm == "tf_crop_and_resize")
    return ctx.fail(ErrorCode::kUnsupported, "coordinate_transformation_mode tf_crop_and_resize is not supported");
  if (ctm != "half_pixel" && ctm != "pytorch_half_pixel" && ctm != "align_corners" && ctm != "asymmetric" &&
      ctm != "tf_half_pixel_for_nn")
    return ctx.fail(ErrorCode::kUnsupported,
                    "coordinate_transformation_mode '{}' is not supported (supported: half_pixel, pytorch_half_pixel, "
                    "align_corners, asymmetric, tf_half_pixel_for_nn)",
                    ctm);
  if (nearest_mode != "round_prefer_floor" && nearest_mode != "round_prefer_ceil" && nearest_mode != "floor" &&
      nearest_mode != "ceil")
    return ctx.fail(ErrorCode::kUnsupported,
                    "nearest_mode '{}' is not supported (supported: round_prefer_floor, round_prefer_ceil, floor, ceil)",
                    nearest_mode);
  if (exclude_outside != 0 && exclude_outside != 1)
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'exclude_outside' must be 0 or 1, got {}", exclude_outside);
  if (!std::isfinite(cubic_coeff_a))
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'cubic_coeff_a' must be finite");
  if (mode != "nearest" && x.dtype != DType::kF32)
    return ctx.fail(ErrorCode::kUnsupported, "mode {} supports f32 input only, input 0 '{}' has dtype {}", mode, x.name,
                    dtype_name(x.dtype));
  if (scales.size() != rank || sizes.size() != rank)
    return ctx.fail(ErrorCode::kInvalidArgument,
                    "attributes 'scales' and 'sizes' need one entry per dim of input '{}' (rank {}), got {} and {}", x.name,
                    rank, scales.size(), sizes.size());
  for (size_t i = 0; i < rank; ++i) {
    const float s = scales[i];
    const int64_t n = sizes[i];
    if (!std::isfinite(s) || s <= 0.f)
      return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'scales' has {} for axis {}; scales must be finite and > 0", s, i);
    // sizes is floor(dim * scale) when ONNX gave scales, and scale = sizes / dim when it gave
    // sizes; float rounding of that scale may put dim * scale a hair below sizes.
    const double scaled = static_cast<double>(x.shape[i]) * static_cast<double>(s);
    const double size = static_cast<double>(n);
    if (n < 0 || !(scaled >= size - 1e-6 * std::max(1.0, size) && scaled < size + 1.0))
      return ctx.fail(ErrorCode::kInvalidArgument,
                      "attribute 'sizes' has {} for axis {}, which does not match dim {} x scale {} (sizes must be "
                      "floor(dim x scale), or scale = sizes / dim)",
                      n, i, x.shape[i], s);
  }
  EL_CHECK(expect_same_quant(ctx, x, 0));
  ctx.set_output(0, x.dtype, sizes);
  return ok();
}

Status infer_Gather(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 2, 1, 1));
  EL_CHECK(expect_movable(ctx, 0));
  EL_CHECK(ctx.expect_dtype(1, {DType::kI32, DType::kI64}));
  const Tensor& data = *ctx.input(0);
  const Tensor& indices = *ctx.input(1);
  EL_TRY(const int64_t axis, axis_attr(ctx, data.shape.size()));
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  EL_CHECK(expect_same_quant(ctx, data, 0));
  ctx.set_output(0, data.dtype, std::move(out));
  return ok();
}

}  // namespace edgeloop::model
