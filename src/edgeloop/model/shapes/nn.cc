// Shape inference for the nn ops (docs/ops.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {
namespace {

using enum ErrorCode;

// Conv, ConvTranspose and the windowed pools take (N, C, D1[, D2[, D3]]).
constexpr size_t kMaxSpatialDims = 3;
// Kernel sizes, strides, dilations and pads above this are refused: no real model comes near it,
// and it keeps every extent computation below far from int64 overflow.
constexpr int64_t kMaxWindowValue = int64_t{1} << 31;

// ---- attributes: every attribute docs/ops.md lists is present after import ----

Result<const AttrValue*> required_attr(const ShapeContext& ctx, std::string_view name) {
  const AttrValue* v = ctx.node.attrs.find(name);
  if (v == nullptr)
    return ctx.fail(kInvalidArgument, "attribute '{}' is missing (the importer fills every attribute, docs/ops.md)", name);
  return v;
}

Result<int64_t> int_attr(const ShapeContext& ctx, std::string_view name) {
  EL_TRY(const AttrValue* v, required_attr(ctx, name));
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  return ctx.fail(kInvalidArgument, "attribute '{}' must be an int", name);
}

// An int attribute that is a flag: 0 or 1.
Result<bool> flag_attr(const ShapeContext& ctx, std::string_view name) {
  EL_TRY(const int64_t v, int_attr(ctx, name));
  if (v != 0 && v != 1) return ctx.fail(kInvalidArgument, "attribute '{}' is {}, expected 0 or 1", name, v);
  return v == 1;
}

Result<float> float_attr(const ShapeContext& ctx, std::string_view name) {
  EL_TRY(const AttrValue* v, required_attr(ctx, name));
  if (const auto* f = std::get_if<float>(v)) return *f;
  return ctx.fail(kInvalidArgument, "attribute '{}' must be a float", name);
}

// An ints attribute with exactly `count` values, each in [min_value, kMaxWindowValue].
Result<std::vector<int64_t>> window_ints_attr(const ShapeContext& ctx, std::string_view name, size_t count,
                                              int64_t min_value) {
  EL_TRY(const AttrValue* v, required_attr(ctx, name));
  const auto* ints = std::get_if<std::vector<int64_t>>(v);
  if (ints == nullptr) return ctx.fail(kInvalidArgument, "attribute '{}' must be a list of ints", name);
  if (ints->size() != count)
    return ctx.fail(kInvalidArgument, "attribute '{}' has {} values, expected {}", name, ints->size(), count);
  for (int64_t x : *ints)
    if (x < min_value || x > kMaxWindowValue)
      return ctx.fail(kInvalidArgument, "attribute '{}' has value {}, expected {} to {}", name, x, min_value,
                      kMaxWindowValue);
  return *ints;
}

// The importer turns ONNX's auto_pad into explicit pads; a node that still asks for it would be
// computed with the wrong padding.
Status expect_explicit_pads(const ShapeContext& ctx) {
  const AttrValue* v = ctx.node.attrs.find("auto_pad");
  if (v == nullptr) return ok();
  const auto* s = std::get_if<std::string>(v);
  if (s != nullptr && (s->empty() || *s == "NOTSET")) return ok();
  return ctx.fail(kUnsupported, "attribute 'auto_pad' must be resolved into explicit 'pads' at import");
}

// ONNX's optional 'kernel_shape' on Conv/ConvTranspose must agree with W.
Status expect_kernel_shape_matches(const ShapeContext& ctx, const std::vector<int64_t>& kernel) {
  if (!ctx.node.attrs.has("kernel_shape")) return ok();
  const auto* ks = std::get_if<std::vector<int64_t>>(ctx.node.attrs.find("kernel_shape"));
  if (ks == nullptr || *ks != kernel)
    return ctx.fail(kInvalidArgument, "attribute 'kernel_shape' disagrees with the kernel {} of W", shape_str(kernel));
  return ok();
}

// ---- inputs ----

// X is (N, C, D1[, D2[, D3]]); returns the number of spatial dims.
Result<size_t> spatial_rank(const ShapeContext& ctx, const Tensor& x) {
  const size_t rank = x.shape.size();
  if (rank < 3)
    return ctx.fail(kInvalidArgument, "input '{}' has shape {}, expected (N, C, D1, ...) with at least one spatial dim",
                    x.name, shape_str(x.shape));
  if (rank > 2 + kMaxSpatialDims)
    return ctx.fail(kUnsupported, "input '{}' has {} spatial dims; 1 to {} are supported", x.name, rank - 2,
                    kMaxSpatialDims);
  return rank - 2;
}

// Quantization of a quantized tensor: per tensor, or per channel along `channel_axis` when it
// is >= 0. `shape` is the tensor's (for an output, the one just inferred).
Status expect_quant(const ShapeContext& ctx, const Tensor& t, std::string_view role, const Shape& shape,
                    int64_t channel_axis) {
  const QuantParams& q = t.quant;
  const std::string supported =
      channel_axis >= 0 ? fmt::format("per tensor or per channel along axis {}", channel_axis) : "per tensor";
  if (q.empty())
    return ctx.fail(kInvalidArgument, "{} '{}' is {} without quantization parameters; supported: {}", role, t.name,
                    dtype_name(t.dtype), supported);
  if (q.block_size > 0)
    return ctx.fail(kUnsupported, "{} '{}' is quantized block-wise; supported: {}", role, t.name, supported);
  if (!q.per_tensor() && q.axis != channel_axis)
    return ctx.fail(kUnsupported, "{} '{}' is quantized per channel along axis {}; supported: {}", role, t.name, q.axis,
                    supported);
  if (auto s = validate_quant(q, t.dtype, shape); !s)
    return ctx.fail(kInvalidArgument, "{} '{}': {}", role, t.name, s.error().message);
  return ok();
}

// Conv, Gemm and MatMul come in three forms, chosen by the dtypes of their first two inputs
// (docs/ops.md):
//   float: X, W, [B] f32 → Y f32
//   W8A8:  X u8/i8 per tensor, W u8/i8 per tensor or per channel along `weight_channel_axis`
//          (-1: per tensor only), [B] i32 with zero point 0 → Y u8/i8 per tensor, Y's dtype as
//          declared. Attribute 'requantize': absent or "float" (ONNX QLinear semantics) or
//          "fixed_point" (docs/quantization.md).
//   W4A8:  X i8 per tensor, W i4 constant per group (axis 0, block axis 1, zero points 0), [B] f32
//          → Y i8 per tensor (Conv and Gemm only). 'requantize' absent or "fixed_point".
// linear_form checks the inputs and picks Y's dtype; set_linear_output checks Y's quantization
// once its shape is known.
enum class LinearKind { kFloat, kW8A8, kW4A8 };

struct LinearForm {
  LinearKind kind = LinearKind::kFloat;
  DType output = DType::kF32;
  bool fixed_point = false;  // W8A8 with requantize = "fixed_point"
};

struct LinearRoles {
  std::string_view x, w, b;
};

// The 'requantize' attribute: "" when absent, else "float" or "fixed_point".
Result<std::string> requantize_attr(const ShapeContext& ctx) {
  const AttrValue* v = ctx.node.attrs.find("requantize");
  if (v == nullptr) return std::string{};
  const auto* s = std::get_if<std::string>(v);
  if (s == nullptr) return ctx.fail(kInvalidArgument, "attribute 'requantize' must be a string");
  if (*s != "float" && *s != "fixed_point")
    return ctx.fail(kInvalidArgument, "attribute 'requantize' is '{}'; expected \"float\" or \"fixed_point\"", *s);
  return *s;
}

// A per-group quantized i4 weight, as the W4A8 form needs it.
Status expect_group_quant(const ShapeContext& ctx, const Tensor& w, std::string_view role) {
  const QuantParams& q = w.quant;
  if (!q.per_group())
    return ctx.fail(kUnsupported,
                    "{} '{}' is i4 {}; the W4A8 form needs per-group quantization (axis 0, block axis 1, block size > 0)",
                    role, w.name, q.empty() ? "without quantization parameters" : "quantized per tensor or per channel");
  if (auto s = validate_quant(q, w.dtype, w.shape); !s)
    return ctx.fail(kInvalidArgument, "{} '{}': {}", role, w.name, s.error().message);
  if (std::any_of(q.zero_points.begin(), q.zero_points.end(), [](int32_t z) { return z != 0; }))
    return ctx.fail(kUnsupported, "{} '{}' has a non-zero zero point; the W4A8 form needs zero points 0", role, w.name);
  return ok();
}

Result<LinearForm> linear_form(const ShapeContext& ctx, LinearRoles roles, int64_t weight_channel_axis,
                               bool allow_w4) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor* b = ctx.input(2);
  EL_TRY(const std::string requantize, requantize_attr(ctx));
  if (x.dtype == DType::kF32) {
    EL_CHECK(ctx.expect_dtype(1, {DType::kF32}));
    if (b != nullptr) EL_CHECK(ctx.expect_dtype(2, {DType::kF32}));
    if (!requantize.empty())
      return ctx.fail(kInvalidArgument, "attribute 'requantize' applies only to the quantized forms (u8/i8 {})",
                      roles.x);
    return LinearForm{LinearKind::kFloat, DType::kF32, false};
  }
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32, DType::kU8, DType::kI8}));
  if (allow_w4) {
    EL_CHECK(ctx.expect_dtype(1, {DType::kU8, DType::kI8, DType::kI4}));
  } else {
    EL_CHECK(ctx.expect_dtype(1, {DType::kU8, DType::kI8}));
  }
  EL_CHECK(expect_quant(ctx, x, roles.x, x.shape, -1));
  const Tensor& y = *ctx.outputs[0];
  if (w.dtype == DType::kI4) {
    if (x.dtype != DType::kI8)
      return ctx.fail(kUnsupported, "{} '{}' is {}; the W4A8 form (i4 {}) needs i8", roles.x, x.name,
                      dtype_name(x.dtype), roles.w);
    EL_CHECK(ctx.expect_constant(1));
    EL_CHECK(expect_group_quant(ctx, w, roles.w));
    if (b != nullptr) {
      if (b->dtype != DType::kF32 || !b->quant.empty())
        return ctx.fail(kUnsupported, "{} '{}' is {}{}; the W4A8 form takes an f32 bias", roles.b, b->name,
                        dtype_name(b->dtype), b->quant.empty() ? "" : " with quantization parameters");
    }
    if (requantize == "float")
      return ctx.fail(kInvalidArgument,
                      "attribute 'requantize' is 'float'; the W4A8 form has one arithmetic: leave it out or use "
                      "\"fixed_point\"");
    if (y.dtype != DType::kI8)
      return ctx.fail(kInvalidArgument,
                      "output '{}' is declared {}; the W4A8 form's output must be declared i8 with quantization "
                      "parameters",
                      y.name, dtype_name(y.dtype));
    return LinearForm{LinearKind::kW4A8, DType::kI8, false};
  }
  EL_CHECK(expect_quant(ctx, w, roles.w, w.shape, weight_channel_axis));
  if (b != nullptr) {
    EL_CHECK(ctx.expect_dtype(2, {DType::kI32}));
    if (std::any_of(b->quant.zero_points.begin(), b->quant.zero_points.end(), [](int32_t z) { return z != 0; }))
      return ctx.fail(kUnsupported, "{} '{}' has a non-zero zero point; a quantized bias has zero point 0", roles.b,
                      b->name);
  }
  if (y.dtype != DType::kU8 && y.dtype != DType::kI8)
    return ctx.fail(kInvalidArgument,
                    "output '{}' is declared {}; with {} inputs it must be declared u8 or i8 with quantization "
                    "parameters",
                    y.name, dtype_name(y.dtype), dtype_name(x.dtype));
  return LinearForm{LinearKind::kW8A8, y.dtype, requantize == "fixed_point"};
}

