#include "edgeloop/model/onnx/fold.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "edgeloop/model/half.h"
#include "edgeloop/model/onnx/params.h"
#include "edgeloop/model/shapes/data_params.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model::onnx_import {

std::optional<std::vector<int64_t>> read_ints(const Tensor& t) {
  const int64_t n = t.elements();
  if (n < 0 || t.data.size() != t.byte_size()) return std::nullopt;
  std::vector<int64_t> v(static_cast<size_t>(n));
  const std::byte* p = t.data.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kI64: v[i] = load_le<int64_t>(p + 8 * i); break;
      case DType::kI32: v[i] = load_le<int32_t>(p + 4 * i); break;
      case DType::kI8: v[i] = load_le<int8_t>(p + i); break;
      case DType::kU8: v[i] = load_le<uint8_t>(p + i); break;
      case DType::kBool: v[i] = load_le<uint8_t>(p + i) != 0; break;
      default: return std::nullopt;
    }
  }
  return v;
}

std::optional<std::vector<float>> read_floats(const Tensor& t) {
  const int64_t n = t.elements();
  if (n < 0 || t.data.size() != t.byte_size()) return std::nullopt;
  if (t.dtype == DType::kF32) {
    std::vector<float> v(static_cast<size_t>(n));
    if (n > 0) std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    return v;
  }
  if (t.dtype == DType::kF16) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = half_to_float(load_le<uint16_t>(t.data.data() + 2 * i));
    return v;
  }
  auto ints = read_ints(t);
  if (!ints) return std::nullopt;
  return std::vector<float>(ints->begin(), ints->end());
}

