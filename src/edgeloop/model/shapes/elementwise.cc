// Shape inference for the elementwise ops (docs/ops.md): Add, Sub, Mul, Div, the activations,
// Softmax/LogSoftmax, ReduceMean and Cast.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {

namespace {

// These ops compute on plain values. A quantized input or output would make it the quantized
// form of the op (docs/ops.md), which no backend implements for them.
Status expect_unquantized(const ShapeContext& ctx) {
  for (size_t i = 0; i < ctx.inputs.size(); ++i)
    if (ctx.inputs[i] != nullptr && !ctx.inputs[i]->quant.empty())
      return ctx.fail(ErrorCode::kUnsupported, "input {} '{}' is quantized ({}); the quantized form of this op is not supported",
                      i, ctx.inputs[i]->name, dtype_name(ctx.inputs[i]->dtype));
  for (size_t i = 0; i < ctx.outputs.size(); ++i)
    if (!ctx.outputs[i]->quant.empty())
      return ctx.fail(ErrorCode::kUnsupported, "output {} '{}' has quantization parameters; the quantized form of this op is not supported",
                      i, ctx.outputs[i]->name);
  return ok();
}

bool is_int8(DType t) { return t == DType::kI8 || t == DType::kU8; }

// A quantized operand of the quantized Add/Relu/Clip: i8 or u8 with valid per-tensor parameters.
Status expect_per_tensor_quant(const ShapeContext& ctx, const Tensor& t, std::string_view role, const Shape& shape) {
  if (t.quant.empty())
    return ctx.fail(ErrorCode::kUnsupported,
                    "{} '{}' has dtype {} without quantization parameters; supported: f32, or i8/u8 quantized per tensor",
                    role, t.name, dtype_name(t.dtype));
  if (!t.quant.per_tensor())
    return ctx.fail(ErrorCode::kUnsupported, "{} '{}' is quantized per channel or per group; supported: per tensor", role,
                    t.name);
  if (auto s = validate_quant(t.quant, t.dtype, shape); !s)
    return ctx.fail(ErrorCode::kInvalidArgument, "{} '{}': {}", role, t.name, s.error().message);
  return ok();
}

// The quantized forms of Relu and Clip: X i8/u8 per tensor → Y of X's dtype with exactly X's
// quantization parameters (the op only clamps stored values).
Status infer_quantized_unary(ShapeContext& ctx) {
  const Tensor& x = *ctx.input(0);
  EL_CHECK(expect_per_tensor_quant(ctx, x, "input", x.shape));
  const Tensor& y = *ctx.outputs[0];
  if (y.quant != x.quant)
    return ctx.fail(ErrorCode::kUnsupported,
                    "output '{}' must have the same quantization parameters as input '{}' (the quantized form clamps "
                    "stored values)",
                    y.name, x.name);
  ctx.set_output(0, x.dtype, x.shape);
  return ok();
}

template <class T>
constexpr std::string_view attr_type_name() {
  if constexpr (std::is_same_v<T, int64_t>) return "int";
  else if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "ints";
  else return "floats";
}

// The attribute `name` of type T: missing or mistyped is malformed (the importer writes every
// attribute the op lists, docs/ops.md).
template <class T>
Result<T> required_attr(const ShapeContext& ctx, std::string_view name) {
  const AttrValue* v = ctx.node.attrs.find(name);
  if (v == nullptr)
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' ({}) is missing; the importer must write it", name,
                    attr_type_name<T>());
  const T* t = std::get_if<T>(v);
  if (t == nullptr) return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' must be of type {}", name, attr_type_name<T>());
  return *t;
}

Result<float> finite_float_attr(const ShapeContext& ctx, std::string_view name) {
  EL_TRY(float v, required_attr<float>(ctx, name));
  if (!std::isfinite(v)) return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' is {}, it must be finite", name, v);
  return v;
}

Result<bool> flag_attr(const ShapeContext& ctx, std::string_view name) {
  EL_TRY(int64_t v, required_attr<int64_t>(ctx, name));
  if (v != 0 && v != 1) return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' is {}, it must be 0 or 1", name, v);
  return v == 1;
}

// One f32 input, one f32 output of the same shape.
Status infer_unary_f32(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  EL_CHECK(expect_unquantized(ctx));
  ctx.set_output(0, DType::kF32, ctx.input(0)->shape);
  return ok();
}

