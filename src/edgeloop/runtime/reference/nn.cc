// Reference kernels for the nn ops (docs/ops.md). Plain loops, written to be obviously right:
// float sums accumulate in double and round once; integer sums accumulate exactly in int64 (the
// int32 accumulator of ONNX's QLinear ops, without its overflow).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {
namespace {

using model::QuantParams;

// ---- quantization arithmetic (docs/quantization.md, "Arithmetic of quantized kernels") ----

// round_half_to_even(v) + zero_point, saturated to T's range (NaN maps to the zero point).
template <class T>
T quantize_value(double v, int32_t zero_point) {
  return static_cast<T>(quantize_rounded(v, zero_point, {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()}));
}

// Which scale/zero point applies to element `i` of a row-major tensor quantized per tensor or
// per channel along q.axis.
struct QuantIndex {
  int64_t inner = 1;     // elements per step along the axis
  int64_t channels = 1;  // 1 for per tensor

  QuantIndex(const QuantParams& q, std::span<const int64_t> shape) {
    if (q.scales.size() <= 1 || q.axis < 0) return;
    channels = shape[q.axis];
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  }
  size_t operator()(int64_t i) const { return static_cast<size_t>((i / inner) % channels); }
};

// Calls f(T{}) with T the C++ type of an 8-bit quantized dtype (u8 or i8).
template <class F>
Status visit_int8(model::DType t, F&& f) {
  if (t == DType::kU8) return f(uint8_t{});
  return f(int8_t{});
}

// Turns the exact integer accumulator of a W8A8 op (input units × weight units of channel c, bias
// included) into an output value, as the node's 'requantize' attribute says:
//   "float" (or absent): acc · m_c in double, rounded half to even (ONNX QLinearConv/QLinearMatMul;
//                        this matches their test data)
//   "fixed_point":       requantize(acc, quantize_multiplier(m_c))
// then + the output zero point, saturated. m_c = x_scale · w_scale[c] / y_scale in double.
class Requantizer {
 public:
  static Result<Requantizer> make(const KernelContext& ctx, const QuantParams& in, const QuantParams& weight,
                                  const TensorView& out) {
    Requantizer r;
    r.fixed_point_ = ctx.node.attrs.get_string("requantize") == "fixed_point";
    r.zero_point_ = out.quant->zero_point(0);
    r.range_ = quant_range(out.dtype);
    for (size_t c = 0; c < weight.scales.size(); ++c) {
      const double m = double{in.scales[0]} * double{weight.scales[c]} / double{out.quant->scales[0]};
      r.multiplier_.push_back(m);
      if (r.fixed_point_) {
        auto f = quantize_multiplier(m);
        if (!f) return ctx.fail(f.error().code, "{}", f.error().message);
        r.fixed_.push_back(*f);
      }
    }
    return r;
  }
  // The output value of accumulator `acc` of weight channel c (0 when per tensor).
  int32_t operator()(int64_t acc, size_t c) const {
    if (fixed_point_) return static_cast<int32_t>(clamp_to(requantize(acc, fixed_[c]) + zero_point_, range_));
    return quantize_rounded(static_cast<double>(acc) * multiplier_[c], zero_point_, range_);
  }