namespace {

using Outputs = std::optional<std::vector<Tensor>>;

Shape strides_of(const Shape& s) {
  Shape st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Calls f(out_flat_index, multi_index) for every element of `shape`, in row-major order.
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  const int64_t n = num_elements(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(flat, idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

Result<size_t> checked_bytes(DType dtype, const Shape& shape) {
  const int64_t n = num_elements(shape);
  if (n < 0) return make_error(ErrorCode::kInvalidArgument, "result shape {} is invalid (negative, or more than 2^59 elements)", shape_str(shape));
  if (!fits_fold_limit(dtype, n)) return make_error(ErrorCode::kOutOfRange, "result too large to fold");
  return storage_bytes(dtype, n);
}

Result<Outputs> fold_transpose(const Attributes& a, const Tensor& x) {
  const auto perm = a.get_ints("perm");
  const Shape& in = x.shape;
  if (perm.size() != in.size()) return Outputs{};
  Shape out(in.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(in.size())) return Outputs{};
    out[i] = in[perm[i]];
  }
  EL_TRY(size_t bytes, checked_bytes(x.dtype, out));
  const size_t es = element_size(x.dtype);
  const Shape in_strides = strides_of(in);
  std::vector<std::byte> data(bytes);
  for_each_index(out, [&](int64_t flat, const std::vector<int64_t>& idx) {
    int64_t src = 0;
    for (size_t i = 0; i < idx.size(); ++i) src += idx[i] * in_strides[perm[i]];
    std::memcpy(data.data() + flat * es, x.data.data() + src * es, es);
  });
  std::vector<Tensor> r;
  r.push_back(make_constant({}, x.dtype, out, std::move(data)));
  return Outputs{std::move(r)};
}

Result<Outputs> fold_concat(const Attributes& a, std::span<const Tensor* const> xs) {
  if (xs.empty() || xs[0] == nullptr) return Outputs{};
  const Tensor& first = *xs[0];
  const int64_t axis = a.get_int("axis", -1);
  if (axis < 0 || axis >= static_cast<int64_t>(first.shape.size())) return Outputs{};
  Shape out = first.shape;
  out[axis] = 0;
  for (const Tensor* t : xs) {
    if (t == nullptr || t->dtype != first.dtype || t->shape.size() != first.shape.size()) return Outputs{};
    for (size_t d = 0; d < out.size(); ++d)
      if (static_cast<int64_t>(d) != axis && t->shape[d] != first.shape[d]) return Outputs{};
    out[axis] += t->shape[axis];
  }
  EL_TRY(size_t bytes, checked_bytes(first.dtype, out));
  const size_t es = element_size(first.dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[d];
  for (size_t d = axis + 1; d < out.size(); ++d) inner *= out[d];
  std::vector<std::byte> data(bytes);
  std::byte* dst = data.data();
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor* t : xs) {
      const size_t chunk = static_cast<size_t>(t->shape[axis] * inner) * es;
      if (chunk) std::memcpy(dst, t->data.data() + o * chunk, chunk);
      dst += chunk;
    }
  std::vector<Tensor> r;
  r.push_back(make_constant({}, first.dtype, out, std::move(data)));
  return Outputs{std::move(r)};
}

// Strided copy shared by Slice and Split.
std::vector<std::byte> slice_copy(const Tensor& x, const Shape& out, const std::vector<int64_t>& starts,
                                  const std::vector<int64_t>& steps) {
  const size_t es = element_size(x.dtype);
  const Shape in_strides = strides_of(x.shape);
  std::vector<std::byte> data(storage_bytes(x.dtype, num_elements(out)));
  for_each_index(out, [&](int64_t flat, const std::vector<int64_t>& idx) {
    int64_t src = 0;
    for (size_t i = 0; i < idx.size(); ++i) src += (starts[i] + idx[i] * steps[i]) * in_strides[i];
    std::memcpy(data.data() + flat * es, x.data.data() + src * es, es);
  });
  return data;
}

Result<Outputs> fold_slice(const Attributes& a, const Tensor& x) {
  const auto starts = a.get_ints("starts"), ends = a.get_ints("ends"), steps = a.get_ints("steps");
  const size_t r = x.shape.size();
  if (starts.size() != r || ends.size() != r || steps.size() != r) return Outputs{};
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t dim = x.shape[i], s = starts[i], e = ends[i], st = steps[i];
    if (st == 0) return Outputs{};
    out[i] = slice_extent(s, e, st);
    // Every read must stay inside the input (canonical params are clamped; check anyway).
    if (out[i] > 0) {
      const int64_t last = s + (out[i] - 1) * st;
      if (s < 0 || s >= dim || last < 0 || last >= dim) return Outputs{};
    }
  }
  EL_TRY(size_t bytes, checked_bytes(x.dtype, out));
  (void)bytes;
  std::vector<Tensor> res;
  res.push_back(make_constant({}, x.dtype, out, slice_copy(x, out, starts, steps)));
  return Outputs{std::move(res)};
}

Result<Outputs> fold_split(const Attributes& a, const Tensor& x, size_t num_outputs) {
  const int64_t axis = a.get_int("axis", -1);
  const auto split = a.get_ints("split");
  if (axis < 0 || axis >= static_cast<int64_t>(x.shape.size()) || split.size() != num_outputs) return Outputs{};
  int64_t total = 0;
  for (int64_t s : split) {
    if (s < 0) return Outputs{};
    total += s;
  }
  if (total != x.shape[axis]) return Outputs{};
  std::vector<Tensor> res;
  int64_t offset = 0;
  for (int64_t s : split) {
    Shape out = x.shape;
    out[axis] = s;
    std::vector<int64_t> starts(x.shape.size(), 0), steps(x.shape.size(), 1);
    starts[axis] = offset;
    offset += s;
    res.push_back(make_constant({}, x.dtype, out, slice_copy(x, out, starts, steps)));
  }
  return Outputs{std::move(res)};
}

Result<Outputs> fold_gather(const Attributes& a, const Tensor& x, const Tensor& indices) {
  const int64_t axis = a.get_int("axis", -1);
  if (axis < 0 || axis >= static_cast<int64_t>(x.shape.size())) return Outputs{};
  if (indices.dtype != DType::kI64 && indices.dtype != DType::kI32) return Outputs{};
  auto idx = read_ints(indices);
  if (!idx) return Outputs{};
  const int64_t dim = x.shape[axis];
  for (int64_t& i : *idx) {
    if (i < -dim || i >= dim)
      return make_error(ErrorCode::kInvalidArgument, "Gather index {} out of range for dim {} of size {}", i, axis, dim);
    if (i < 0) i += dim;
  }
  Shape out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  EL_TRY(size_t bytes, checked_bytes(x.dtype, out));
  const size_t es = element_size(x.dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const size_t chunk = static_cast<size_t>(inner) * es;
  std::vector<std::byte> data(bytes);
  std::byte* dst = data.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : *idx) {
      if (chunk) std::memcpy(dst, x.data.data() + (o * dim + i) * chunk, chunk);
      dst += chunk;
    }
  std::vector<Tensor> r;
  r.push_back(make_constant({}, x.dtype, out, std::move(data)));
  return Outputs{std::move(r)};
}

bool castable(DType d) {
  return d == DType::kF32 || d == DType::kI32 || d == DType::kI64 || d == DType::kBool || d == DType::kU8 ||
         d == DType::kI8;
}

template <class T>
T saturate_float(double v) {
  if (std::isnan(v)) return T{0};
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo) return std::numeric_limits<T>::lowest();
  if (v >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(v);  // truncates toward zero, as ONNX's reference (numpy astype) does
}

Result<Outputs> fold_cast(const Attributes& a, const Tensor& x) {
  auto to = parse_dtype(a.get_string("to"));
  if (!to || !castable(*to) || !castable(x.dtype)) return Outputs{};
  EL_TRY(size_t bytes, checked_bytes(*to, x.shape));
  std::vector<std::byte> data(bytes);
  const int64_t n = x.elements();
  const std::byte* src = x.data.data();
  std::byte* dst = data.data();
  for (int64_t i = 0; i < n; ++i) {
    if (x.dtype == DType::kF32) {
      const double v = load_le<float>(src + 4 * i);
      switch (*to) {
        case DType::kF32: store_le<float>(dst + 4 * i, static_cast<float>(v)); break;
        case DType::kI32: store_le<int32_t>(dst + 4 * i, saturate_float<int32_t>(v)); break;
        case DType::kI64: store_le<int64_t>(dst + 8 * i, saturate_float<int64_t>(v)); break;
        case DType::kI8: store_le<int8_t>(dst + i, saturate_float<int8_t>(v)); break;
        case DType::kU8: store_le<uint8_t>(dst + i, saturate_float<uint8_t>(v)); break;
        case DType::kBool: store_le<uint8_t>(dst + i, v != 0); break;
        default: return Outputs{};
      }
      continue;
    }
    int64_t v = 0;
    switch (x.dtype) {
      case DType::kI64: v = load_le<int64_t>(src + 8 * i); break;
      case DType::kI32: v = load_le<int32_t>(src + 4 * i); break;
      case DType::kI8: v = load_le<int8_t>(src + i); break;
      case DType::kU8: v = load_le<uint8_t>(src + i); break;
      case DType::kBool: v = load_le<uint8_t>(src + i) != 0; break;
      default: return Outputs{};
    }
    // Integer narrowing wraps (two's complement), as C and numpy do.
    switch (*to) {
      case DType::kF32: store_le<float>(dst + 4 * i, static_cast<float>(v)); break;
      case DType::kI32: store_le<int32_t>(dst + 4 * i, static_cast<int32_t>(v)); break;
      case DType::kI64: store_le<int64_t>(dst + 8 * i, v); break;
      case DType::kI8: store_le<int8_t>(dst + i, static_cast<int8_t>(v)); break;
      case DType::kU8: store_le<uint8_t>(dst + i, static_cast<uint8_t>(v)); break;
      case DType::kBool: store_le<uint8_t>(dst + i, v != 0); break;
      default: return Outputs{};
    }
  }
  std::vector<Tensor> r;
  r.push_back(make_constant({}, *to, x.shape, std::move(data)));
  return Outputs{std::move(r)};
}

template <class T>
Result<T> arith(OpType op, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case OpType::kAdd: return a + b;
      case OpType::kSub: return a - b;
      case OpType::kMul: return a * b;
      default: return a / b;
    }
  } else {
    using U = std::make_unsigned_t<T>;  // wrapping arithmetic, no signed overflow
    switch (op) {
      case OpType::kAdd: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
      case OpType::kSub: return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
      case OpType::kMul: return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
      default:
        if (b == 0) return make_error(ErrorCode::kInvalidArgument, "integer division by zero");
        if (a == std::numeric_limits<T>::min() && b == -1) return a;
        return static_cast<T>(a / b);  // truncates toward zero, as ONNX runtimes do
    }
  }
}