Status set_linear_output(const ShapeContext& ctx, const LinearForm& form, Shape shape) {
  if (form.kind != LinearKind::kFloat) EL_CHECK(expect_quant(ctx, *ctx.outputs[0], "output", shape, -1));
  if (form.fixed_point) {
    // The kernel's multipliers, refused here rather than when the model runs.
    const QuantParams& x = ctx.input(0)->quant;
    const QuantParams& w = ctx.input(1)->quant;
    const QuantParams& y = ctx.outputs[0]->quant;
    for (size_t c = 0; c < w.scales.size(); ++c) {
      const double m = double{x.scales[0]} * double{w.scales[c]} / double{y.scales[0]};
      if (!fits_fixed_point_multiplier(m))
        return ctx.fail(kUnsupported,
                        "requantization multiplier {} (input scale × weight scale [{}] / output scale) is too large "
                        "for requantize \"fixed_point\"; it must be below 2^30",
                        m, c);
    }
  }
  ctx.set_output(0, form.output, std::move(shape));
  return ok();
}

// ---- window geometry ----

struct WindowAttrs {
  std::vector<int64_t> strides, dilations, pads;  // pads: n begins, then n ends
};

// Reads strides, pads and (when `has_dilations`) dilations for n spatial dims; dilations default to 1.
Result<WindowAttrs> window_attrs(const ShapeContext& ctx, size_t n, bool has_dilations) {
  WindowAttrs a;
  EL_TRY(a.strides, window_ints_attr(ctx, "strides", n, 1));
  EL_TRY(a.pads, window_ints_attr(ctx, "pads", 2 * n, 0));
  if (has_dilations) {
    EL_TRY(a.dilations, window_ints_attr(ctx, "dilations", n, 1));
  } else {
    a.dilations.assign(n, 1);
  }
  return a;
}