 private:
  bool fixed_point_ = false;
  int32_t zero_point_ = 0;
  QuantRange range_;
  std::vector<double> multiplier_;
  std::vector<FixedPointMultiplier> fixed_;
};

// ---- sliding windows (Conv, ConvTranspose, MaxPool, AveragePool) ----

constexpr size_t kMaxSpatial = 3;
using SpatialArray = std::array<int64_t, kMaxSpatial>;

// A window sliding over the spatial dims of (N, C, D1[, D2[, D3]]) tensors.
struct Window {
  size_t rank = 0;
  SpatialArray in{}, out{}, kernel{}, stride{}, dilation{}, pad_begin{}, pad_end{};
  int64_t in_size = 1, out_size = 1, kernel_size = 1;  // products over the spatial dims
};

// `kernel` holds the window's spatial extents; strides, pads and dilations (1 when the op has
// none) come from the node, already validated by shape inference.
Window make_window(const TensorView& x, const TensorView& y, std::span<const int64_t> kernel,
                   const model::Attributes& attrs) {
  Window w;
  w.rank = x.rank() - 2;
  const std::vector<int64_t> strides = attrs.get_ints("strides");
  const std::vector<int64_t> pads = attrs.get_ints("pads");
  const std::vector<int64_t> dilations = attrs.get_ints("dilations", std::vector<int64_t>(w.rank, 1));
  for (size_t d = 0; d < w.rank; ++d) {
    w.in[d] = x.dim(d + 2);
    w.out[d] = y.dim(d + 2);
    w.kernel[d] = kernel[d];
    w.stride[d] = strides[d];
    w.dilation[d] = dilations[d];
    w.pad_begin[d] = pads[d];
    w.pad_end[d] = pads[d + w.rank];
    w.in_size *= w.in[d];
    w.out_size *= w.out[d];
    w.kernel_size *= w.kernel[d];
  }
  return w;
}

// Splits a flat row-major index over `extents` into per-dim coordinates.
SpatialArray unflatten(int64_t index, const SpatialArray& extents, size_t rank) {
  SpatialArray c{};
  for (size_t d = rank; d-- > 0;) {
    c[d] = index % extents[d];
    index /= extents[d];
  }
  return c;
}

// Calls tap(t, i) for every kernel tap t (flat over the kernel) of output position `o` (flat over
// the output's spatial dims) that reads input position i (flat over the input's spatial dims);
// taps in the padding are skipped. Returns the number of taps inside the padded input
// [-pad_begin, in + pad_end) on every dim: AveragePool's divisor with count_include_pad.
template <class Tap>
int64_t for_each_tap(const Window& w, int64_t o, Tap&& tap) {
  const SpatialArray out_pos = unflatten(o, w.out, w.rank);
  SpatialArray start{};
  int64_t padded_taps = 1;
  for (size_t d = 0; d < w.rank; ++d) {
    start[d] = out_pos[d] * w.stride[d] - w.pad_begin[d];
    int64_t count = 0;
    for (int64_t k = 0; k < w.kernel[d]; ++k) {
      const int64_t c = start[d] + k * w.dilation[d];
      count += c >= -w.pad_begin[d] && c < w.in[d] + w.pad_end[d];
    }
    padded_taps *= count;
  }
  for (int64_t t = 0; t < w.kernel_size; ++t) {
    const SpatialArray k = unflatten(t, w.kernel, w.rank);
    int64_t i = 0;
    bool inside = true;
    for (size_t d = 0; d < w.rank && inside; ++d) {
      const int64_t c = start[d] + k[d] * w.dilation[d];
      inside = c >= 0 && c < w.in[d];
      i = i * w.in[d] + c;
    }
    if (inside) tap(t, i);
  }
  return padded_taps;
}

// The transposed window: output position o receives input position i through tap t when
// o = i * stride + t * dilation - pad_begin on every dim. Calls tap(t, i) for each such pair.
template <class Tap>
void for_each_transposed_tap(const Window& w, int64_t o, Tap&& tap) {
  const SpatialArray out_pos = unflatten(o, w.out, w.rank);
  for (int64_t t = 0; t < w.kernel_size; ++t) {
    const SpatialArray k = unflatten(t, w.kernel, w.rank);
    int64_t i = 0;
    bool inside = true;
    for (size_t d = 0; d < w.rank && inside; ++d) {
      const int64_t scaled = out_pos[d] + w.pad_begin[d] - k[d] * w.dilation[d];  // = i * stride
      const int64_t c = scaled / w.stride[d];
      inside = scaled >= 0 && scaled % w.stride[d] == 0 && c < w.in[d];
      i = i * w.in[d] + c;
    }
    if (inside) tap(t, i);
  }
}

// ---- exact integer and double dot-product rows ----
//
// Every product kernel below reduces to one loop: for a vector w[k0..k1) of scalars and the
// matching rows of a matrix (row k: `count` contiguous values), acc[o] += Σ_k w[k]·row_k[o], k
// ascending. The loop over o is innermost and contiguous. Four rows are taken per pass:
// acc + w0·r0 + w1·r1 + w2·r2 + w3·r3 is evaluated left to right (C++ '+' associates left, and
// -ffp-contract=off keeps every product and sum rounded on its own), so the sum order is exactly
// that of one row at a time, with a quarter of the loads and stores of acc.

// Exact: values are zero-point-corrected 8-bit or 4-bit integers (|w|, |row| ≤ 255), so a partial
// sum over at most kExactChunk terms fits int32 (32768 · 255² < 2^31); partial sums are added into
// the int64 accumulators.
constexpr int64_t kExactChunk = 32768;

void accumulate_exact(const int16_t* w, const int16_t* rows, int64_t k0, int64_t k1, int64_t count,
                      std::vector<int32_t>& partial, int64_t* acc) {
  partial.resize(static_cast<size_t>(count));
  int32_t* part = partial.data();
  for (int64_t chunk = k0; chunk < k1; chunk += kExactChunk) {
    std::fill(part, part + count, 0);
    const int64_t end = std::min(k1, chunk + kExactChunk);
    int64_t k = chunk;
    for (; k + 4 <= end; k += 4) {
      const int32_t w0 = w[k], w1 = w[k + 1], w2 = w[k + 2], w3 = w[k + 3];
      const int16_t* r0 = rows + k * count;
      const int16_t* r1 = r0 + count;
      const int16_t* r2 = r1 + count;
      const int16_t* r3 = r2 + count;
      for (int64_t o = 0; o < count; ++o) part[o] += w0 * r0[o] + w1 * r1[o] + w2 * r2[o] + w3 * r3[o];
    }
    for (; k < end; ++k) {
      const int32_t wk = w[k];
      const int16_t* row = rows + k * count;
      for (int64_t o = 0; o < count; ++o) part[o] += wk * row[o];
    }
    for (int64_t o = 0; o < count; ++o) acc[o] += part[o];
  }
}

// Float: products of two floats are exact in double; they are summed in double, k ascending.
void accumulate_double(const double* w, const double* rows, int64_t k_count, int64_t count, double* acc) {
  int64_t k = 0;
  for (; k + 4 <= k_count; k += 4) {
    const double w0 = w[k], w1 = w[k + 1], w2 = w[k + 2], w3 = w[k + 3];
    const double* r0 = rows + k * count;
    const double* r1 = r0 + count;
    const double* r2 = r1 + count;
    const double* r3 = r2 + count;
    for (int64_t o = 0; o < count; ++o) acc[o] = acc[o] + w0 * r0[o] + w1 * r1[o] + w2 * r2[o] + w3 * r3[o];
  }
  for (; k < k_count; ++k) {
    const double wk = w[k];
    const double* row = rows + k * count;
    for (int64_t o = 0; o < count; ++o) acc[o] += wk * row[o];
  }
}

// The other orientation, for B stored [N, K] (Gemm with transB): acc[j] += Σ_p a[p]·B[j][p] for j
// in [0, n), p ascending over [k0, k1).
// Float: four outputs at a time keep four independent sums in flight (a sum's additions wait for
// each other); each is still summed in p order, from 0, then added to acc[j] (which the callers
// pass as 0).
void dot_rows_double(const double* a, const float* b, int64_t k, int64_t n, double* acc) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* b0 = b + j * k;
    const float* b1 = b0 + k;
    const float* b2 = b1 + k;
    const float* b3 = b2 + k;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t p = 0; p < k; ++p) {
      const double ap = a[p];
      s0 += ap * static_cast<double>(b0[p]);
      s1 += ap * static_cast<double>(b1[p]);
      s2 += ap * static_cast<double>(b2[p]);
      s3 += ap * static_cast<double>(b3[p]);
    }
    acc[j] += s0, acc[j + 1] += s1, acc[j + 2] += s2, acc[j + 3] += s3;
  }
  for (; j < n; ++j) {
    double sj = 0;
    for (int64_t p = 0; p < k; ++p) sj += a[p] * static_cast<double>(b[j * k + p]);
    acc[j] += sj;
  }
}

