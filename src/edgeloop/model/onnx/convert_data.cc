// Converters for data movement, shape arithmetic and the ops the importer removes (Identity,
// Dropout, Constant, Shape, ...): docs/ops.md "ONNX ops the importer removes or rewrites".
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "edgeloop/model/onnx/convert.h"
#include "edgeloop/model/onnx/fold.h"
#include "edgeloop/model/onnx/params.h"
#include "edgeloop/model/onnx/tensor.h"
#include "edgeloop/model/shapes/data_params.h"

namespace edgeloop::model::onnx_import {

Result<TensorId> reshape_value(NodeContext& c, TensorId id, const Shape& shape) {
  const Tensor& t = c.tensor(id);
  if (num_elements(shape) != t.elements())
    return make_error(ErrorCode::kInternal, "cannot view {} as {}", shape_str(t.shape), shape_str(shape));
  if (t.constant && t.quant.empty()) {
    Tensor copy = t;
    copy.name = t.name + "/reshaped";
    copy.shape = shape;
    return c.add_constant(std::move(copy));
  }
  Attributes a;
  a.set("shape", shape);
  OutputSpec out{"", t.dtype, t.quant, -1};
  EL_TRY(auto ids, c.emit(OpType::kReshape, {id}, std::move(a), {out}));
  return ids[0];
}

namespace {

Status emit_reshape(NodeContext& c, TensorId x, Shape shape) {
  Attributes a;
  a.set("shape", std::move(shape));
  return c.emit_or_fold(OpType::kReshape, {x}, std::move(a));
}

Status convert_identity(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  c.alias_output(0, x);
  return ok();
}

Status convert_dropout(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  if (c.opset() >= 12 && c.has_input(2)) {
    EL_TRY(const Tensor* mode, c.constant_input(2, "training_mode"));
    const auto training = read_ints(*mode);
    if (!training || training->size() != 1)
      return make_error(ErrorCode::kInvalidArgument, "input 'training_mode' must be a boolean scalar");
    if ((*training)[0] != 0)
      return make_error(ErrorCode::kUnsupported, "training_mode=true is not supported (inference only)");
  }
  c.alias_output(0, x);
  if (c.has_output(1)) {  // the mask keeps every element in inference
    const Tensor& t = c.tensor(x);
    const DType mask = c.opset() >= 10 ? DType::kBool : t.dtype;
    if (mask != DType::kBool && mask != DType::kF32)
      return make_error(ErrorCode::kUnsupported, "a Dropout mask of dtype {} is not supported", dtype_name(mask));
    const int64_t n = t.elements();
    if (!fits_fold_limit(mask, n))
      return make_error(ErrorCode::kUnsupported, "the Dropout mask output is too large to store");
    std::vector<std::byte> bytes(storage_bytes(mask, n));
    for (int64_t i = 0; i < n; ++i) {
      if (mask == DType::kBool) bytes[i] = std::byte{1};
      else store_le<float>(bytes.data() + 4 * i, 1.f);
    }
    c.constant_output(1, make_constant({}, mask, t.shape, std::move(bytes)));
  }
  return ok();
}

Status convert_constant(NodeContext& c) {
  if (const auto* a = c.attr("value")) {
    EL_TRY(Tensor t, tensor_from_proto(a->t()));
    c.constant_output(0, std::move(t));
    return ok();
  }
  if (c.has_attr("value_float")) {
    EL_TRY(float v, c.attr_float("value_float", 0.f));
    c.constant_output(0, make_constant<float>({}, DType::kF32, {}, std::span<const float>(&v, 1)));
    return ok();
  }
  if (c.has_attr("value_floats")) {
    EL_TRY(auto v, c.attr_floats("value_floats"));
    c.constant_output(0, make_constant<float>({}, DType::kF32, {static_cast<int64_t>(v.size())}, std::span<const float>(v)));
    return ok();
  }
  if (c.has_attr("value_int")) {
    EL_TRY(int64_t v, c.attr_int("value_int", 0));
    c.constant_output(0, make_constant<int64_t>({}, DType::kI64, {}, std::span<const int64_t>(&v, 1)));
    return ok();
  }
  if (c.has_attr("value_ints")) {
    EL_TRY(auto v, c.attr_ints("value_ints"));
    c.constant_output(0, make_constant<int64_t>({}, DType::kI64, {static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)));
    return ok();
  }
  if (c.has_attr("value_string") || c.has_attr("value_strings"))
    return make_error(ErrorCode::kUnsupported, "string constants are not supported");
  if (c.has_attr("sparse_value")) return make_error(ErrorCode::kUnsupported, "sparse constants are not supported");
  return make_error(ErrorCode::kInvalidArgument, "Constant has no value attribute");
}

Status convert_shape(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const Shape& s = c.shape(x);
  const auto rank = static_cast<int64_t>(s.size());
  int64_t start = 0, end = rank;
  if (c.opset() >= 15) {
    EL_TRY(start, c.attr_int("start", 0));
    EL_TRY(end, c.attr_int("end", rank));
  }
  auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? std::max<int64_t>(v, -rank) + rank : v, 0, rank); };
  start = clamp(start);
  end = std::max(start, clamp(end));
  std::vector<int64_t> dims(s.begin() + start, s.begin() + end);
  c.constant_output(0, make_constant<int64_t>({}, DType::kI64, {static_cast<int64_t>(dims.size())},
                                              std::span<const int64_t>(dims)));
  return ok();
}