// Output extent of a window of `kernel` taps sliding over spatial axis `axis` (the ONNX and
// onnxruntime rule): floor (or ceil) of (padded input - window span) / stride, plus one; with
// ceil_mode, a last window that would start in the end padding is dropped.
Result<int64_t> window_output_extent(const ShapeContext& ctx, size_t axis, int64_t in, int64_t kernel,
                                     const WindowAttrs& a, size_t n, bool ceil_mode) {
  const int64_t stride = a.strides[axis], pad_begin = a.pads[axis], pad_end = a.pads[axis + n];
  const int64_t span = (kernel - 1) * a.dilations[axis] + 1;
  const int64_t padded = in + pad_begin + pad_end;
  if (padded < span)
    return ctx.fail(kInvalidArgument, "spatial dim {}: the window spans {} but the padded input has only {}", axis,
                    span, padded);
  int64_t out = (padded - span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

// The spatial dims of W (dims 2...), each a kernel extent in [1, kMaxWindowValue].
Result<std::vector<int64_t>> kernel_of(const ShapeContext& ctx, const Tensor& w) {
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  for (int64_t k : kernel)
    if (k < 1 || k > kMaxWindowValue)
      return ctx.fail(kInvalidArgument, "W '{}' has shape {}: kernel extents must be 1 to {}", w.name,
                      shape_str(w.shape), kMaxWindowValue);
  return kernel;
}

// Shared checks of Conv and ConvTranspose: X (N, C, D...), W of the same rank, group, window attributes.
struct ConvCommon {
  size_t n = 0;  // spatial dims
  int64_t group = 1;
  std::vector<int64_t> kernel;
  WindowAttrs attrs;
};

Result<ConvCommon> conv_common(const ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 3, 1, 1));
  EL_CHECK(expect_explicit_pads(ctx));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  ConvCommon c;
  EL_TRY(c.n, spatial_rank(ctx, x));
  if (w.shape.size() != x.shape.size())
    return ctx.fail(kInvalidArgument, "W '{}' has shape {}, expected rank {} like X {}", w.name, shape_str(w.shape),
                    x.shape.size(), shape_str(x.shape));
  EL_TRY(c.group, int_attr(ctx, "group"));
  if (c.group < 1) return ctx.fail(kInvalidArgument, "attribute 'group' is {}, expected >= 1", c.group);
  EL_TRY(c.kernel, kernel_of(ctx, w));
  EL_CHECK(expect_kernel_shape_matches(ctx, c.kernel));
  EL_TRY(c.attrs, window_attrs(ctx, c.n, true));
  return c;
}