// Exact: int32 partial sums over at most kExactChunk terms (see accumulate_exact), added into int64.
void dot_rows_exact(const int16_t* a, const int16_t* b, int64_t k0, int64_t k1, int64_t k, int64_t n, int64_t* acc) {
  for (int64_t j = 0; j < n; ++j) {
    const int16_t* bj = b + j * k;
    for (int64_t chunk = k0; chunk < k1; chunk += kExactChunk) {
      int32_t sum = 0;
      for (int64_t p = chunk; p < std::min(k1, chunk + kExactChunk); ++p) sum += a[p] * bj[p];
      acc[j] += sum;
    }
  }
}

// A float tensor widened to double (exact), so that the product loops need no conversions.
std::vector<double> widen(const float* v, int64_t n) { return std::vector<double>(v, v + n); }

// ---- convolution ----

// Conv: X (N, C, in...), W (M, C/group, kernel...). ConvTranspose: W (C, M/group, kernel...).
struct ConvDims {
  Window win;
  bool transposed = false;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  int64_t group_channels() const { return in_channels / group; }  // input channels per group
  int64_t group_maps() const { return out_channels / group; }     // output channels per group
  int64_t row_length() const { return group_channels() * win.kernel_size; }  // one output channel's weights
};

ConvDims conv_dims(const KernelContext& ctx, bool transposed) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& w = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  ConvDims c;
  c.win = make_window(x, y, w.shape.subspan(2), ctx.node.attrs);
  c.transposed = transposed;
  c.batch = x.dim(0);
  c.in_channels = x.dim(1);
  c.out_channels = y.dim(1);
  c.group = ctx.node.attrs.get_int("group", 1);
  return c;
}

// ConvTranspose: for every output element y[n, m, o], acc = sum over the input channels c of m's
// group and the taps (t, i) that reach o of x[n, c, i] · w[c, m, t]; then finish(flat index of
// y[n, m, o], m, acc).
template <class Finish>
void convolve_transposed(const ConvDims& c, const float* x, const float* w, Finish finish) {
  const Window& win = c.win;
  const int64_t cg = c.group_channels(), mg = c.group_maps();
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t m = 0; m < c.out_channels; ++m) {
      const int64_t g = m / mg;
      for (int64_t o = 0; o < win.out_size; ++o) {
        double acc = 0;
        for_each_transposed_tap(win, o, [&](int64_t t, int64_t i) {
          for (int64_t cl = 0; cl < cg; ++cl) {
            const int64_t ci = g * cg + cl;
            acc += double{x[(n * c.in_channels + ci) * win.in_size + i]} *
                   double{w[(ci * mg + (m - g * mg)) * win.kernel_size + t]};
          }
        });
        finish((n * c.out_channels + m) * win.out_size + o, m, acc);
      }
    }
}

// For every kernel tap t and output position o, the input position it reads (flat over the
// input's spatial dims), or -1 when it falls in the padding.
std::vector<int64_t> tap_table(const Window& w) {
  std::vector<int64_t> table(static_cast<size_t>(w.kernel_size * w.out_size), -1);
  for (int64_t o = 0; o < w.out_size; ++o)
    for_each_tap(w, o, [&](int64_t t, int64_t i) { table[static_cast<size_t>(t * w.out_size + o)] = i; });
  return table;
}

// The forward convolution as products of weight rows with input patches (im2col). For each batch
// item n and group g, output positions are taken in tiles [p0, p0 + count); the tile's patches
// are the rows k = (input channel within the group) · kernel_size + tap — W's own row order — of
// `count` input values each, padded taps holding `pad`. compute(n, g, p0, count, patches) then
// produces the outputs of the group's channels for that tile.
template <class T, class Load, class Compute>
void for_each_patch_tile(const ConvDims& c, Load load, T pad, Compute compute) {
  const Window& win = c.win;
  const int64_t k_count = c.row_length(), cg = c.group_channels();
  const std::vector<int64_t> taps = tap_table(win);
  // Tiles of at most ~32 K patch values keep a tile in cache.
  const int64_t tile = std::clamp<int64_t>(32768 / std::max<int64_t>(k_count, 1), 16, std::max<int64_t>(win.out_size, 16));
  std::vector<T> patches(static_cast<size_t>(k_count * std::min(tile, win.out_size)));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t g = 0; g < c.group; ++g)
      for (int64_t p0 = 0; p0 < win.out_size; p0 += tile) {
        const int64_t count = std::min(tile, win.out_size - p0);
        for (int64_t cl = 0; cl < cg; ++cl) {
          const int64_t plane = (n * c.in_channels + g * cg + cl) * win.in_size;
          for (int64_t t = 0; t < win.kernel_size; ++t) {
            const int64_t* index = taps.data() + t * win.out_size + p0;
            T* row = patches.data() + (cl * win.kernel_size + t) * count;
            for (int64_t o = 0; o < count; ++o) row[o] = index[o] >= 0 ? load(plane + index[o]) : pad;
          }
        }
        compute(n, g, p0, count, patches.data());
      }
}

