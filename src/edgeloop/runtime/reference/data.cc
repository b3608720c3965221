// Reference kernels for the data ops (docs/ops.md).
//
// These ops move stored values without interpreting them, so they work on raw bytes for every
// dtype with whole-byte elements (shape inference refuses i4). Slice, Transpose, Pad and nearest
// Resize are one loop: each output axis gets a table mapping its coordinate to an element offset
// into the input, and the output is filled in row-major order from the sum of those offsets.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "edgeloop/model/half.h"
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

namespace {

using Dims = std::span<const int64_t>;
using AxisOffsets = std::vector<std::vector<int64_t>>;  // [axis][coordinate] -> element offset, -1 = fill
constexpr int64_t kFill = -1;

int64_t product(Dims dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Row-major element strides.
std::vector<int64_t> strides_of(Dims shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

// Advances `index` over the first `axes` dims of `shape` in row-major order; false after the last.
bool next_index(std::vector<int64_t>& index, Dims shape, size_t axes) {
  for (size_t d = axes; d-- > 0;) {
    if (++index[d] < shape[d]) return true;
    index[d] = 0;
  }
  return false;
}

// Writes every element of `out`: the element at output coordinate (i0, i1, ...) is the input
// element at offset offsets[0][i0] + offsets[1][i1] + ..., or `fill` when any of them is kFill.
void copy_by_axis_offsets(const TensorView& out, const std::byte* in, const AxisOffsets& offsets,
                          const std::byte* fill = nullptr) {
  const size_t esize = model::element_size(out.dtype);
  const size_t rank = out.rank();
  if (out.elements() == 0) return;
  if (rank == 0) {
    std::memcpy(out.data, in, esize);
    return;
  }
  const std::vector<int64_t>& last = offsets[rank - 1];
  std::vector<int64_t> index(rank, 0);
  std::byte* dst = out.data;
  do {  // one row: every axis but the last fixed
    int64_t base = 0;
    bool fill_row = false;
    for (size_t d = 0; d + 1 < rank; ++d) {
      const int64_t o = offsets[d][index[d]];
      fill_row |= o == kFill;
      base += o;
    }
    for (int64_t o : last) {
      if (fill_row || o == kFill)
        std::memcpy(dst, fill, esize);
      else
        std::memcpy(dst, in + static_cast<size_t>(base + o) * esize, esize);
      dst += esize;
    }
  } while (next_index(index, out.shape, rank - 1));
}

// Reads element i of an i32 or i64 index tensor.
int64_t load_index(const TensorView& t, int64_t i) {
  if (t.dtype == DType::kI32) return load_le<int32_t>(t.data + i * 4);
  return load_le<int64_t>(t.data + i * 8);
}

// A plain integer value, or for a quantized tensor the quantized real value (round half to even,
// saturate).
template <class T>
T integer_fill(float value, const model::QuantParams& q) {
  double v = value;
  if (!q.empty()) v = std::nearbyint(static_cast<double>(value) / q.scales[0]) + q.zero_point(0);
  // 9.2e18 keeps the i64 bounds inside the range a double converts back from.
  const double lo = std::max(static_cast<double>(std::numeric_limits<T>::lowest()), -9.2e18);
  const double hi = std::min(static_cast<double>(std::numeric_limits<T>::max()), 9.2e18);
  return static_cast<T>(std::isnan(v) ? 0.0 : std::clamp(v, lo, hi));
}

// Pad's constant as one stored element of `t`'s dtype.
std::array<std::byte, 8> fill_bytes(float value, const TensorView& t) {
  std::array<std::byte, 8> b{};
  switch (t.dtype) {
    case DType::kF32: store_le(b.data(), value); break;
    case DType::kF16: store_le(b.data(), model::float_to_half(value)); break;
    case DType::kBool: store_le<uint8_t>(b.data(), value != 0.f ? 1 : 0); break;
    case DType::kI8: store_le(b.data(), integer_fill<int8_t>(value, *t.quant)); break;
    case DType::kU8: store_le(b.data(), integer_fill<uint8_t>(value, *t.quant)); break;
    case DType::kI32: store_le(b.data(), integer_fill<int32_t>(value, *t.quant)); break;
    case DType::kI64: store_le(b.data(), integer_fill<int64_t>(value, *t.quant)); break;
    case DType::kI4: break;  // refused by shape inference
  }
  return b;
}

// Maps u (a coordinate relative to a window of n >= 1 values) into [0, n) by mirroring at the
// edges without repeating them, like numpy's 'reflect': period 2(n-1).
int64_t reflect_index(int64_t u, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t r = u % period;
  if (r < 0) r += period;
  return r < n ? r : period - r;
}

// ---- Resize ----

struct Tap {
  int64_t index;  // input coordinate, already clamped into [0, dim)
  double weight;
};

struct ResizeOptions {
  std::string mode, ctm, nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

// ONNX's coordinate_transformation_mode: where output coordinate x lands in the input. The
// resized length is dim * scale, as in the ONNX reference (it is not rounded to the output size).
double original_coordinate(const ResizeOptions& r, int64_t x_out, double scale, int64_t dim) {
  const double x = static_cast<double>(x_out);
  const double length_resized = scale * static_cast<double>(dim);
  if (r.ctm == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (r.ctm == "pytorch_half_pixel") return length_resized > 1.0 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (r.ctm == "align_corners")  // x == 0 maps to 0 even when the resized length is exactly 1
    return x == 0.0 || length_resized == 1.0 ? 0.0 : x * static_cast<double>(dim - 1) / (length_resized - 1.0);
  if (r.ctm == "asymmetric") return x / scale;
  return (x + 0.5) / scale;  // tf_half_pixel_for_nn
}

std::array<double, 4> cubic_coeffs(double t, double a) {
  // Keys' cubic convolution at distances 1+t, t, 1-t, 2-t from the four neighbours.
  auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };         // |d| <= 1
  auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };   // 1 < |d| < 2
  return {far(1 + t), near(t), near(1 - t), far(2 - t)};
}

// The input taps of one output coordinate along one axis. Like the ONNX reference, an exact
// hit on input coordinate k is treated as fraction 1 past k-1, which puts all the weight on k.
std::vector<Tap> taps_for(const ResizeOptions& r, int64_t x_out, double scale, int64_t dim) {
  // x_original stays within about [-0.5, dim] for valid attributes; the clamp only keeps the
  // integer conversion defined.
  const double x = std::clamp(original_coordinate(r, x_out, scale, dim), -4.0, static_cast<double>(dim) + 4.0);
  const double fl = std::floor(x);
  const bool exact = x == fl;
  const auto base = static_cast<int64_t>(exact ? fl - 1 : fl);
  const double t = exact ? 1.0 : x - fl;
  std::vector<Tap> taps;
  if (r.mode == "nearest") {
    bool up = true;  // exact hits take base + 1 == x
    if (!exact) {
      if (r.nearest_mode == "round_prefer_floor") up = t > 0.5;
      else if (r.nearest_mode == "round_prefer_ceil") up = t >= 0.5;
      else up = r.nearest_mode == "ceil";
    }
    taps.push_back({base + (up ? 1 : 0), 1.0});
  } else if (r.mode == "linear") {
    taps = {{base, 1.0 - t}, {base + 1, t}};
  } else {
    const std::array<double, 4> c = cubic_coeffs(t, r.cubic_a);
    for (int k = 0; k < 4; ++k) taps.push_back({base - 1 + k, c[k]});
  }
  if (r.exclude_outside && r.mode != "nearest") {
    double sum = 0;
    for (Tap& tap : taps) {
      if (tap.index < 0 || tap.index >= dim) tap.weight = 0;
      sum += tap.weight;
    }
    if (sum != 0)
      for (Tap& tap : taps) tap.weight /= sum;
  }
  // Outside the input, sampling repeats the edge value (the ONNX reference pads with 'edge').
  std::erase_if(taps, [](const Tap& tap) { return tap.weight == 0.0; });
  for (Tap& tap : taps) tap.index = std::clamp<int64_t>(tap.index, 0, dim - 1);
  return taps;
}

// The scale of one axis. When ONNX gave `sizes`, the importer stored float(size / dim), but the
// ONNX reference works with the exact ratio in double, and float rounding moves coordinates that
// fall exactly halfway between two pixels (e.g. 6 -> 7 with half_pixel) to the other side. So
// when the stored scale is that ratio rounded, use the ratio itself.
double axis_scale(float stored, int64_t dim, int64_t size) {
  const double ratio = static_cast<double>(size) / static_cast<double>(dim);
  return static_cast<float>(ratio) == stored ? ratio : static_cast<double>(stored);
}

// Sum over the taps of axes [axis, rank) of weight * input, nested one axis at a time like the
// ONNX reference (innermost axes first), in double.
double interpolate(const float* in, const std::vector<std::vector<std::vector<Tap>>>& taps, const std::vector<int64_t>& index,
                   const std::vector<int64_t>& strides, size_t axis, int64_t offset) {
  if (axis == taps.size()) return in[offset];
  double sum = 0;
  for (const Tap& tap : taps[axis][index[axis]])
    sum += tap.weight * interpolate(in, taps, index, strides, axis + 1, offset + tap.index * strides[axis]);
  return sum;
}

}  // namespace

Status run_Reshape(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  if (y.bytes() > 0 && y.data != x.data) std::memmove(y.data, x.data, y.bytes());
  return ok();
}

Status run_Transpose(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const std::vector<int64_t> perm = ctx.node.attrs.get_ints("perm");
  const std::vector<int64_t> in_strides = strides_of(x.shape);
  AxisOffsets offsets(y.rank());
  for (size_t d = 0; d < y.rank(); ++d)
    for (int64_t i = 0; i < y.dim(d); ++i) offsets[d].push_back(i * in_strides[perm[d]]);
  copy_by_axis_offsets(y, x.data, offsets);
  return ok();
}

Status run_Concat(const KernelContext& ctx) {
  const TensorView& y = ctx.outputs[0];
  const auto axis = static_cast<size_t>(ctx.node.attrs.get_int("axis"));
  const size_t esize = model::element_size(y.dtype);
  const int64_t outer = product(y.shape.first(axis));
  const auto inner_bytes = static_cast<size_t>(product(y.shape.subspan(axis + 1))) * esize;
  std::byte* dst = y.data;
  for (int64_t o = 0; o < outer; ++o)
    for (const TensorView& x : ctx.inputs) {
      const size_t chunk = static_cast<size_t>(x.dim(axis)) * inner_bytes;
      if (chunk == 0) continue;
      std::memcpy(dst, x.data + static_cast<size_t>(o) * chunk, chunk);
      dst += chunk;
    }
  return ok();
}

Status run_Split(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const auto axis = static_cast<size_t>(ctx.node.attrs.get_int("axis"));
  const size_t esize = model::element_size(x.dtype);
  const int64_t outer = product(x.shape.first(axis));
  const auto inner_bytes = static_cast<size_t>(product(x.shape.subspan(axis + 1))) * esize;
  const std::byte* src = x.data;
  for (int64_t o = 0; o < outer; ++o)
    for (const TensorView& y : ctx.outputs) {
      const size_t chunk = static_cast<size_t>(y.dim(axis)) * inner_bytes;
      if (chunk == 0) continue;
      std::memcpy(y.data + static_cast<size_t>(o) * chunk, src, chunk);
      src += chunk;
    }
  return ok();
}

Status run_Slice(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const std::vector<int64_t> starts = ctx.node.attrs.get_ints("starts");
  const std::vector<int64_t> steps = ctx.node.attrs.get_ints("steps");
  const std::vector<int64_t> in_strides = strides_of(x.shape);
  AxisOffsets offsets(y.rank());
  for (size_t d = 0; d < y.rank(); ++d)
    for (int64_t i = 0; i < y.dim(d); ++i) offsets[d].push_back((starts[d] + i * steps[d]) * in_strides[d]);
  copy_by_axis_offsets(y, x.data, offsets);
  return ok();
}

// Negative pads crop first; the remaining window is then padded, so reflect and edge mirror
// around the edges of what is kept.
Status run_Pad(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const std::string mode = ctx.node.attrs.get_string("mode");
  const std::vector<int64_t> pads = ctx.node.attrs.get_ints("pads");
  const std::array<std::byte, 8> fill = fill_bytes(ctx.node.attrs.get_float("value"), x);
  const size_t rank = x.rank();
  const std::vector<int64_t> in_strides = strides_of(x.shape);
  AxisOffsets offsets(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t begin = pads[d], end = pads[d + rank];
    const int64_t crop = std::max<int64_t>(0, -begin);
    const int64_t kept = x.dim(d) - crop - std::max<int64_t>(0, -end);
    const int64_t lead = std::max<int64_t>(0, begin);
    for (int64_t o = 0; o < y.dim(d); ++o) {
      int64_t u = o - lead;  // coordinate inside the kept window
      if (u < 0 || u >= kept) {
        if (mode == "constant") {
          offsets[d].push_back(kFill);
          continue;
        }
        u = mode == "edge" ? std::clamp<int64_t>(u, 0, kept - 1) : reflect_index(u, kept);
      }
      offsets[d].push_back((crop + u) * in_strides[d]);
    }
  }
  copy_by_axis_offsets(y, x.data, offsets, fill.data());
  return ok();
}

Status run_Resize(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const model::Attributes& attrs = ctx.node.attrs;
  const ResizeOptions r{attrs.get_string("mode"), attrs.get_string("coordinate_transformation_mode"),
                     attrs.get_string("nearest_mode"), attrs.get_float("cubic_coeff_a", -0.75f),
                     attrs.get_int("exclude_outside") != 0};
  const std::vector<float> scales = attrs.get_floats("scales");
  const size_t rank = x.rank();
  if (y.elements() == 0) return ok();
  std::vector<std::vector<std::vector<Tap>>> taps(rank);  // [axis][output coordinate]
  for (size_t d = 0; d < rank; ++d) {
    const double scale = axis_scale(scales[d], x.dim(d), y.dim(d));
    for (int64_t i = 0; i < y.dim(d); ++i) taps[d].push_back(taps_for(r, i, scale, x.dim(d)));
  }
  const std::vector<int64_t> in_strides = strides_of(x.shape);

  if (r.mode == "nearest") {  // one tap per axis: a pure copy, for any dtype
    AxisOffsets offsets(rank);
    for (size_t d = 0; d < rank; ++d)
      for (const std::vector<Tap>& t : taps[d]) offsets[d].push_back(t.front().index * in_strides[d]);
    copy_by_axis_offsets(y, x.data, offsets);
    return ok();
  }
  const float* in = x.as<const float>();
  float* out = y.as<float>();
  std::vector<int64_t> index(rank, 0);
  do {
    *out++ = static_cast<float>(interpolate(in, taps, index, in_strides, 0, 0));
  } while (next_index(index, y.shape, rank));
  return ok();
}

Status run_Gather(const KernelContext& ctx) {
  const TensorView& data = ctx.inputs[0];
  const TensorView& indices = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const auto axis = static_cast<size_t>(ctx.node.attrs.get_int("axis"));
  const int64_t dim = data.dim(axis);
  const int64_t count = indices.elements();
  // Check every index before writing anything.
  std::vector<int64_t> resolved(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = load_index(indices, k);
    if (i < -dim || i >= dim)
      return ctx.fail(ErrorCode::kOutOfRange, "index {} (element {} of indices) is out of range for axis {} of size {} (valid: {} to {})",
                      i, k, axis, dim, -dim, dim - 1);
    resolved[k] = i < 0 ? i + dim : i;
  }
  const size_t esize = model::element_size(data.dtype);
  const int64_t outer = product(data.shape.first(axis));
  const auto inner_bytes = static_cast<size_t>(product(data.shape.subspan(axis + 1))) * esize;
  if (inner_bytes == 0) return ok();
  std::byte* dst = y.data;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : resolved) {
      std::memcpy(dst, data.data + static_cast<size_t>(o * dim + i) * inner_bytes, inner_bytes);
      dst += inner_bytes;
    }
  return ok();
}

}  // namespace edgeloop::runtime::reference