Status convert_size(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const int64_t n = c.tensor(x).elements();
  c.constant_output(0, make_constant<int64_t>({}, DType::kI64, {}, std::span<const int64_t>(&n, 1)));
  return ok();
}

Status convert_constant_of_shape(NodeContext& c) {
  EL_TRY(auto dims, c.constant_ints(0, "input"));
  Shape shape(dims.begin(), dims.end());
  const int64_t n = num_elements(shape);
  if (n < 0) return make_error(ErrorCode::kInvalidArgument, "shape {} is invalid (negative, or more than 2^59 elements)", shape_str(shape));
  Tensor value = make_constant<float>({}, DType::kF32, {1}, std::span<const float>(std::vector<float>{0.f}));
  if (const auto* a = c.attr("value")) {
    EL_TRY(value, tensor_from_proto(a->t()));
    if (value.elements() != 1)
      return make_error(ErrorCode::kInvalidArgument, "attribute 'value' must hold one element, it has {}",
                        value.elements());
  }
  const size_t es = element_size(value.dtype);
  if (!fits_fold_limit(value.dtype, n))
    return make_error(ErrorCode::kUnsupported, "the constant {} is too large to store", shape_str(shape));
  std::vector<std::byte> bytes(storage_bytes(value.dtype, n));
  for (int64_t i = 0; i < n; ++i) std::memcpy(bytes.data() + i * es, value.data.data(), es);
  c.constant_output(0, make_constant({}, value.dtype, std::move(shape), std::move(bytes)));
  return ok();
}