Status run_float_conv(const KernelContext& ctx) {
  const ConvDims c = conv_dims(ctx, false);
  const TensorView* b = ctx.input(2);
  const float* bias = b != nullptr ? b->as<const float>() : nullptr;
  const float* x = ctx.inputs[0].as<const float>();
  const std::vector<double> w = widen(ctx.inputs[1].as<const float>(), ctx.inputs[1].elements());
  float* y = ctx.outputs[0].as<float>();
  const int64_t k_count = c.row_length(), mg = c.group_maps(), out_size = c.win.out_size;
  std::vector<double> acc;
  for_each_patch_tile<double>(
      c, [x](int64_t i) { return double{x[i]}; }, 0.0,
      [&](int64_t n, int64_t g, int64_t p0, int64_t count, const double* patches) {
        acc.resize(static_cast<size_t>(count));
        for (int64_t m = g * mg; m < (g + 1) * mg; ++m) {
          std::fill(acc.begin(), acc.end(), 0.0);
          accumulate_double(w.data() + m * k_count, patches, k_count, count, acc.data());
          const double bm = bias != nullptr ? bias[m] : 0.0;
          float* out = y + (n * c.out_channels + m) * out_size + p0;
          for (int64_t o = 0; o < count; ++o) out[o] = static_cast<float>(acc[o] + bm);
        }
      });
  return ok();
}

Status run_conv_transpose(const KernelContext& ctx) {
  const ConvDims c = conv_dims(ctx, true);
  const TensorView* b = ctx.input(2);
  const float* bias = b != nullptr ? b->as<const float>() : nullptr;
  float* y = ctx.outputs[0].as<float>();
  convolve_transposed(c, ctx.inputs[0].as<const float>(), ctx.inputs[1].as<const float>(),
                      [&](int64_t index, int64_t m, double acc) {
                        y[index] = static_cast<float>(acc + (bias != nullptr ? bias[m] : 0.0));
                      });
  return ok();
}

// The weights of a W8A8 or W4A8 op as zero-point-corrected int16 in their stored order: w minus
// the zero point of its channel (per tensor, or per channel along the quantization axis; the W4A8
// forms have zero points 0).
std::vector<int16_t> corrected_weights(const TensorView& w) {
  const QuantParams& q = *w.quant;
  // The tensor as outer × channels × inner around the quantization axis.
  int64_t channels = 1, inner = w.elements();
  if (!q.per_tensor() && !q.per_group()) {
    channels = w.dim(static_cast<size_t>(q.axis));
    inner = 1;
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  const int64_t outer = channels * inner == 0 ? 0 : w.elements() / (channels * inner);
  std::vector<int16_t> out(static_cast<size_t>(w.elements()));
  auto correct = [&](auto load) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c) {
        const int32_t zero = q.per_group() ? 0 : q.zero_point(static_cast<size_t>(c));
        const int64_t base = (o * channels + c) * inner;
        for (int64_t e = base; e < base + inner; ++e) out[static_cast<size_t>(e)] = static_cast<int16_t>(load(e) - zero);
      }
  };
  switch (w.dtype) {
    case DType::kI4: correct([&](int64_t i) { return int32_t{model::load_i4(w.data, i)}; }); break;
    case DType::kU8: correct([&](int64_t i) { return int32_t{w.as<const uint8_t>()[i]}; }); break;
    default: correct([&](int64_t i) { return int32_t{w.as<const int8_t>()[i]}; }); break;
  }
  return out;
}

// Loads input element i of a u8/i8 tensor minus its zero point.
struct CorrectedInput {
  const TensorView& x;
  int32_t zero;
  int16_t operator()(int64_t i) const {
    const int32_t v = x.dtype == DType::kU8 ? int32_t{x.as<const uint8_t>()[i]} : int32_t{x.as<const int8_t>()[i]};
    return static_cast<int16_t>(v - zero);
  }
};

// for_each_patch_tile over a u8/i8 input, the patches holding x − x_zero (padded taps 0: they
// contribute nothing, as x_zero would before the correction).
template <class Compute>
void for_each_quantized_patch_tile(const ConvDims& c, const TensorView& x, Compute compute) {
  const int32_t zero = x.quant->zero_point(0);
  auto tiles = [&](const auto* xv) {
    for_each_patch_tile<int16_t>(c, [xv, zero](int64_t i) { return static_cast<int16_t>(xv[i] - zero); }, int16_t{0}, compute);
  };
  if (x.dtype == DType::kU8) tiles(x.as<const uint8_t>());
  else tiles(x.as<const int8_t>());
}

// Calls store(T*) with the output's C++ type (u8 or i8).
template <class F>
void with_int8_output(const TensorView& y, F&& f) {
  if (y.dtype == DType::kU8) f(y.as<uint8_t>());
  else f(y.as<int8_t>());
}

// W8A8 Conv: exact int sums of zero-point-corrected products (padded taps contribute 0), plus the
// int32 bias, requantized per output channel (Requantizer).
Status run_quantized_conv(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& w = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const TensorView* b = ctx.input(2);
  const ConvDims c = conv_dims(ctx, false);
  EL_TRY(const Requantizer requantizer, Requantizer::make(ctx, *x.quant, *w.quant, y));
  const int32_t* bias = b != nullptr ? b->as<const int32_t>() : nullptr;
  const bool per_channel = w.quant->scales.size() > 1;
  const int64_t k_count = c.row_length(), mg = c.group_maps(), out_size = c.win.out_size;
  auto channel = [&](int64_t m) { return per_channel ? static_cast<size_t>(m) : size_t{0}; };
  const std::vector<int16_t> weights = corrected_weights(w);
  std::vector<int64_t> acc;
  std::vector<int32_t> partial;
  with_int8_output(y, [&](auto* out) {
    using TY = std::remove_pointer_t<decltype(out)>;
    for_each_quantized_patch_tile(
        c, x, [&](int64_t n, int64_t g, int64_t p0, int64_t count, const int16_t* patches) {
          acc.resize(static_cast<size_t>(count));
          for (int64_t m = g * mg; m < (g + 1) * mg; ++m) {
            std::fill(acc.begin(), acc.end(), bias != nullptr ? bias[m] : 0);
            accumulate_exact(weights.data() + m * k_count, patches, 0, k_count, count, partial, acc.data());
            TY* dst = out + (n * c.out_channels + m) * out_size + p0;
            for (int64_t o = 0; o < count; ++o) dst[o] = static_cast<TY>(requantizer(acc[o], channel(m)));
          }
        });
  });
  return ok();
}