template <class T>
Result<Outputs> fold_binary_typed(OpType op, const Tensor& a, const Tensor& b, const Shape& out) {
  EL_TRY(size_t bytes, checked_bytes(a.dtype, out));
  std::vector<std::byte> data(bytes);
  const size_t r = out.size();
  // Broadcast strides: 0 along dims of size 1 (or missing).
  auto bstrides = [&](const Shape& s) {
    Shape st(r, 0);
    const Shape own = strides_of(s);
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t d = r - s.size() + i;
      st[d] = s[i] == 1 ? 0 : own[i];
    }
    return st;
  };
  const Shape sa = bstrides(a.shape), sb = bstrides(b.shape);
  Status status = ok();
  for_each_index(out, [&](int64_t flat, const std::vector<int64_t>& idx) {
    if (!status) return;
    int64_t ia = 0, ib = 0;
    for (size_t i = 0; i < r; ++i) ia += idx[i] * sa[i], ib += idx[i] * sb[i];
    auto v = arith<T>(op, load_le<T>(a.data.data() + ia * sizeof(T)), load_le<T>(b.data.data() + ib * sizeof(T)));
    if (!v) {
      status = std::unexpected(v.error());
      return;
    }
    store_le<T>(data.data() + flat * sizeof(T), *v);
  });
  EL_CHECK(status);
  std::vector<Tensor> res;
  res.push_back(make_constant({}, a.dtype, out, std::move(data)));
  return Outputs{std::move(res)};
}