Status convert_range(NodeContext& c) {
  EL_TRY(const Tensor* start_t, c.constant_input(0, "start"));
  EL_TRY(const Tensor* limit_t, c.constant_input(1, "limit"));
  EL_TRY(const Tensor* delta_t, c.constant_input(2, "delta"));
  const DType d = start_t->dtype;
  if (limit_t->dtype != d || delta_t->dtype != d || start_t->elements() != 1 || limit_t->elements() != 1 ||
      delta_t->elements() != 1)
    return make_error(ErrorCode::kInvalidArgument, "start, limit and delta must be scalars of one dtype");
  if (d == DType::kF32) {
    const float s = read_floats(*start_t)->at(0), l = read_floats(*limit_t)->at(0), dl = read_floats(*delta_t)->at(0);
    const double count = std::ceil((static_cast<double>(l) - s) / dl);
    if (!(dl != 0 && std::isfinite(count)) || count > static_cast<double>(kMaxFoldBytes / 4))
      return make_error(ErrorCode::kInvalidArgument, "Range({}, {}, {}) is invalid or too large", s, l, dl);
    const auto n = static_cast<int64_t>(std::max(0.0, count));
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = s + static_cast<float>(i) * dl;
    c.constant_output(0, make_constant<float>({}, d, {n}, std::span<const float>(v)));
    return ok();
  }
  if (d != DType::kI64 && d != DType::kI32)
    return make_error(ErrorCode::kUnsupported, "Range over {} is not supported", dtype_name(d));
  const int64_t s = read_ints(*start_t)->at(0), l = read_ints(*limit_t)->at(0), dl = read_ints(*delta_t)->at(0);
  if (dl == 0) return make_error(ErrorCode::kInvalidArgument, "Range delta is 0");
  const double count = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(dl));
  if (count > static_cast<double>(kMaxFoldBytes / 8))
    return make_error(ErrorCode::kInvalidArgument, "Range({}, {}, {}) is too large", s, l, dl);
  const auto n = static_cast<int64_t>(std::max(0.0, count));
  std::vector<int64_t> v(static_cast<size_t>(n));
  // Every value lies in [start, limit), but i * delta may not fit: wrap in unsigned arithmetic.
  for (int64_t i = 0; i < n; ++i)
    v[i] = static_cast<int64_t>(static_cast<uint64_t>(s) + static_cast<uint64_t>(i) * static_cast<uint64_t>(dl));
  Tensor t = make_constant<int64_t>({}, DType::kI64, {n}, std::span<const int64_t>(v));
  if (d == DType::kI32) {
    std::vector<int32_t> v32(v.begin(), v.end());
    t = make_constant<int32_t>({}, DType::kI32, {n}, std::span<const int32_t>(v32));
  }
  c.constant_output(0, std::move(t));
  return ok();
}

Status convert_reshape(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(auto target, c.constant_ints(1, "shape"));
  int64_t allow_zero = 0;
  if (c.opset() >= 14) {
    EL_TRY(allow_zero, c.attr_int("allowzero", 0));
  }
  EL_TRY(Shape out, resolve_reshape(c.shape(x), target, allow_zero != 0));
  return emit_reshape(c, x, std::move(out));
}

Status convert_flatten(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(int64_t axis, c.attr_int("axis", 1));
  EL_TRY(Shape out, resolve_flatten(c.shape(x), axis));
  return emit_reshape(c, x, std::move(out));
}

Result<std::vector<int64_t>> axes_param(NodeContext& c, bool required) {
  if (c.opset() >= 13) {
    if (!c.has_input(1)) {
      if (required) return make_error(ErrorCode::kInvalidArgument, "input 'axes' is required");
      return std::vector<int64_t>{};
    }
    return c.constant_ints(1, "axes");
  }
  if (required && !c.has_attr("axes")) return make_error(ErrorCode::kInvalidArgument, "attribute 'axes' is required");
  return c.attr_ints("axes");
}

Status convert_squeeze(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(auto axes, axes_param(c, false));
  EL_TRY(Shape out, resolve_squeeze(c.shape(x), axes));
  return emit_reshape(c, x, std::move(out));
}

Status convert_unsqueeze(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(auto axes, axes_param(c, true));
  EL_TRY(Shape out, resolve_unsqueeze(c.shape(x), axes));
  return emit_reshape(c, x, std::move(out));
}