// W4A8 Conv: W i4 per group along each output channel's row (W's own row-major order); each
// group's exact sum feeds the f32 fma chain (w4a8_accumulate), then w4a8_output.
Status run_w4a8_conv(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& w = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const TensorView* b = ctx.input(2);
  const ConvDims c = conv_dims(ctx, false);
  const model::GroupLayout layout = model::group_layout(model::Shape(w.shape.begin(), w.shape.end()), w.quant->block_size);
  const int64_t k_count = c.row_length(), mg = c.group_maps(), out_size = c.win.out_size;
  const std::vector<int16_t> weights = corrected_weights(w);
  const float* bias = b != nullptr ? b->as<const float>() : nullptr;
  const float x_scale = x.quant->scales[0], y_scale = y.quant->scales[0];
  const int32_t y_zero = y.quant->zero_point(0);
  int8_t* out = y.as<int8_t>();
  // Group sums are int32: |x − x_zero| ≤ 255 and |w| ≤ 8, so up to 2^20 terms cannot overflow.
  if (layout.block_size > (int64_t{1} << 20))
    return ctx.fail(ErrorCode::kUnsupported, "int4 groups of {} weights; at most 2^20 are supported", layout.block_size);
  std::vector<int32_t> partial;
  std::vector<float> sum;
  for_each_quantized_patch_tile(
      c, x, [&](int64_t n, int64_t g, int64_t p0, int64_t count, const int16_t* patches) {
        sum.resize(static_cast<size_t>(count));
        partial.resize(static_cast<size_t>(count));
        for (int64_t m = g * mg; m < (g + 1) * mg; ++m) {
          std::fill(sum.begin(), sum.end(), 0.f);
          const int16_t* wm = weights.data() + m * k_count;
          for (int64_t gi = 0; gi < layout.groups; ++gi) {
            std::fill(partial.begin(), partial.end(), 0);
            const int64_t k0 = gi * layout.block_size, k1 = std::min(k_count, k0 + layout.block_size);
            for (int64_t k = k0; k < k1; ++k) {
              const int32_t wk = wm[k];
              const int16_t* row = patches + k * count;
              for (int64_t o = 0; o < count; ++o) partial[o] += wk * row[o];
            }
            const float scale = w.quant->scales[static_cast<size_t>(m * layout.groups + gi)];
            for (int64_t o = 0; o < count; ++o) sum[o] = w4a8_accumulate(sum[o], partial[o], scale);
          }
          const float bm = bias != nullptr ? bias[m] : 0.f;
          int8_t* dst = out + (n * c.out_channels + m) * out_size + p0;
          for (int64_t o = 0; o < count; ++o) dst[o] = w4a8_output(sum[o], x_scale, bm, y_scale, y_zero);
        }
      });
  return ok();
}

// ---- matrix products ----
//
// Y[i, j] = Σ_p A[i, p] · B[p, j], computed row by row: for each row i of A, the row of outputs
// accumulates A[i, p] times row p of B ([K, N] layout, contiguous over j), p ascending.

// numpy matmul of A (..., M, K) and B (..., K, N) with broadcast batch dims; a 1-D A is [1, K] and
// a 1-D B is [K, 1]. a_matrix/b_matrix: for each output matrix, the index of its A and B matrix.
struct MatMulDims {
  int64_t m = 1, k = 1, n = 1;
  std::vector<int64_t> a_matrix, b_matrix;
};

// For each index of the broadcast batch shape `out`, the matching flat batch index of an operand
// whose batch shape is `in` (right-aligned, size-1 dims repeat).
std::vector<int64_t> broadcast_batch_index(std::span<const int64_t> out, std::span<const int64_t> in) {
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  std::vector<int64_t> index(static_cast<size_t>(total));
  const size_t lead = out.size() - in.size();
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t rest = flat, src = 0, src_stride = 1;
    for (size_t d = out.size(); d-- > 0;) {
      const int64_t coord = rest % out[d];
      rest /= out[d];
      if (d >= lead) {
        const int64_t extent = in[d - lead];
        src += (extent == 1 ? 0 : coord) * src_stride;
        src_stride *= extent;
      }
    }
    index[static_cast<size_t>(flat)] = src;
  }
  return index;
}

MatMulDims matmul_dims(const TensorView& a, const TensorView& b, const TensorView& y) {
  MatMulDims d;
  const size_t ra = a.rank(), rb = b.rank();
  d.k = a.dim(ra - 1);
  if (ra >= 2) d.m = a.dim(ra - 2);
  if (rb >= 2) d.n = b.dim(rb - 1);
  const size_t batch_rank = y.rank() - (ra >= 2) - (rb >= 2);
  const auto out_batch = y.shape.first(batch_rank);
  d.a_matrix = broadcast_batch_index(out_batch, a.shape.first(ra - std::min<size_t>(ra, 2)));
  d.b_matrix = broadcast_batch_index(out_batch, b.shape.first(rb - std::min<size_t>(rb, 2)));
  return d;
}

