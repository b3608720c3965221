// Converters for the compute ops: convolutions, pooling, matrix products, activations,
// normalization and quantization (docs/ops.md).
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeloop/model/onnx/convert.h"
#include "edgeloop/model/onnx/fold.h"
#include "edgeloop/model/onnx/params.h"

namespace edgeloop::model::onnx_import {
namespace {

std::vector<int64_t> filled(size_t n, int64_t v) { return std::vector<int64_t>(n, v); }

// strides/pads/dilations/group of Conv and QLinearConv, auto_pad resolved against X.
Result<Attributes> conv_attributes(NodeContext& c, const Shape& x, const Shape& w) {
  if (w.size() < 3) return make_error(ErrorCode::kInvalidArgument, "weights {} must have rank 3 or more", shape_str(w));
  const size_t n = w.size() - 2;
  if (x.size() != n + 2)
    return make_error(ErrorCode::kInvalidArgument, "input {} and weights {} differ in rank", shape_str(x), shape_str(w));
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  EL_TRY(auto ks, c.attr_ints("kernel_shape", kernel));
  if (ks != kernel)
    return make_error(ErrorCode::kInvalidArgument, "kernel_shape {} disagrees with the weights {}", shape_str(ks),
                      shape_str(w));
  EL_TRY(auto strides, c.attr_ints("strides", filled(n, 1)));
  EL_TRY(auto dilations, c.attr_ints("dilations", filled(n, 1)));
  EL_TRY(auto pads, c.attr_ints("pads"));
  EL_TRY(auto group, c.attr_int("group", 1));
  EL_TRY(auto auto_pad, c.attr_string("auto_pad", "NOTSET"));
  const std::vector<int64_t> spatial(x.begin() + 2, x.end());
  EL_TRY(pads, resolve_auto_pad(auto_pad, spatial, kernel, strides, dilations, std::move(pads)));
  Attributes a;
  a.set("strides", strides);
  a.set("pads", pads);
  a.set("dilations", dilations);
  a.set("group", group);
  return a;
}

Status convert_conv(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(TensorId w, c.input(1));
  EL_TRY(Attributes a, conv_attributes(c, c.shape(x), c.shape(w)));
  return discard(c.emit(OpType::kConv, {x, w, c.optional_input(2)}, std::move(a)));
}

Status convert_conv_transpose(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(TensorId w, c.input(1));
  const Shape& xs = c.shape(x);
  const Shape& ws = c.shape(w);
  if (ws.size() < 3 || xs.size() != ws.size())
    return make_error(ErrorCode::kInvalidArgument, "input {} and weights {} must have the same rank, 3 or more",
                      shape_str(xs), shape_str(ws));
  const size_t n = ws.size() - 2;
  const std::vector<int64_t> kernel(ws.begin() + 2, ws.end());
  EL_TRY(auto ks, c.attr_ints("kernel_shape", kernel));
  if (ks != kernel)
    return make_error(ErrorCode::kInvalidArgument, "kernel_shape {} disagrees with the weights {}", shape_str(ks),
                      shape_str(ws));
  EL_TRY(auto strides, c.attr_ints("strides", filled(n, 1)));
  EL_TRY(auto dilations, c.attr_ints("dilations", filled(n, 1)));
  EL_TRY(auto pads, c.attr_ints("pads"));
  EL_TRY(auto output_padding, c.attr_ints("output_padding"));
  EL_TRY(auto output_shape, c.attr_ints("output_shape"));
  EL_TRY(auto group, c.attr_int("group", 1));
  EL_TRY(auto auto_pad, c.attr_string("auto_pad", "NOTSET"));
  if (output_shape.size() == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  const std::vector<int64_t> spatial(xs.begin() + 2, xs.end());
  EL_TRY(auto p, resolve_conv_transpose_pads(auto_pad, spatial, kernel, strides, dilations, std::move(pads),
                                             std::move(output_padding), output_shape));
  Attributes a;
  a.set("strides", strides);
  a.set("pads", p.pads);
  a.set("dilations", dilations);
  a.set("output_padding", p.output_padding);
  a.set("group", group);
  return discard(c.emit(OpType::kConvTranspose, {x, w, c.optional_input(2)}, std::move(a)));
}

Status convert_gemm(NodeContext& c) {
  EL_TRY(TensorId a, c.input(0));
  EL_TRY(TensorId b, c.input(1));
  Attributes at;
  EL_TRY(float alpha, c.attr_float("alpha", 1.f));
  EL_TRY(float beta, c.attr_float("beta", 1.f));
  EL_TRY(int64_t ta, c.attr_int("transA", 0));
  EL_TRY(int64_t tb, c.attr_int("transB", 0));
  at.set("alpha", alpha);
  at.set("beta", beta);
  at.set("transA", ta);
  at.set("transB", tb);
  // Opset 6's `broadcast` attribute only allowed what unidirectional broadcasting of C does anyway.
  return discard(c.emit(OpType::kGemm, {a, b, c.optional_input(2)}, std::move(at)));
}

Status convert_matmul(NodeContext& c) {
  EL_TRY(TensorId a, c.input(0));
  EL_TRY(TensorId b, c.input(1));
  return discard(c.emit(OpType::kMatMul, {a, b}, {}));
}

// Opset < 7 binary ops broadcast B against A from `axis` on; numpy broadcasting aligns trailing
// dims, so B gets trailing 1s.
Result<TensorId> legacy_broadcast(NodeContext& c, TensorId a, TensorId b) {
  if (c.opset() >= 7) return b;
  EL_TRY(int64_t broadcast, c.attr_int("broadcast", 0));
  if (broadcast == 0 || !c.has_attr("axis")) return b;
  EL_TRY(int64_t axis, c.attr_int("axis", 0));
  const auto ra = static_cast<int64_t>(c.shape(a).size());
  const Shape& bs = c.shape(b);
  if (axis < 0 && axis >= -ra) axis += ra;
  if (axis < 0 || axis > ra || axis + static_cast<int64_t>(bs.size()) > ra)
    return make_error(ErrorCode::kInvalidArgument, "legacy broadcast of {} into {} at axis {} is out of range",
                      shape_str(bs), shape_str(c.shape(a)), axis);
  Shape target = bs;
  target.resize(static_cast<size_t>(ra - axis), 1);
  return reshape_value(c, b, target);
}

Status convert_binary(NodeContext& c, OpType op) {
  EL_TRY(TensorId a, c.input(0));
  EL_TRY(TensorId b, c.input(1));
  EL_TRY(b, legacy_broadcast(c, a, b));
  return c.emit_or_fold(op, {a, b}, {});
}

Status convert_sum(NodeContext& c) {
  if (c.num_inputs() == 0) return make_error(ErrorCode::kInvalidArgument, "Sum needs at least one input");
  EL_TRY(TensorId acc, c.input(0));
  if (c.num_inputs() == 1) {
    c.alias_output(0, acc);
    return ok();
  }
  for (size_t k = 1; k < c.num_inputs(); ++k) {
    EL_TRY(TensorId next, c.input(k));
    const bool last = k + 1 == c.num_inputs();
    OutputSpec out{last ? c.output_name(0) : std::string(), DType::kF32, {}, last ? 0 : -1};
    EL_TRY(auto ids, c.emit(OpType::kAdd, {acc, next}, {}, {out}));
    acc = ids[0];
  }
  return ok();
}

Status convert_unary(NodeContext& c, OpType op) {
  EL_TRY(TensorId x, c.input(0));
  return discard(c.emit(op, {x}, {}));
}

Status convert_leaky_relu(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(float alpha, c.attr_float("alpha", 0.01f));
  Attributes a;
  a.set("alpha", alpha);
  return discard(c.emit(OpType::kLeakyRelu, {x}, std::move(a)));
}

Status convert_hard_sigmoid(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(float alpha, c.attr_float("alpha", 0.2f));
  EL_TRY(float beta, c.attr_float("beta", 0.5f));
  Attributes a;
  a.set("alpha", alpha);
  a.set("beta", beta);
  return discard(c.emit(OpType::kHardSigmoid, {x}, std::move(a)));
}

Status convert_prelu(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(TensorId slope, c.input(1));
  const Shape& xs = c.shape(x);
  const Shape& ss = c.shape(slope);
  // Opset 6 exporters give one slope per channel as a 1-D [C]; numpy broadcasting would align it
  // with the last dim, so it becomes [C, 1, ..., 1].
  if (c.opset() < 7 && ss.size() == 1 && xs.size() > 2 && ss[0] == xs[1] && ss[0] != 1) {
    Shape target(xs.size() - 1, 1);
    target[0] = ss[0];
    EL_TRY(slope, reshape_value(c, slope, target));
  }
  return discard(c.emit(OpType::kPRelu, {x, slope}, {}));
}

Status convert_clip(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (c.opset() < 11) {
    EL_TRY(lo, c.attr_float("min", lo));
    EL_TRY(hi, c.attr_float("max", hi));
  } else {
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (!c.has_input(i)) continue;
      EL_TRY(auto v, c.constant_floats(i, i == 1 ? "min" : "max"));
      if (v.size() != 1)
        return make_error(ErrorCode::kInvalidArgument, "input '{}' must be a scalar", i == 1 ? "min" : "max");
      (i == 1 ? lo : hi) = v[0];
    }
  }
  Attributes a;
  a.set("min", lo);
  a.set("max", hi);
  return discard(c.emit(OpType::kClip, {x}, std::move(a)));
}

Status convert_softmax(NodeContext& c, OpType op) {
  EL_TRY(TensorId x, c.input(0));
  const bool legacy = c.opset() < 13;
  EL_TRY(int64_t axis, c.attr_int("axis", legacy ? 1 : -1));
  EL_TRY(axis, normalize_axis(axis, static_cast<int64_t>(c.shape(x).size())));
  Attributes a;
  a.set("axis", axis);
  a.set("coerce_2d", int64_t{legacy ? 1 : 0});
  return discard(c.emit(op, {x}, std::move(a)));
}

Status convert_pool(NodeContext& c, OpType op) {
  EL_TRY(TensorId x, c.input(0));
  const Shape& xs = c.shape(x);
  EL_TRY(auto kernel, c.attr_ints("kernel_shape"));
  if (kernel.empty()) return make_error(ErrorCode::kInvalidArgument, "attribute kernel_shape is required");
  const size_t n = kernel.size();
  if (xs.size() != n + 2)
    return make_error(ErrorCode::kInvalidArgument, "kernel_shape {} needs an input of rank {}, got {}",
                      shape_str(kernel), n + 2, shape_str(xs));
  EL_TRY(auto strides, c.attr_ints("strides", filled(n, 1)));
  EL_TRY(auto dilations, c.attr_ints("dilations", filled(n, 1)));
  EL_TRY(auto pads, c.attr_ints("pads"));
  EL_TRY(auto auto_pad, c.attr_string("auto_pad", "NOTSET"));
  EL_TRY(int64_t ceil_mode, c.attr_int("ceil_mode", 0));
  const std::vector<int64_t> spatial(xs.begin() + 2, xs.end());
  EL_TRY(pads, resolve_auto_pad(auto_pad, spatial, kernel, strides, dilations, std::move(pads)));
  Attributes a;
  a.set("kernel_shape", kernel);
  a.set("strides", strides);
  a.set("pads", pads);
  a.set("ceil_mode", ceil_mode);
  if (op == OpType::kMaxPool) {
    EL_CHECK(c.expect_no_outputs_from(1, "MaxPool's Indices output is not supported"));
    a.set("dilations", dilations);
  } else {
    if (dilations != filled(n, 1))
      return make_error(ErrorCode::kUnsupported, "AveragePool with dilations {} is not supported",
                        shape_str(dilations));
    EL_TRY(int64_t count_include_pad, c.attr_int("count_include_pad", 0));
    a.set("count_include_pad", count_include_pad);
  }
  std::vector<OutputSpec> outs{OutputSpec{c.output_name(0), DType::kF32, {}, 0}};
  return discard(c.emit(op, {x}, std::move(a), std::move(outs)));
}

Status convert_batch_norm(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  std::vector<TensorId> ins{x};
  for (size_t i = 1; i < 5; ++i) {
    EL_TRY(TensorId p, c.input(i));
    ins.push_back(p);
  }
  EL_TRY(float eps, c.attr_float("epsilon", 1e-5f));
  EL_CHECK(c.expect_no_outputs_from(1, "training outputs (running mean/variance) are not supported; export the "
                                       "model in inference (eval) mode"));
  if (c.opset() >= 14) EL_CHECK(c.expect_attr_int("training_mode", 0, "only inference is supported"));
  if (c.opset() < 9) {
    EL_TRY(int64_t spatial, c.attr_int("spatial", 1));
    if (spatial == 0)
      for (size_t i = 1; i < 5; ++i)
        if (c.shape(ins[i]).size() != 1)
          return make_error(ErrorCode::kUnsupported,
                            "spatial=0 with per-activation parameters ({}) is not supported", shape_str(c.shape(ins[i])));
  }
  // `is_test`, `momentum` and `consumed_inputs` of old opsets do not change inference.
  Attributes a;
  a.set("epsilon", eps);
  std::vector<OutputSpec> outs{OutputSpec{c.output_name(0), DType::kF32, {}, 0}};
  return discard(c.emit(OpType::kBatchNormalization, std::move(ins), std::move(a), std::move(outs)));
}

Status convert_reduce_mean(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const auto rank = static_cast<int64_t>(c.shape(x).size());
  EL_TRY(int64_t keepdims, c.attr_int("keepdims", 1));
  EL_TRY(auto axes, c.attr_ints("axes"));
  if (c.has_input(1)) {
    EL_TRY(axes, c.constant_ints(1, "axes"));
  }
  for (int64_t& a : axes) {
    EL_TRY(a, normalize_axis(a, rank));
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return make_error(ErrorCode::kInvalidArgument, "axes {} repeat an axis", shape_str(axes));
  if (axes.empty()) {
    EL_TRY(int64_t noop, c.attr_int("noop_with_empty_axes", 0));
    if (noop) {
      c.alias_output(0, x);
      return ok();
    }
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  Attributes a;
  a.set("axes", axes);
  a.set("keepdims", keepdims);
  return discard(c.emit(OpType::kReduceMean, {x}, std::move(a)));
}

// ---- quantization ----

struct QuantInputs {
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  std::optional<DType> zp_dtype;
};

Result<QuantInputs> quant_inputs(NodeContext& c, size_t scale_index, size_t zp_index, std::string_view scale_name,
                                 std::string_view zp_name) {
  QuantInputs q;
  EL_TRY(q.scales, c.constant_floats(scale_index, scale_name));
  if (q.scales.empty()) return make_error(ErrorCode::kInvalidArgument, "input '{}' is empty", scale_name);
  if (c.has_input(zp_index)) {
    EL_TRY(const Tensor* zp, c.constant_input(zp_index, zp_name));
    if (zp->shape.size() > 1)
      return make_error(ErrorCode::kInvalidArgument, "input '{}' must be a scalar or 1-D", zp_name);
    auto v = read_ints(*zp);
    if (!v || zp->dtype == DType::kBool || zp->dtype == DType::kI64)
      return make_error(ErrorCode::kUnsupported, "input '{}' has dtype {}; zero points must be uint8, int8 or int32",
                        zp_name, dtype_name(zp->dtype));
    q.zero_points = std::move(*v);
    q.zp_dtype = zp->dtype;
    if (q.zero_points.size() != q.scales.size())
      return make_error(ErrorCode::kInvalidArgument, "{} scales but {} zero points", q.scales.size(),
                        q.zero_points.size());
  }
  return q;
}

// Per tensor when there is one scale, else per channel along `axis` of a tensor of rank `rank`.
Result<QuantParams> to_quant(const QuantInputs& in, int64_t axis, int64_t rank) {
  QuantParams q;
  q.scales = in.scales;
  bool all_zero = true;
  for (int64_t z : in.zero_points) all_zero &= z == 0;
  if (!all_zero)
    for (int64_t z : in.zero_points) {
      if (z < std::numeric_limits<int32_t>::min() || z > std::numeric_limits<int32_t>::max())
        return make_error(ErrorCode::kInvalidArgument, "zero point {} out of range", z);
      q.zero_points.push_back(static_cast<int32_t>(z));
    }
  if (q.scales.size() > 1) {
    EL_TRY(axis, normalize_axis(axis, rank));
    q.axis = static_cast<int32_t>(axis);
  }
  return q;
}

Status convert_quantize(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(QuantInputs qi, quant_inputs(c, 1, 2, "y_scale", "y_zero_point"));
  const DType out = qi.zp_dtype.value_or(DType::kU8);
  if (out != DType::kU8 && out != DType::kI8)
    return make_error(ErrorCode::kUnsupported, "quantizing to {} is not supported (uint8, int8)", dtype_name(out));
  EL_TRY(int64_t axis, c.attr_int("axis", 1));
  EL_TRY(QuantParams q, to_quant(qi, axis, static_cast<int64_t>(c.shape(x).size())));
  if (auto s = validate_quant(q, out, c.shape(x)); !s)
    return make_error(ErrorCode::kInvalidArgument, "quantization parameters do not fit {} {}: {}", dtype_name(out),
                      shape_str(c.shape(x)), s.error().message);
  std::vector<OutputSpec> outs{OutputSpec{c.output_name(0), out, std::move(q), 0}};
  return discard(c.emit(OpType::kQuantizeLinear, {x}, {}, std::move(outs)));
}

Status convert_dequantize(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const DType xd = c.tensor(x).dtype;
  if (xd != DType::kU8 && xd != DType::kI8 && xd != DType::kI32)
    return make_error(ErrorCode::kUnsupported, "dequantizing {} is not supported (uint8, int8, int32)", dtype_name(xd));
  EL_TRY(QuantInputs qi, quant_inputs(c, 1, 2, "x_scale", "x_zero_point"));
  if (qi.zp_dtype && *qi.zp_dtype != xd)
    return make_error(ErrorCode::kInvalidArgument, "x_zero_point is {}, x is {}", dtype_name(*qi.zp_dtype),
                      dtype_name(xd));
  EL_TRY(int64_t axis, c.attr_int("axis", 1));
  EL_TRY(QuantParams q, to_quant(qi, axis, static_cast<int64_t>(c.shape(x).size())));
  EL_CHECK(c.set_quant(x, std::move(q)));
  return discard(c.emit(OpType::kDequantizeLinear, {x}, {}));
}

// Quantization of a tensor from a QLinear op's (scale, zero point) inputs, checked for dtype.
Result<QuantParams> qlinear_param(NodeContext& c, TensorId t, size_t scale_index, size_t zp_index,
                                  std::string_view scale_name, std::string_view zp_name, int64_t channel_axis) {
  EL_TRY(QuantInputs qi, quant_inputs(c, scale_index, zp_index, scale_name, zp_name));
  const DType d = c.tensor(t).dtype;
  if (d != DType::kU8 && d != DType::kI8)
    return make_error(ErrorCode::kUnsupported, "'{}' is {}; quantized tensors must be uint8 or int8",
                      c.tensor(t).name, dtype_name(d));
  if (qi.zp_dtype && *qi.zp_dtype != d)
    return make_error(ErrorCode::kInvalidArgument, "{} is {}, its tensor '{}' is {}", zp_name,
                      dtype_name(*qi.zp_dtype), c.tensor(t).name, dtype_name(d));
  if (qi.scales.size() > 1 && channel_axis < 0)
    return make_error(ErrorCode::kUnsupported, "{} has {} values; only a per-tensor scale is supported here",
                      scale_name, qi.scales.size());
  return to_quant(qi, channel_axis, static_cast<int64_t>(c.shape(t).size()));
}

Result<std::pair<DType, QuantParams>> qlinear_output(NodeContext& c, size_t scale_index, size_t zp_index,
                                                     DType fallback) {
  EL_TRY(QuantInputs qi, quant_inputs(c, scale_index, zp_index, "y_scale", "y_zero_point"));
  const DType d = qi.zp_dtype.value_or(fallback);
  if (d != DType::kU8 && d != DType::kI8)
    return make_error(ErrorCode::kUnsupported, "output dtype {} is not supported (uint8, int8)", dtype_name(d));
  if (qi.scales.size() != 1)
    return make_error(ErrorCode::kUnsupported, "y_scale has {} values; only a per-tensor scale is supported",
                      qi.scales.size());
  EL_TRY(QuantParams q, to_quant(qi, -1, 0));
  return std::pair{d, std::move(q)};
}

Status convert_qlinear_conv(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(TensorId w, c.input(3));
  EL_TRY(QuantParams xq, qlinear_param(c, x, 1, 2, "x_scale", "x_zero_point", -1));
  EL_TRY(QuantParams wq, qlinear_param(c, w, 4, 5, "w_scale", "w_zero_point", 0));
  EL_TRY(auto yq, qlinear_output(c, 6, 7, c.tensor(x).dtype));
  EL_TRY(Attributes a, conv_attributes(c, c.shape(x), c.shape(w)));
  const TensorId b = c.optional_input(8);
  std::optional<QuantParams> bq;
  if (b != kNoTensor) {
    if (c.tensor(b).dtype != DType::kI32)
      return make_error(ErrorCode::kInvalidArgument, "bias '{}' is {}, QLinearConv needs int32", c.tensor(b).name,
                        dtype_name(c.tensor(b).dtype));
    QuantParams q;
    for (float s : wq.scales) q.scales.push_back(xq.scales[0] * s);
    if (q.scales.size() > 1) q.axis = 0;
    bq = std::move(q);
  }
  EL_CHECK(c.set_quant(x, std::move(xq)));
  EL_CHECK(c.set_quant(w, std::move(wq)));
  if (bq) EL_CHECK(c.set_quant(b, std::move(*bq)));
  std::vector<OutputSpec> outs{OutputSpec{c.output_name(0), yq.first, std::move(yq.second), 0}};
  return discard(c.emit(OpType::kConv, {x, w, b}, std::move(a), std::move(outs)));
}

Status convert_qlinear_matmul(NodeContext& c) {
  EL_TRY(TensorId a, c.input(0));
  EL_TRY(TensorId b, c.input(3));
  EL_TRY(QuantParams aq, qlinear_param(c, a, 1, 2, "a_scale", "a_zero_point", -1));
  const auto rb = static_cast<int64_t>(c.shape(b).size());
  EL_TRY(QuantParams bq, qlinear_param(c, b, 4, 5, "b_scale", "b_zero_point", rb >= 2 ? rb - 1 : -1));
  EL_TRY(auto yq, qlinear_output(c, 6, 7, c.tensor(a).dtype));
  EL_CHECK(c.set_quant(a, std::move(aq)));
  EL_CHECK(c.set_quant(b, std::move(bq)));
  std::vector<OutputSpec> outs{OutputSpec{c.output_name(0), yq.first, std::move(yq.second), 0}};
  return discard(c.emit(OpType::kMatMul, {a, b}, {}, std::move(outs)));
}

}  // namespace

void register_nn_converters(ConverterTable& t) {
  t["Conv"] = convert_conv;
  t["ConvTranspose"] = convert_conv_transpose;
  t["Gemm"] = convert_gemm;
  t["MatMul"] = convert_matmul;
  t["Add"] = [](NodeContext& c) { return convert_binary(c, OpType::kAdd); };
  t["Sub"] = [](NodeContext& c) { return convert_binary(c, OpType::kSub); };
  t["Mul"] = [](NodeContext& c) { return convert_binary(c, OpType::kMul); };
  t["Div"] = [](NodeContext& c) { return convert_binary(c, OpType::kDiv); };
  t["Sum"] = convert_sum;
  t["Relu"] = [](NodeContext& c) { return convert_unary(c, OpType::kRelu); };
  t["Sigmoid"] = [](NodeContext& c) { return convert_unary(c, OpType::kSigmoid); };
  t["Tanh"] = [](NodeContext& c) { return convert_unary(c, OpType::kTanh); };
  t["HardSwish"] = [](NodeContext& c) { return convert_unary(c, OpType::kHardSwish); };
  t["GlobalAveragePool"] = [](NodeContext& c) { return convert_unary(c, OpType::kGlobalAveragePool); };
  t["GlobalMaxPool"] = [](NodeContext& c) { return convert_unary(c, OpType::kGlobalMaxPool); };
  t["LeakyRelu"] = convert_leaky_relu;
  t["HardSigmoid"] = convert_hard_sigmoid;
  t["PRelu"] = convert_prelu;
  t["Clip"] = convert_clip;
  t["Softmax"] = [](NodeContext& c) { return convert_softmax(c, OpType::kSoftmax); };
  t["LogSoftmax"] = [](NodeContext& c) { return convert_softmax(c, OpType::kLogSoftmax); };
  t["MaxPool"] = [](NodeContext& c) { return convert_pool(c, OpType::kMaxPool); };
  t["AveragePool"] = [](NodeContext& c) { return convert_pool(c, OpType::kAveragePool); };
  t["BatchNormalization"] = convert_batch_norm;
  t["ReduceMean"] = convert_reduce_mean;
  t["QuantizeLinear"] = convert_quantize;
  t["DequantizeLinear"] = convert_dequantize;
  t["QLinearConv"] = convert_qlinear_conv;
  t["QLinearMatMul"] = convert_qlinear_matmul;
}

}  // namespace edgeloop::model::onnx_import