Status convert_transpose(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const auto rank = static_cast<int64_t>(c.shape(x).size());
  std::vector<int64_t> reversed;
  for (int64_t i = rank - 1; i >= 0; --i) reversed.push_back(i);
  EL_TRY(auto perm, c.attr_ints("perm", reversed));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(reversed.rbegin(), reversed.rend());
  if (sorted != identity)
    return make_error(ErrorCode::kInvalidArgument, "perm {} is not a permutation of the {} dims", shape_str(perm), rank);
  if (perm == identity) {
    c.alias_output(0, x);
    return ok();
  }
  Attributes a;
  a.set("perm", perm);
  return c.emit_or_fold(OpType::kTranspose, {x}, std::move(a));
}

Status convert_concat(NodeContext& c) {
  if (!c.has_attr("axis")) return make_error(ErrorCode::kInvalidArgument, "attribute 'axis' is required");
  EL_TRY(int64_t axis, c.attr_int("axis", 0));
  std::vector<TensorId> ins;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    EL_TRY(TensorId t, c.input(i));
    ins.push_back(t);
  }
  if (ins.empty()) return make_error(ErrorCode::kInvalidArgument, "Concat needs at least one input");
  EL_TRY(axis, normalize_axis(axis, static_cast<int64_t>(c.shape(ins[0]).size())));
  Attributes a;
  a.set("axis", axis);
  return c.emit_or_fold(OpType::kConcat, std::move(ins), std::move(a));
}

Status convert_split(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(int64_t axis, c.attr_int("axis", 0));
  std::vector<int64_t> split;
  if (c.opset() >= 13) {
    if (c.has_input(1)) {
      EL_TRY(split, c.constant_ints(1, "split"));
    }
  } else {
    EL_TRY(split, c.attr_ints("split"));
  }
  const size_t n = c.num_outputs();
  EL_TRY(SplitParams p, resolve_split(c.shape(x), axis, split, n));
  Attributes a;
  a.set("axis", p.axis);
  a.set("split", p.split);
  return c.emit_or_fold(OpType::kSplit, {x}, std::move(a), n);
}

Status convert_slice(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset() < 10) {
    if (!c.has_attr("starts") || !c.has_attr("ends"))
      return make_error(ErrorCode::kInvalidArgument, "attributes 'starts' and 'ends' are required");
    EL_TRY(starts, c.attr_ints("starts"));
    EL_TRY(ends, c.attr_ints("ends"));
    EL_TRY(axes, c.attr_ints("axes"));
  } else {
    EL_TRY(starts, c.constant_ints(1, "starts"));
    EL_TRY(ends, c.constant_ints(2, "ends"));
    if (c.has_input(3)) {
      EL_TRY(axes, c.constant_ints(3, "axes"));
    }
    if (c.has_input(4)) {
      EL_TRY(steps, c.constant_ints(4, "steps"));
    }
  }
  const Shape& in = c.shape(x);
  EL_TRY(SliceParams p, resolve_slice(in, starts, ends, axes, steps));
  // A step beyond the dim takes one element either way; bounding it keeps every later extent
  // computation (ceil((end - start) / step)) far from int64 overflow.
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const int64_t limit = std::max<int64_t>(in[i], 1);
    p.steps[i] = std::clamp(p.steps[i], -limit, limit);
  }
  Attributes a;
  a.set("starts", p.starts);
  a.set("ends", p.ends);
  a.set("steps", p.steps);
  return c.emit_or_fold(OpType::kSlice, {x}, std::move(a));
}