// W8A8 MatMul: B per tensor or per column, requantized per column (Requantizer).
Status run_quantized_matmul(const KernelContext& ctx, const MatMulDims& d) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  EL_TRY(const Requantizer requantizer, Requantizer::make(ctx, *a.quant, *b.quant, y));
  const bool per_column = b.quant->scales.size() > 1;
  auto column = [&](int64_t j) { return per_column ? static_cast<size_t>(j) : size_t{0}; };
  // B's matrices, zero-point corrected; they are already [K, N].
  const std::vector<int16_t> bq = corrected_weights(b);
  const CorrectedInput a_value{a, a.quant->zero_point(0)};
  std::vector<int16_t> a_row(static_cast<size_t>(d.k));
  std::vector<int64_t> acc(static_cast<size_t>(d.n));
  std::vector<int32_t> partial;
  with_int8_output(y, [&](auto* out) {
    using TY = std::remove_pointer_t<decltype(out)>;
    for (size_t batch = 0; batch < d.a_matrix.size(); ++batch) {
      const int16_t* bm = bq.data() + d.b_matrix[batch] * d.k * d.n;
      for (int64_t i = 0; i < d.m; ++i) {
        for (int64_t p = 0; p < d.k; ++p) a_row[p] = a_value((d.a_matrix[batch] * d.m + i) * d.k + p);
        std::fill(acc.begin(), acc.end(), 0);
        accumulate_exact(a_row.data(), bm, 0, d.k, d.n, partial, acc.data());
        TY* dst = out + (static_cast<int64_t>(batch) * d.m + i) * d.n;
        for (int64_t j = 0; j < d.n; ++j) dst[j] = static_cast<TY>(requantizer(acc[j], column(j)));
      }
    }
  });
  return ok();
}

Status run_float_matmul(const KernelContext& ctx, const MatMulDims& d) {
  const std::vector<double> a = widen(ctx.inputs[0].as<const float>(), ctx.inputs[0].elements());
  const std::vector<double> b = widen(ctx.inputs[1].as<const float>(), ctx.inputs[1].elements());
  float* y = ctx.outputs[0].as<float>();
  std::vector<double> acc(static_cast<size_t>(d.n));
  for (size_t batch = 0; batch < d.a_matrix.size(); ++batch)
    for (int64_t i = 0; i < d.m; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      accumulate_double(a.data() + (d.a_matrix[batch] * d.m + i) * d.k, b.data() + d.b_matrix[batch] * d.k * d.n, d.k,
                        d.n, acc.data());
      float* dst = y + (static_cast<int64_t>(batch) * d.m + i) * d.n;
      for (int64_t j = 0; j < d.n; ++j) dst[j] = static_cast<float>(acc[j]);
    }
  return ok();
}

Status run_float_gemm(const KernelContext& ctx) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView* c = ctx.input(2);
  const TensorView& y = ctx.outputs[0];
  const model::Attributes& attrs = ctx.node.attrs;
  const bool trans_a = attrs.get_int("transA") != 0, trans_b = attrs.get_int("transB") != 0;
  const double alpha = attrs.get_float("alpha"), beta = attrs.get_float("beta");
  const int64_t m = y.dim(0), n = y.dim(1), k = trans_a ? a.dim(0) : a.dim(1);
  const float* av = a.as<const float>();
  const float* bv = b.as<const float>();
  // C broadcasts to [M, N]: a missing or size-1 dim repeats.
  const int64_t c_rows = c != nullptr && c->rank() == 2 ? c->dim(0) : 1;
  const int64_t c_cols = c != nullptr && c->rank() >= 1 ? c->dim(c->rank() - 1) : 1;
  const std::vector<double> b_kn = trans_b ? std::vector<double>{} : widen(bv, k * n);
  float* out = y.as<float>();
  std::vector<double> a_row(static_cast<size_t>(k));
  std::vector<double> acc(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) a_row[p] = trans_a ? av[p * m + i] : av[i * k + p];
    std::fill(acc.begin(), acc.end(), 0.0);
    if (trans_b) {
      dot_rows_double(a_row.data(), bv, k, n, acc.data());
    } else {
      accumulate_double(a_row.data(), b_kn.data(), k, n, acc.data());
    }
    for (int64_t j = 0; j < n; ++j) {
      double value = alpha * acc[j];
      if (c != nullptr) value += beta * c->as<const float>()[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
      out[i * n + j] = static_cast<float>(value);
    }
  }
  return ok();
}

// W8A8 Gemm: A [M, K] per tensor, B [N, K] (transB) or [K, N] per tensor or per output channel,
// C i32 [N]; acc = Σ_p (a − a_zero)(b − b_zero(j)) + C[j], requantized per output channel.
Status run_quantized_gemm(const KernelContext& ctx) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView* c = ctx.input(2);
  const TensorView& y = ctx.outputs[0];
  const bool trans_b = ctx.node.attrs.get_int("transB") != 0;
  const int64_t m = y.dim(0), n = y.dim(1), k = a.dim(1);
  EL_TRY(const Requantizer requantizer, Requantizer::make(ctx, *a.quant, *b.quant, y));
  const bool per_channel = b.quant->scales.size() > 1;
  auto channel = [&](int64_t j) { return per_channel ? static_cast<size_t>(j) : size_t{0}; };
  // B zero-point corrected, in its stored layout.
  const std::vector<int16_t> bq = corrected_weights(b);
  const int32_t* bias = c != nullptr ? c->as<const int32_t>() : nullptr;
  const CorrectedInput a_value{a, a.quant->zero_point(0)};
  std::vector<int16_t> a_row(static_cast<size_t>(k));
  std::vector<int64_t> acc(static_cast<size_t>(n));
  std::vector<int32_t> partial;
  with_int8_output(y, [&](auto* out) {
    using TY = std::remove_pointer_t<decltype(out)>;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p) a_row[p] = a_value(i * k + p);
      for (int64_t j = 0; j < n; ++j) acc[j] = bias != nullptr ? bias[j] : 0;
      if (trans_b) {
        dot_rows_exact(a_row.data(), bq.data(), 0, k, k, n, acc.data());
      } else {
        accumulate_exact(a_row.data(), bq.data(), 0, k, n, partial, acc.data());
      }
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = static_cast<TY>(requantizer(acc[j], channel(j)));
    }
  });
  return ok();
}