Status expect_bias(const ShapeContext& ctx, int64_t out_channels) {
  const Tensor* b = ctx.input(2);
  if (b != nullptr && b->shape != Shape{out_channels})
    return ctx.fail(kInvalidArgument, "B '{}' has shape {}, expected [{}] (one per output channel)", b->name,
                    shape_str(b->shape), out_channels);
  return ok();
}

// MaxPool and AveragePool.
Status infer_window_pool(ShapeContext& ctx, bool is_max) {
  if (is_max && ctx.outputs.size() == 2)
    return ctx.fail(kUnsupported, "the optional Indices output is not supported; use MaxPool with one output");
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(expect_explicit_pads(ctx));
  const Tensor& x = *ctx.input(0);
  if (is_max) {
    EL_CHECK(ctx.expect_dtype(0, {DType::kF32, DType::kU8, DType::kI8}));
  } else {
    EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  }
  EL_TRY(const size_t n, spatial_rank(ctx, x));
  EL_TRY(const std::vector<int64_t> kernel, window_ints_attr(ctx, "kernel_shape", n, 1));
  EL_TRY(const WindowAttrs a, window_attrs(ctx, n, is_max));
  EL_TRY(const bool ceil_mode, flag_attr(ctx, "ceil_mode"));
  if (!is_max) {
    EL_CHECK(flag_attr(ctx, "count_include_pad"));
    // ONNX added dilations to AveragePool in opset 19; the reference does not implement them.
    const std::vector<int64_t> dilations = ctx.node.attrs.get_ints("dilations", a.dilations);
    if (dilations != a.dilations)
      return ctx.fail(kUnsupported, "attribute 'dilations' {} is not supported; AveragePool supports dilations of 1",
                      shape_str(dilations));
  }
  if (is_max && ctx.node.attrs.get_int("storage_order", 0) != 0)
    return ctx.fail(kUnsupported, "attribute 'storage_order' 1 (column-major indices) is not supported");
  // As in onnxruntime: a window never lies entirely in the padding.
  for (size_t d = 0; d < n; ++d)
    if (a.pads[d] >= kernel[d] || a.pads[d + n] >= kernel[d])
      return ctx.fail(kUnsupported, "pads {} must be smaller than kernel_shape {} on every spatial dim",
                      shape_str(a.pads), shape_str(kernel));
  Shape out{x.shape[0], x.shape[1]};
  for (size_t d = 0; d < n; ++d) {
    EL_TRY(const int64_t extent, window_output_extent(ctx, d, x.shape[d + 2], kernel[d], a, n, ceil_mode));
    out.push_back(extent);
  }
  // Max commutes with the (monotonic) dequantization only when both sides share parameters.
  if (x.dtype != DType::kF32 && ctx.outputs[0]->quant != x.quant)
    return ctx.fail(kUnsupported, "output '{}' must have the same quantization parameters as input '{}'",
                    ctx.outputs[0]->name, x.name);
  ctx.set_output(0, x.dtype, std::move(out));
  return ok();
}