Status convert_pad(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const auto rank = static_cast<int64_t>(c.shape(x).size());
  EL_TRY(std::string mode, c.attr_string("mode", "constant"));
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return make_error(ErrorCode::kUnsupported, "mode '{}' is not supported (constant, reflect, edge)", mode);
  std::vector<int64_t> pads;
  float value = 0.f;
  if (c.opset() < 11) {
    if (!c.has_attr("pads")) return make_error(ErrorCode::kInvalidArgument, "attribute 'pads' is required");
    EL_TRY(pads, c.attr_ints("pads"));
    EL_TRY(value, c.attr_float("value", 0.f));
  } else {
    EL_TRY(pads, c.constant_ints(1, "pads"));
    if (c.has_input(2)) {
      EL_TRY(auto v, c.constant_floats(2, "constant_value"));
      if (v.size() > 1) return make_error(ErrorCode::kInvalidArgument, "input 'constant_value' must be a scalar");
      if (!v.empty()) value = v[0];
    }
    if (c.has_input(3)) return make_error(ErrorCode::kUnsupported, "input 'axes' (opset 18) is not supported");
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank)
    return make_error(ErrorCode::kInvalidArgument, "pads {} must have {} values for rank {}", shape_str(pads), 2 * rank,
                      rank);
  Attributes a;
  a.set("mode", mode);
  a.set("pads", pads);
  a.set("value", value);
  return discard(c.emit(OpType::kPad, {x}, std::move(a)));
}