Result<Outputs> fold_binary(OpType op, const Tensor& a, const Tensor& b) {
  if (a.dtype != b.dtype) return Outputs{};
  auto out = broadcast_shapes(a.shape, b.shape);
  if (!out) return Outputs{};
  switch (a.dtype) {
    case DType::kF32: return fold_binary_typed<float>(op, a, b, *out);
    case DType::kI32: return fold_binary_typed<int32_t>(op, a, b, *out);
    case DType::kI64: return fold_binary_typed<int64_t>(op, a, b, *out);
    default: return Outputs{};
  }
}

}  // namespace

Result<std::optional<std::vector<Tensor>>> fold(OpType op, const Attributes& attrs,
                                                std::span<const Tensor* const> inputs, size_t num_outputs) {
  for (const Tensor* t : inputs) {
    // Quantized constants keep their node: their meaning depends on the quantization parameters.
    if (t == nullptr || !t->constant || t->dtype == DType::kI4 || !t->quant.empty() ||
        t->data.size() != t->byte_size())
      return Outputs{};
  }
  if (inputs.empty()) return Outputs{};
  const Tensor& x = *inputs[0];
  switch (op) {
    case OpType::kReshape: {
      Shape out = attrs.get_ints("shape");
      if (num_elements(out) != x.elements() || num_outputs != 1) return Outputs{};
      Tensor t = x;
      t.name.clear();
      t.quant = {};
      t.shape = std::move(out);
      std::vector<Tensor> r;
      r.push_back(std::move(t));
      return Outputs{std::move(r)};
    }
    case OpType::kTranspose: return fold_transpose(attrs, x);
    case OpType::kConcat: return fold_concat(attrs, inputs);
    case OpType::kSplit: return fold_split(attrs, x, num_outputs);
    case OpType::kSlice: return fold_slice(attrs, x);
    case OpType::kGather:
      if (inputs.size() != 2) return Outputs{};
      return fold_gather(attrs, x, *inputs[1]);
    case OpType::kCast: return fold_cast(attrs, x);
    case OpType::kAdd:
    case OpType::kSub:
    case OpType::kMul:
    case OpType::kDiv:
      if (inputs.size() != 2) return Outputs{};
      return fold_binary(op, x, *inputs[1]);
    default: return Outputs{};
  }
}

}  // namespace edgeloop::model::onnx_import