// Add, Sub, Mul, Div: two inputs of one dtype, multidirectional broadcast.
Status infer_arithmetic(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 2, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32, DType::kI32, DType::kI64}));
  EL_CHECK(ctx.expect_dtype(1, {DType::kF32, DType::kI32, DType::kI64}));
  EL_CHECK(expect_unquantized(ctx));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (a.dtype != b.dtype)
    return ctx.fail(ErrorCode::kInvalidArgument, "inputs '{}' ({}) and '{}' ({}) have different dtypes; both must be the same",
                    a.name, dtype_name(a.dtype), b.name, dtype_name(b.dtype));
  auto shape = broadcast_shapes(a.shape, b.shape);
  if (!shape) return ctx.fail(ErrorCode::kInvalidArgument, "inputs '{}' and '{}': {}", a.name, b.name, shape.error().message);
  ctx.set_output(0, a.dtype, std::move(*shape));
  return ok();
}

Status infer_softmax_like(ShapeContext& ctx) {
  EL_CHECK(infer_unary_f32(ctx));
  const auto rank = static_cast<int64_t>(ctx.input(0)->shape.size());
  EL_TRY(int64_t axis, required_attr<int64_t>(ctx, "axis"));
  EL_CHECK(flag_attr(ctx, "coerce_2d"));
  if (rank == 0) return ctx.fail(ErrorCode::kInvalidArgument, "input is a scalar; it needs at least one dimension to normalize over");
  if (axis < 0 || axis >= rank)
    return ctx.fail(ErrorCode::kInvalidArgument, "axis {} out of range for rank {} (axes are stored non-negative)", axis, rank);
  return ok();
}

// Cast converts among these; a new dtype must be added here (and to the Cast kernel) on purpose.
bool is_castable(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kI8:
    case DType::kU8:
    case DType::kI32:
    case DType::kI64:
    case DType::kBool:
      return true;
    case DType::kI4:
      return false;
  }
  return false;
}

}  // namespace

// Add has a quantized form (docs/quantization.md): A, B, Y i8/u8 of one dtype, each per tensor.
Status infer_Add(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 2, 1, 1));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (!is_int8(a.dtype) && !is_int8(b.dtype)) return infer_arithmetic(ctx);
  if (!is_int8(a.dtype) || !is_int8(b.dtype) || a.dtype != b.dtype)
    return ctx.fail(ErrorCode::kInvalidArgument,
                    "inputs '{}' ({}) and '{}' ({}) mix dtypes; the quantized Add takes two i8 or two u8 inputs "
                    "(quantize or dequantize one of them first)",
                    a.name, dtype_name(a.dtype), b.name, dtype_name(b.dtype));
  EL_CHECK(expect_per_tensor_quant(ctx, a, "input", a.shape));
  EL_CHECK(expect_per_tensor_quant(ctx, b, "input", b.shape));
  auto shape = broadcast_shapes(a.shape, b.shape);
  if (!shape) return ctx.fail(ErrorCode::kInvalidArgument, "inputs '{}' and '{}': {}", a.name, b.name, shape.error().message);
  const Tensor& y = *ctx.outputs[0];
  if (y.dtype != a.dtype)
    return ctx.fail(ErrorCode::kInvalidArgument, "output '{}' is declared {}; the quantized Add of {} inputs gives {}",
                    y.name, dtype_name(y.dtype), dtype_name(a.dtype), dtype_name(a.dtype));
  EL_CHECK(expect_per_tensor_quant(ctx, y, "output", *shape));
  // The output multiplier 2·max(a, b scale) / (2^20 · y scale) of the fixed-point arithmetic.
  const double twice_max = 2 * std::max(double{a.quant.scales[0]}, double{b.quant.scales[0]});
  const double output_multiplier = twice_max / (double{1 << 20} * double{y.quant.scales[0]});
  if (!fits_fixed_point_multiplier(output_multiplier))
    return ctx.fail(ErrorCode::kUnsupported, "output scale {} is too small for the input scales (multiplier {} >= 2^30)",
                    y.quant.scales[0], output_multiplier);
  ctx.set_output(0, a.dtype, std::move(*shape));
  return ok();
}
Status infer_Sub(ShapeContext& ctx) { return infer_arithmetic(ctx); }
Status infer_Mul(ShapeContext& ctx) { return infer_arithmetic(ctx); }
Status infer_Div(ShapeContext& ctx) { return infer_arithmetic(ctx); }