// W4A8 Gemm: A [M, K] i8, B [N, K] i4 per group along each row, C f32 [N]: each output channel's
// group sums feed the f32 fma chain (w4a8_accumulate), then w4a8_output.
Status run_w4a8_gemm(const KernelContext& ctx) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView* c = ctx.input(2);
  const TensorView& y = ctx.outputs[0];
  const int64_t m = y.dim(0), n = y.dim(1), k = a.dim(1);
  const model::GroupLayout layout = model::group_layout(model::Shape(b.shape.begin(), b.shape.end()), b.quant->block_size);
  const std::vector<int16_t> bq = corrected_weights(b);
  const float* bias = c != nullptr ? c->as<const float>() : nullptr;
  const float x_scale = a.quant->scales[0], y_scale = y.quant->scales[0];
  const int32_t y_zero = y.quant->zero_point(0);
  const CorrectedInput a_value{a, a.quant->zero_point(0)};
  int8_t* out = y.as<int8_t>();
  std::vector<int16_t> a_row(static_cast<size_t>(k));
  std::vector<int64_t> acc(static_cast<size_t>(n));
  std::vector<float> sum(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) a_row[p] = a_value(i * k + p);
    std::fill(sum.begin(), sum.end(), 0.f);
    for (int64_t gi = 0; gi < layout.groups; ++gi) {
      std::fill(acc.begin(), acc.end(), 0);
      const int64_t k0 = gi * layout.block_size, k1 = std::min(k, k0 + layout.block_size);
      dot_rows_exact(a_row.data(), bq.data(), k0, k1, k, n, acc.data());
      for (int64_t j = 0; j < n; ++j)
        sum[j] = w4a8_accumulate(sum[j], acc[j], b.quant->scales[static_cast<size_t>(j * layout.groups + gi)]);
    }
    for (int64_t j = 0; j < n; ++j) out[i * n + j] = w4a8_output(sum[j], x_scale, bias != nullptr ? bias[j] : 0.f, y_scale, y_zero);
  }
  return ok();
}

// ---- pools ----

// Calls reduce(x_plane, y_plane) for each (n, c) plane of an (N, C, spatial...) tensor pair.
template <class T, class Reduce>
void for_each_plane(const TensorView& x, const TensorView& y, Reduce reduce) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t x_plane = planes == 0 ? 0 : x.elements() / planes;
  const int64_t y_plane = planes == 0 ? 0 : y.elements() / planes;
  for (int64_t p = 0; p < planes; ++p) reduce(x.as<const T>() + p * x_plane, y.as<T>() + p * y_plane, x_plane);
}

template <class T>
void max_pool(const KernelContext& ctx, const Window& w) {
  const std::vector<int64_t> taps = tap_table(w);  // the same windows for every plane
  for_each_plane<T>(ctx.inputs[0], ctx.outputs[0], [&](const T* x, T* y, int64_t) {
    for (int64_t o = 0; o < w.out_size; ++o) {
      T best = std::numeric_limits<T>::lowest();
      for (int64_t t = 0; t < w.kernel_size; ++t) {
        const int64_t i = taps[static_cast<size_t>(t * w.out_size + o)];
        if (i >= 0) best = std::max(best, x[i]);  // taps in the padding are skipped
      }
      y[o] = best;
    }
  });
}

}  // namespace

Status run_Conv(const KernelContext& ctx) {
  if (ctx.inputs[0].dtype == DType::kF32) return run_float_conv(ctx);
  if (ctx.inputs[1].dtype == DType::kI4) return run_w4a8_conv(ctx);
  return run_quantized_conv(ctx);
}

Status run_ConvTranspose(const KernelContext& ctx) { return run_conv_transpose(ctx); }

Status run_Gemm(const KernelContext& ctx) {
  if (ctx.inputs[0].dtype == DType::kF32) return run_float_gemm(ctx);
  return ctx.inputs[1].dtype == DType::kI4 ? run_w4a8_gemm(ctx) : run_quantized_gemm(ctx);
}

Status run_MatMul(const KernelContext& ctx) {
  const MatMulDims d = matmul_dims(ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]);
  if (ctx.inputs[0].dtype == DType::kF32) return run_float_matmul(ctx, d);
  return run_quantized_matmul(ctx, d);
}

Status run_MaxPool(const KernelContext& ctx) {
  const Window w = make_window(ctx.inputs[0], ctx.outputs[0], ctx.node.attrs.get_ints("kernel_shape"), ctx.node.attrs);
  switch (ctx.inputs[0].dtype) {
    case DType::kU8: max_pool<uint8_t>(ctx, w); break;
    case DType::kI8: max_pool<int8_t>(ctx, w); break;
    default: max_pool<float>(ctx, w); break;
  }
  return ok();
}

Status run_AveragePool(const KernelContext& ctx) {
  const Window w = make_window(ctx.inputs[0], ctx.outputs[0], ctx.node.attrs.get_ints("kernel_shape"), ctx.node.attrs);
  const bool count_include_pad = ctx.node.attrs.get_int("count_include_pad") != 0;
  for_each_plane<float>(ctx.inputs[0], ctx.outputs[0], [&](const float* x, float* y, int64_t) {
    for (int64_t o = 0; o < w.out_size; ++o) {
      double sum = 0;
      int64_t inside = 0;
      const int64_t padded = for_each_tap(w, o, [&](int64_t, int64_t i) {
        sum += x[i];
        ++inside;
      });
      const int64_t divisor = count_include_pad ? padded : inside;
      y[o] = divisor > 0 ? static_cast<float>(sum / static_cast<double>(divisor)) : 0.f;
    }
  });
  return ok();
}