// GlobalAveragePool also has a quantized form: X i8/u8 per tensor → Y of X's dtype per tensor.
Status infer_global_pool(ShapeContext& ctx, bool is_average) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  const Tensor& x = *ctx.input(0);
  const bool quantized = is_average && (x.dtype == DType::kI8 || x.dtype == DType::kU8) && !x.quant.empty();
  if (!quantized) EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  if (x.shape.size() < 3)
    return ctx.fail(kInvalidArgument, "input '{}' has shape {}, expected (N, C, D1, ...)", x.name, shape_str(x.shape));
  Shape out(x.shape.size(), 1);
  out[0] = x.shape[0];
  out[1] = x.shape[1];
  if (quantized) {
    EL_CHECK(expect_quant(ctx, x, "input", x.shape, -1));
    const Tensor& y = *ctx.outputs[0];
    if (y.dtype != x.dtype)
      return ctx.fail(kInvalidArgument, "output '{}' is declared {}; the quantized form of {} input gives {}", y.name,
                      dtype_name(y.dtype), dtype_name(x.dtype), dtype_name(x.dtype));
    EL_CHECK(expect_quant(ctx, y, "output", out, -1));
    int64_t plane = 1;
    for (size_t d = 2; d < x.shape.size(); ++d) plane *= x.shape[d];
    const double m = double{x.quant.scales[0]} / (double{y.quant.scales[0]} * static_cast<double>(plane));
    if (plane > 0 && !fits_fixed_point_multiplier(m))
      return ctx.fail(kUnsupported, "requantization multiplier {} (input scale / (output scale · {})) must be below 2^30",
                      m, plane);
  }
  ctx.set_output(0, x.dtype, std::move(out));
  return ok();
}

}  // namespace