bool one_of(const std::string& v, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

Status emit_resize(NodeContext& c, TensorId x, const std::string& mode, const std::string& ctm,
                   const std::string& nearest_mode, std::span<const float> scales, std::span<const int64_t> sizes,
                   float cubic_a, int64_t exclude_outside, float extrapolation) {
  EL_TRY(ResizeParams p, resolve_resize(c.shape(x), scales, sizes));
  Attributes a;
  a.set("mode", mode);
  a.set("coordinate_transformation_mode", ctm);
  a.set("nearest_mode", nearest_mode);
  a.set("scales", p.scales);
  a.set("sizes", p.sizes);
  a.set("cubic_coeff_a", cubic_a);
  a.set("exclude_outside", exclude_outside);
  a.set("extrapolation_value", extrapolation);
  return discard(c.emit(OpType::kResize, {x}, std::move(a)));
}

Status convert_resize(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  EL_TRY(std::string mode, c.attr_string("mode", "nearest"));
  if (!one_of(mode, {"nearest", "linear", "cubic"}))
    return make_error(ErrorCode::kUnsupported, "mode '{}' is not supported (nearest, linear, cubic)", mode);
  if (c.opset() < 11) {
    // Resize-10 has Upsample's semantics.
    if (mode == "cubic") return make_error(ErrorCode::kUnsupported, "mode 'cubic' needs opset 11");
    EL_TRY(auto scales, c.constant_floats(1, "scales"));
    return emit_resize(c, x, mode, "asymmetric", "floor", scales, {}, -0.75f, 0, 0.f);
  }
  EL_TRY(std::string ctm, c.attr_string("coordinate_transformation_mode", "half_pixel"));
  if (ctm == "tf_crop_and_resize")
    return make_error(ErrorCode::kUnsupported, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  if (!one_of(ctm, {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"}))
    return make_error(ErrorCode::kUnsupported, "coordinate_transformation_mode '{}' is not supported", ctm);
  EL_TRY(std::string nearest_mode, c.attr_string("nearest_mode", "round_prefer_floor"));
  if (!one_of(nearest_mode, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    return make_error(ErrorCode::kUnsupported, "nearest_mode '{}' is not supported", nearest_mode);
  EL_TRY(float cubic_a, c.attr_float("cubic_coeff_a", -0.75f));
  EL_TRY(int64_t exclude_outside, c.attr_int("exclude_outside", 0));
  EL_TRY(float extrapolation, c.attr_float("extrapolation_value", 0.f));
  if (c.has_attr("antialias") || c.has_attr("axes") || c.has_attr("keep_aspect_ratio_policy"))
    return make_error(ErrorCode::kUnsupported, "the opset 18 attributes antialias/axes/keep_aspect_ratio_policy are "
                                               "not supported");
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (c.has_input(2)) {
    EL_TRY(scales, c.constant_floats(2, "scales"));
  }
  if (c.has_input(3)) {
    EL_TRY(sizes, c.constant_ints(3, "sizes"));
  }
  return emit_resize(c, x, mode, ctm, nearest_mode, scales, sizes, cubic_a, exclude_outside, extrapolation);
}

Status convert_upsample(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  const auto given_or = c.attr_string("mode", "nearest");
  if (!given_or) return std::unexpected(given_or.error());
  const std::string& given = *given_or;
  const std::string mode = given == "bilinear" ? std::string("linear") : given;
  if (mode != "nearest" && mode != "linear")
    return make_error(ErrorCode::kUnsupported, "mode '{}' is not supported (nearest, linear)", given);
  std::vector<float> scales;
  if (c.opset() < 9) {
    if (!c.has_attr("scales")) return make_error(ErrorCode::kInvalidArgument, "attribute 'scales' is required");
    EL_TRY(scales, c.attr_floats("scales"));
  } else {
    EL_TRY(scales, c.constant_floats(1, "scales"));
  }
  return emit_resize(c, x, mode, "asymmetric", "floor", scales, {}, -0.75f, 0, 0.f);
}

Status convert_gather(NodeContext& c) {
  EL_TRY(TensorId data, c.input(0));
  EL_TRY(TensorId indices, c.input(1));
  EL_TRY(int64_t axis, c.attr_int("axis", 0));
  EL_TRY(axis, normalize_axis(axis, static_cast<int64_t>(c.shape(data).size())));
  Attributes a;
  a.set("axis", axis);
  return c.emit_or_fold(OpType::kGather, {data, indices}, std::move(a));
}

Status convert_cast(NodeContext& c) {
  EL_TRY(TensorId x, c.input(0));
  if (!c.has_attr("to")) return make_error(ErrorCode::kInvalidArgument, "attribute 'to' is required");
  EL_TRY(int64_t to, c.attr_int("to", 0));
  auto dtype = dtype_from_onnx(static_cast<int32_t>(std::clamp<int64_t>(to, -1, 1 << 20)));
  if (!dtype)
    return make_error(ErrorCode::kUnsupported, "casting to {} is not supported (float, float16, int8, uint8, int32, "
                      "int64, bool are)", onnx_type_name(static_cast<int32_t>(std::clamp<int64_t>(to, -1, 1 << 20))));
  if (*dtype == c.tensor(x).dtype && c.tensor(x).quant.empty()) {
    c.alias_output(0, x);
    return ok();
  }
  Attributes a;
  a.set("to", std::string(dtype_name(*dtype)));
  return c.emit_or_fold(OpType::kCast, {x}, std::move(a));
}

ConverterTable make_table() {
  ConverterTable t;
  register_nn_converters(t);
  t["Identity"] = convert_identity;
  t["Dropout"] = convert_dropout;
  t["Constant"] = convert_constant;
  t["Shape"] = convert_shape;
  t["Size"] = convert_size;
  t["ConstantOfShape"] = convert_constant_of_shape;
  t["Range"] = convert_range;
  t["Reshape"] = convert_reshape;
  t["Flatten"] = convert_flatten;
  t["Squeeze"] = convert_squeeze;
  t["Unsqueeze"] = convert_unsqueeze;
  t["Transpose"] = convert_transpose;
  t["Concat"] = convert_concat;
  t["Split"] = convert_split;
  t["Slice"] = convert_slice;
  t["Pad"] = convert_pad;
  t["Resize"] = convert_resize;
  t["Upsample"] = convert_upsample;
  t["Gather"] = convert_gather;
  t["Cast"] = convert_cast;
  return t;
}

const ConverterTable& table() {
  static const ConverterTable t = make_table();
  return t;
}

}  // namespace

const Converter* find_converter(std::string_view op_type) {
  auto it = table().find(std::string(op_type));
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> supported_onnx_ops() {
  std::set<std::string> names;
  for (const auto& [name, fn] : table()) names.insert(name);
  return {names.begin(), names.end()};
}

}  // namespace edgeloop::model::onnx_import