Status infer_Relu(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  if (is_int8(ctx.input(0)->dtype)) return infer_quantized_unary(ctx);
  return infer_unary_f32(ctx);
}
Status infer_Sigmoid(ShapeContext& ctx) { return infer_unary_f32(ctx); }
Status infer_Tanh(ShapeContext& ctx) { return infer_unary_f32(ctx); }
Status infer_HardSwish(ShapeContext& ctx) { return infer_unary_f32(ctx); }

Status infer_LeakyRelu(ShapeContext& ctx) {
  EL_CHECK(infer_unary_f32(ctx));
  EL_CHECK(finite_float_attr(ctx, "alpha"));
  return ok();
}

Status infer_HardSigmoid(ShapeContext& ctx) {
  EL_CHECK(infer_unary_f32(ctx));
  EL_CHECK(finite_float_attr(ctx, "alpha"));
  EL_CHECK(finite_float_attr(ctx, "beta"));
  return ok();
}

Status infer_PRelu(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(2, 2, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  EL_CHECK(ctx.expect_dtype(1, {DType::kF32}));
  EL_CHECK(expect_unquantized(ctx));
  const Tensor& x = *ctx.input(0);
  const Tensor& slope = *ctx.input(1);
  // Unidirectional: slope broadcasts to X, X's shape is the output's.
  auto shape = broadcast_shapes(x.shape, slope.shape);
  if (!shape || *shape != x.shape)
    return ctx.fail(ErrorCode::kInvalidArgument, "slope '{}' {} does not broadcast to X '{}' {}", slope.name,
                    shape_str(slope.shape), x.name, shape_str(x.shape));
  ctx.set_output(0, DType::kF32, x.shape);
  return ok();
}

Status infer_Clip(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  if (is_int8(ctx.input(0)->dtype)) {
    EL_CHECK(infer_quantized_unary(ctx));
  } else {
    EL_CHECK(infer_unary_f32(ctx));
  }
  // min and max are optional: absent means unbounded (-inf / +inf).
  for (std::string_view name : {"min", "max"}) {
    if (!ctx.node.attrs.has(name)) continue;
    EL_TRY(float v, required_attr<float>(ctx, name));
    if (std::isnan(v)) return ctx.fail(ErrorCode::kInvalidArgument, "attribute '{}' is NaN", name);
  }
  return ok();
}

Status infer_Softmax(ShapeContext& ctx) { return infer_softmax_like(ctx); }
Status infer_LogSoftmax(ShapeContext& ctx) { return infer_softmax_like(ctx); }

Status infer_ReduceMean(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32}));
  EL_CHECK(expect_unquantized(ctx));
  const Shape& in = ctx.input(0)->shape;
  const auto rank = static_cast<int64_t>(in.size());
  EL_TRY(std::vector<int64_t> axes, required_attr<std::vector<int64_t>>(ctx, "axes"));
  EL_TRY(bool keepdims, flag_attr(ctx, "keepdims"));
  std::vector<bool> reduced(in.size(), axes.empty());  // no axes: reduce over all dims
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= rank)
      return ctx.fail(ErrorCode::kInvalidArgument, "axis {} out of range for rank {} (axes are stored non-negative)", axes[i], rank);
    if (i > 0 && axes[i] <= axes[i - 1])
      return ctx.fail(ErrorCode::kInvalidArgument, "axes {} must be sorted and unique", shape_str(axes));
    reduced[static_cast<size_t>(axes[i])] = true;
  }
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!reduced[d]) out.push_back(in[d]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, DType::kF32, std::move(out));
  return ok();
}

Status infer_Cast(ShapeContext& ctx) {
  EL_CHECK(ctx.expect_arity(1, 1, 1, 1));
  EL_CHECK(ctx.expect_dtype(0, {DType::kF32, DType::kF16, DType::kI8, DType::kU8, DType::kI32, DType::kI64, DType::kBool}));
  EL_CHECK(expect_unquantized(ctx));
  EL_TRY(std::string to, required_attr<std::string>(ctx, "to"));
  std::optional<DType> target = parse_dtype(to);
  if (!target)
    return ctx.fail(ErrorCode::kInvalidArgument, "attribute 'to' is '{}', not a dtype name (f32, f16, i8, u8, i32, i64, bool)", to);
  if (!is_castable(*target))
    return ctx.fail(ErrorCode::kUnsupported, "cannot cast to {}; supported targets: f32, f16, i8, u8, i32, i64, bool", to);
  ctx.set_output(0, *target, ctx.input(0)->shape);
  return ok();
}

}  // namespace edgeloop::model