namespace {

// Quantized GlobalAveragePool: acc = Σ (x − x_zero) over the plane, exact; y = requantize(acc, x_scale / (y_scale ·
// plane size)) + y_zero, saturated. An empty plane gives the zero point.
template <class T>
Status quantized_global_average_pool(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes == 0 ? 0 : x.elements() / planes;
  const int64_t x_zero = x.quant->zero_point(0), y_zero = y.quant->zero_point(0);
  const QuantRange range = quant_range(y.dtype);
  FixedPointMultiplier multiplier;
  if (size > 0) {
    auto f = quantize_multiplier(double{x.quant->scales[0]} / (double{y.quant->scales[0]} * static_cast<double>(size)));
    if (!f) return ctx.fail(f.error().code, "{}", f.error().message);
    multiplier = *f;
  }
  const T* xv = x.as<const T>();
  T* out = y.as<T>();
  for (int64_t p = 0; p < planes; ++p) {
    int64_t acc = 0;
    for (int64_t i = 0; i < size; ++i) acc += int64_t{xv[p * size + i]} - x_zero;
    out[p] = static_cast<T>(clamp_to((size > 0 ? requantize(acc, multiplier) : 0) + y_zero, range));
  }
  return ok();
}

}  // namespace

Status run_GlobalAveragePool(const KernelContext& ctx) {
  switch (ctx.inputs[0].dtype) {
    case DType::kI8: return quantized_global_average_pool<int8_t>(ctx);
    case DType::kU8: return quantized_global_average_pool<uint8_t>(ctx);
    default: break;
  }
  for_each_plane<float>(ctx.inputs[0], ctx.outputs[0], [](const float* x, float* y, int64_t size) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += x[i];
    *y = size > 0 ? static_cast<float>(sum / static_cast<double>(size)) : 0.f;
  });
  return ok();
}

Status run_GlobalMaxPool(const KernelContext& ctx) {
  for_each_plane<float>(ctx.inputs[0], ctx.outputs[0], [](const float* x, float* y, int64_t size) {
    float best = std::numeric_limits<float>::lowest();
    for (int64_t i = 0; i < size; ++i) best = std::max(best, x[i]);
    *y = best;
  });
  return ok();
}

Status run_BatchNormalization(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const float* scale = ctx.inputs[1].as<const float>();
  const float* bias = ctx.inputs[2].as<const float>();
  const float* mean = ctx.inputs[3].as<const float>();
  const float* var = ctx.inputs[4].as<const float>();
  const double epsilon = ctx.node.attrs.get_float("epsilon");
  const int64_t channels = x.dim(1);
  const int64_t inner = channels == 0 ? 0 : x.elements() / (x.dim(0) * channels);
  const float* xv = x.as<const float>();
  float* y = ctx.outputs[0].as<float>();
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const double factor = double{scale[c]} / std::sqrt(double{var[c]} + epsilon);
      const int64_t base = (n * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i)
        y[base + i] = static_cast<float>((double{xv[base + i]} - mean[c]) * factor + bias[c]);
    }
  return ok();
}

Status run_QuantizeLinear(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const QuantParams& q = *y.quant;
  const QuantIndex channel(q, y.shape);
  const float* xv = x.as<const float>();
  return visit_int8(y.dtype, [&](auto ty) {
    using TY = decltype(ty);
    TY* out = y.as<TY>();
    // The division is in float, as ONNX and onnxruntime do it: it decides which values are ties.
    if (q.per_tensor()) {  // the common case, without a channel lookup per element
      const float scale = q.scales[0];
      const int32_t zero = q.zero_point(0);
      for (int64_t i = 0; i < x.elements(); ++i) out[i] = quantize_value<TY>(xv[i] / scale, zero);
      return ok();
    }
    for (int64_t i = 0; i < x.elements(); ++i) {
      const size_t c = channel(i);
      out[i] = quantize_value<TY>(xv[i] / q.scales[c], q.zero_point(c));
    }
    return ok();
  });
}

Status run_DequantizeLinear(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const QuantParams& q = *x.quant;
  const QuantIndex channel(q, x.shape);
  const model::GroupLayout layout = model::group_layout(model::Shape(x.shape.begin(), x.shape.end()), q.block_size);
  float* out = ctx.outputs[0].as<float>();
  // y = scale · (q − zero_point): the difference is exact in float for every dtype but i32.
  auto dequantize = [&](auto load) {
    if (q.per_tensor()) {  // the common case, without a channel lookup per element
      for (int64_t i = 0; i < x.elements(); ++i) out[i] = static_cast<float>(load(i) - q.zero_point(0)) * q.scales[0];
      return;
    }
    if (q.per_group()) {  // row by row, group by group: one scale per run of elements
      for (int64_t r = 0; r < layout.rows; ++r)
        for (int64_t g = 0; g < layout.groups; ++g) {
          const size_t c = static_cast<size_t>(r * layout.groups + g);
          const int64_t begin = r * layout.row_length + g * layout.block_size;
          const int64_t end = std::min(begin + layout.block_size, (r + 1) * layout.row_length);
          for (int64_t i = begin; i < end; ++i) out[i] = static_cast<float>(load(i) - q.zero_point(c)) * q.scales[c];
        }
      return;
    }
    for (int64_t i = 0; i < x.elements(); ++i) {
      const size_t c = q.per_group() ? layout.scale_index(i) : channel(i);
      out[i] = static_cast<float>(load(i) - q.zero_point(c)) * q.scales[c];
    }
  };
  switch (x.dtype) {
    case DType::kU8: dequantize([&](int64_t i) { return int64_t{x.as<const uint8_t>()[i]}; }); break;
    case DType::kI8: dequantize([&](int64_t i) { return int64_t{x.as<const int8_t>()[i]}; }); break;
    case DType::kI4: dequantize([&](int64_t i) { return int64_t{model::load_i4(x.data, i)}; }); break;
    default: dequantize([&](int64_t i) { return int64_t{x.as<const int32_t>()[i]}; }); break;
  }
  return ok();
}

}  // namespace edgeloop::runtime::reference