Status infer_Conv(ShapeContext& ctx) {
  EL_TRY(const ConvCommon c, conv_common(ctx));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const int64_t channels = x.shape[1], maps = w.shape[0];
  if (channels % c.group != 0 || maps % c.group != 0)
    return ctx.fail(kInvalidArgument, "group {} must divide both the input channels {} and the output channels {}",
                    c.group, channels, maps);
  if (w.shape[1] * c.group != channels)
    return ctx.fail(kInvalidArgument, "W '{}' {} has {} input channels per group, X '{}' {} has {} in {} groups",
                    w.name, shape_str(w.shape), w.shape[1], x.name, shape_str(x.shape), channels, c.group);
  EL_CHECK(expect_bias(ctx, maps));
  EL_TRY(const LinearForm form, linear_form(ctx, {"X", "W", "B"}, 0, true));
  Shape out{x.shape[0], maps};
  for (size_t d = 0; d < c.n; ++d) {
    EL_TRY(const int64_t extent, window_output_extent(ctx, d, x.shape[d + 2], c.kernel[d], c.attrs, c.n, false));
    out.push_back(extent);
  }
  return set_linear_output(ctx, form, std::move(out));
}

Status infer_ConvTranspose(ShapeContext& ctx) {
  EL_TRY(const ConvCommon c, conv_common(ctx));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  EL_CHECK(ctx.expect_dtype(1, {DType::kF32}));
  if (ctx.input(2) != nullptr) EL_CHECK(ctx.expect_dtype(2, {DType::kF32}));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const int64_t channels = x.shape[1];
  if (w.shape[0] != channels || channels % c.group != 0)
    return ctx.fail(kInvalidArgument,
                    "W '{}' {} must be (C, M/group, kernel...) with C = {} (X's channels) divisible by group {}",
                    w.name, shape_str(w.shape), channels, c.group);
  const int64_t maps = w.shape[1] * c.group;
  EL_CHECK(expect_bias(ctx, maps));
  if (ctx.node.attrs.has("output_shape"))
    return ctx.fail(kUnsupported, "attribute 'output_shape' must be resolved into 'pads' and 'output_padding' at import");
  EL_TRY(const std::vector<int64_t> output_padding, window_ints_attr(ctx, "output_padding", c.n, 0));
  Shape out{x.shape[0], maps};
  for (size_t d = 0; d < c.n; ++d) {
    const int64_t in = x.shape[d + 2];
    if (in < 1) return ctx.fail(kInvalidArgument, "X '{}' {} has an empty spatial dim", x.name, shape_str(x.shape));
    // stride * (in - 1) + output_padding + window span - pads, checked: attributes come from outside.
    const int64_t span = (c.kernel[d] - 1) * c.attrs.dilations[d] + 1;
    int64_t extent = 0;
    if (__builtin_mul_overflow(c.attrs.strides[d], in - 1, &extent) ||
        __builtin_add_overflow(extent, output_padding[d] + span, &extent))
      return ctx.fail(kInvalidArgument, "spatial dim {} of the output overflows", d);
    extent -= c.attrs.pads[d] + c.attrs.pads[d + c.n];
    if (extent < 1)
      return ctx.fail(kInvalidArgument, "spatial dim {}: pads {} leave an output extent of {}", d,
                      shape_str(c.attrs.pads), extent);
    out.push_back(extent);
  }
  ctx.set_output(0, DType::kF32, std::move(out));
  return ok();
}

Status infer_Gemm(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 3, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32, DType::kU8, DType::kI8}));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  const Tensor* c = ctx.input(2);
  EL_TRY(const bool trans_a, flag_attr(ctx, "transA"));
  EL_TRY(const bool trans_b, flag_attr(ctx, "transB"));
  EL_TRY(const float alpha, float_attr(ctx, "alpha"));
  EL_TRY(const float beta, float_attr(ctx, "beta"));
  if (a.shape.size() != 2 || b.shape.size() != 2)
    return ctx.fail(kInvalidArgument, "A {} and B {} must both be matrices", shape_str(a.shape), shape_str(b.shape));
  const int64_t m = trans_a ? a.shape[1] : a.shape[0], k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0], n = trans_b ? b.shape[0] : b.shape[1];
  if (k != kb)
    return ctx.fail(kInvalidArgument, "A {} (transA {}) and B {} (transB {}) disagree on the inner dim: {} vs {}",
                    shape_str(a.shape), int{trans_a}, shape_str(b.shape), int{trans_b}, k, kb);
  // The quantized forms take B's output-channel (N) axis as its channel axis.
  EL_TRY(const LinearForm form, linear_form(ctx, {"A", "B", "C"}, trans_b ? 0 : 1, true));
  if (form.kind != LinearKind::kFloat) {
    if (trans_a) return ctx.fail(kUnsupported, "the quantized form needs transA = 0 (A is [M, K])");
    if (alpha != 1.f || beta != 1.f)
      return ctx.fail(kUnsupported, "the quantized form needs alpha = 1 and beta = 1, got alpha {} and beta {}", alpha,
                      beta);
    if (form.kind == LinearKind::kW4A8 && !trans_b)
      return ctx.fail(kUnsupported, "the W4A8 form needs transB = 1 (B is [N, K]: its rows are the output channels)");
    if (c != nullptr && c->shape != Shape{n})
      return ctx.fail(kInvalidArgument, "C '{}' has shape {}; the quantized form needs [{}] (one per output channel)",
                      c->name, shape_str(c->shape), n);
    return set_linear_output(ctx, form, {m, n});
  }
  if (c != nullptr) {
    // C broadcasts one way to [M, N].
    const Shape target{m, n};
    bool fits = c->shape.size() <= 2;
    for (size_t i = 0; fits && i < c->shape.size(); ++i) {
      const int64_t dim = c->shape[c->shape.size() - 1 - i], want = target[1 - i];
      fits = dim == want || dim == 1;
    }
    if (!fits)
      return ctx.fail(kInvalidArgument, "C '{}' {} does not broadcast to the output {}", c->name, shape_str(c->shape),
                      shape_str(target));
  }
  return set_linear_output(ctx, form, {m, n});
}

Status infer_MatMul(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 2, 1, 1));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (a.shape.empty() || b.shape.empty())
    return ctx.fail(kInvalidArgument, "A {} and B {} must have rank >= 1", shape_str(a.shape), shape_str(b.shape));
  const int64_t ra = static_cast<int64_t>(a.shape.size()), rb = static_cast<int64_t>(b.shape.size());
  // B may be quantized per column: its last axis, when it has one besides K.
  EL_TRY(const LinearForm form, linear_form(ctx, {"A", "B", ""}, rb >= 2 ? rb - 1 : -1, false));
  // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the promoted dim is dropped again.
  const int64_t ka = a.shape[ra - 1], kb = rb >= 2 ? b.shape[rb - 2] : b.shape[0];
  if (ka != kb)
    return ctx.fail(kInvalidArgument, "A {} and B {} disagree on the inner dim: {} vs {}", shape_str(a.shape),
                    shape_str(b.shape), ka, kb);
  const Shape batch_a(a.shape.begin(), a.shape.end() - std::min<int64_t>(ra, 2));
  const Shape batch_b(b.shape.begin(), b.shape.end() - std::min<int64_t>(rb, 2));
  auto batch = broadcast_shapes(batch_a, batch_b);
  if (!batch) return ctx.fail(kInvalidArgument, "batch dims: {}", batch.error().message);
  Shape out = std::move(*batch);
  if (ra >= 2) out.push_back(a.shape[ra - 2]);
  if (rb >= 2) out.push_back(b.shape[rb - 1]);
  return set_linear_output(ctx, form, std::move(out));
}

Status infer_MaxPool(ShapeContext& ctx) { return infer_window_pool(ctx, true); }
Status infer_AveragePool(ShapeContext& ctx) { return infer_window_pool(ctx, false); }
Status infer_GlobalAveragePool(ShapeContext& ctx) { return infer_global_pool(ctx, true); }
Status infer_GlobalMaxPool(ShapeContext& ctx) { return infer_global_pool(ctx, false); }

Status infer_BatchNormalization(ShapeContext& ctx) {
  if (ctx.outputs.size() > 1)
    return ctx.fail(kUnsupported, "has {} outputs: training mode (running mean and variance outputs) is not supported",
                    ctx.outputs.size());
  EL_CHECK(ctx.expect_arity(5, 5, 1, 1));
  if (ctx.node.attrs.get_int("training_mode", 0) != 0)
    return ctx.fail(kUnsupported, "attribute 'training_mode' 1 is not supported; inference mode only");
  if (ctx.node.attrs.get_int("spatial", 1) != 1)
    return ctx.fail(kUnsupported, "attribute 'spatial' 0 (per-activation statistics) is not supported");
  EL_TRY(const float epsilon, float_attr(ctx, "epsilon"));
  if (!(epsilon >= 0)) return ctx.fail(kInvalidArgument, "attribute 'epsilon' is {}, expected >= 0", epsilon);
  for (size_t i = 0; i < 5; ++i) EL_CHECK(ctx.expect_dtype(i, {DType::kF32}));
  const Tensor& x = *ctx.input(0);
  if (x.shape.size() < 2)
    return ctx.fail(kInvalidArgument, "input '{}' has shape {}, expected (N, C, ...)", x.name, shape_str(x.shape));
  static constexpr std::array<std::string_view, 5> kRoles{"X", "scale", "B", "mean", "var"};
  for (size_t i = 1; i < 5; ++i)
    if (ctx.input(i)->shape != Shape{x.shape[1]})
      return ctx.fail(kInvalidArgument, "{} '{}' has shape {}, expected [{}] (one per channel)", kRoles[i],
                      ctx.input(i)->name, shape_str(ctx.input(i)->shape), x.shape[1]);
  ctx.set_output(0, DType::kF32, x.shape);
  return ok();
}

Status infer_QuantizeLinear(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  const Tensor& x = *ctx.input(0);
  const Tensor& y = *ctx.outputs[0];
  if (y.dtype != DType::kU8 && y.dtype != DType::kI8)
    return ctx.fail(kUnsupported, "output '{}' is declared {}; supported: u8, i8", y.name, dtype_name(y.dtype));
  EL_CHECK(expect_quant(ctx, y, "output", x.shape, y.quant.axis));
  ctx.set_output(0, y.dtype, x.shape);
  return ok();
}

Status infer_DequantizeLinear(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kU8, DType::kI8, DType::kI32, DType::kI4}));
  const Tensor& x = *ctx.input(0);
  if (x.quant.per_group()) {
    // Weight-only forms (W4A32): a per-group weight dequantized to f32 for a float op.
    if (auto s = validate_quant(x.quant, x.dtype, x.shape); !s)
      return ctx.fail(kInvalidArgument, "input '{}': {}", x.name, s.error().message);
  } else {
    EL_CHECK(expect_quant(ctx, x, "input", x.shape, x.quant.axis));
  }
  ctx.set_output(0, DType::kF32, x.shape);
  return ok();
}

}  // namespace edgeloop::model
