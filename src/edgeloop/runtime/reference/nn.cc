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

// The W4A8 output value (docs/quantization.md): the exact integer sums acc_g of one output
// element's weight groups g, in row order, are scaled and summed in f32 with fma, then
//   v = fma(sum, x_scale, bias); y = clamp(round_half_to_even(v / y_scale) + y_zero, −128, 127).
// `scales` are the row's group scales.
int8_t w4a8_output(std::span<const int64_t> group_sums, const float* scales, float x_scale, float bias, float y_scale,
                   int32_t y_zero) {
  float sum = 0.f;
  for (size_t g = 0; g < group_sums.size(); ++g) sum = std::fma(static_cast<float>(group_sums[g]), scales[g], sum);
  const float v = std::fma(sum, x_scale, bias);
  return static_cast<int8_t>(quantize_real(v, y_scale, y_zero, {-128, 127}));
}

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

// ---- convolution ----

// Conv: X (N, C, in...), W (M, C/group, kernel...). ConvTranspose: W (C, M/group, kernel...).
struct ConvDims {
  Window win;
  bool transposed = false;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
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

// For every output element y[n, m, o]: acc = sum over the input channels c of m's group and the
// window taps (t, i) of (x[n, c, i] - x_zero) * (w[m, c, t] - w_zero(m)); then
// finish(flat index of y[n, m, o], m, acc).
template <class Acc, class TX, class TW, class WZero, class Finish>
void convolve(const ConvDims& c, const TX* x, Acc x_zero, const TW* w, WZero w_zero, Finish finish) {
  const Window& win = c.win;
  const int64_t cg = c.in_channels / c.group, mg = c.out_channels / c.group;
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t m = 0; m < c.out_channels; ++m) {
      const int64_t g = m / mg;
      const Acc wz = w_zero(m);
      for (int64_t o = 0; o < win.out_size; ++o) {
        Acc acc = 0;
        auto tap = [&](int64_t t, int64_t i) {
          for (int64_t cl = 0; cl < cg; ++cl) {
            const int64_t ci = g * cg + cl;
            const int64_t wi = c.transposed ? (ci * mg + (m - g * mg)) * win.kernel_size + t
                                            : (m * cg + cl) * win.kernel_size + t;
            acc += (static_cast<Acc>(x[(n * c.in_channels + ci) * win.in_size + i]) - x_zero) *
                   (static_cast<Acc>(w[wi]) - wz);
          }
        };
        if (c.transposed) {
          for_each_transposed_tap(win, o, tap);
        } else {
          for_each_tap(win, o, tap);
        }
        finish((n * c.out_channels + m) * win.out_size + o, m, acc);
      }
    }
}

Status run_float_conv(const KernelContext& ctx, bool transposed) {
  const ConvDims c = conv_dims(ctx, transposed);
  const TensorView* b = ctx.input(2);
  const float* bias = b != nullptr ? b->as<const float>() : nullptr;
  float* y = ctx.outputs[0].as<float>();
  convolve<double>(c, ctx.inputs[0].as<const float>(), 0.0, ctx.inputs[1].as<const float>(),
                   [](int64_t) { return 0.0; },
                   [&](int64_t index, int64_t m, double acc) {
                     y[index] = static_cast<float>(acc + (bias != nullptr ? bias[m] : 0.0));
                   });
  return ok();
}

// W8A8 Conv: exact int sums of zero-point-corrected products, plus the int32 bias, requantized
// per output channel (Requantizer).
Status run_quantized_conv(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& w = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const TensorView* b = ctx.input(2);
  const ConvDims c = conv_dims(ctx, false);
  EL_TRY(const Requantizer requantizer, Requantizer::make(ctx, *x.quant, *w.quant, y));
  const int32_t* bias = b != nullptr ? b->as<const int32_t>() : nullptr;
  const bool per_channel = w.quant->scales.size() > 1;
  auto channel = [&](int64_t m) { return per_channel ? static_cast<size_t>(m) : size_t{0}; };
  return visit_int8(x.dtype, [&](auto tx) {
    return visit_int8(w.dtype, [&](auto tw) {
      return visit_int8(y.dtype, [&](auto ty) {
        using TX = decltype(tx);
        using TW = decltype(tw);
        using TY = decltype(ty);
        TY* out = y.as<TY>();
        convolve<int64_t>(
            c, x.as<const TX>(), int64_t{x.quant->zero_point(0)}, w.as<const TW>(),
            [&](int64_t m) { return int64_t{w.quant->zero_point(channel(m))}; },
            [&](int64_t index, int64_t m, int64_t acc) {
              if (bias != nullptr) acc += bias[m];
              out[index] = static_cast<TY>(requantizer(acc, channel(m)));
            });
        return ok();
      });
    });
  });
}

// W4A8 Conv: W i4 per group along each output channel's row (input channel within the group ×
// kernel tap, W's own row-major order); the row's group sums feed w4a8_output.
Status run_w4a8_conv(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& w = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const TensorView* b = ctx.input(2);
  const ConvDims c = conv_dims(ctx, false);
  const Window& win = c.win;
  const model::GroupLayout layout = model::group_layout(model::Shape(w.shape.begin(), w.shape.end()), w.quant->block_size);
  const int64_t cg = c.in_channels / c.group, mg = c.out_channels / c.group;
  const int8_t* xv = x.as<const int8_t>();
  const int64_t x_zero = x.quant->zero_point(0);
  const float* bias = b != nullptr ? b->as<const float>() : nullptr;
  int8_t* out = y.as<int8_t>();
  std::vector<int64_t> sums(static_cast<size_t>(layout.groups));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t m = 0; m < c.out_channels; ++m) {
      const int64_t g = m / mg;
      for (int64_t o = 0; o < win.out_size; ++o) {
        std::fill(sums.begin(), sums.end(), 0);
        for_each_tap(win, o, [&](int64_t t, int64_t i) {
          for (int64_t cl = 0; cl < cg; ++cl) {
            const int64_t k = cl * win.kernel_size + t;  // position in m's row
            const int64_t xq = xv[(n * c.in_channels + g * cg + cl) * win.in_size + i];
            sums[static_cast<size_t>(k / layout.block_size)] += (xq - x_zero) * model::load_i4(w.data, m * layout.row_length + k);
          }
        });
        out[(n * c.out_channels + m) * win.out_size + o] =
            w4a8_output(sums, w.quant->scales.data() + m * layout.groups, x.quant->scales[0],
                        bias != nullptr ? bias[m] : 0.f, y.quant->scales[0], y.quant->zero_point(0));
      }
    }
  return ok();
}

// ---- matrix products ----

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

// For every output element y[batch, i, j]: acc = sum over k of (a[i, k] - a_zero) * (b[k, j] - b_zero(j));
// then finish(flat index of y[batch, i, j], j, acc).
template <class Acc, class TA, class TB, class BZero, class Finish>
void matmul(const MatMulDims& d, const TA* a, Acc a_zero, const TB* b, BZero b_zero, Finish finish) {
  for (size_t batch = 0; batch < d.a_matrix.size(); ++batch) {
    const TA* am = a + d.a_matrix[batch] * d.m * d.k;
    const TB* bm = b + d.b_matrix[batch] * d.k * d.n;
    const int64_t y0 = static_cast<int64_t>(batch) * d.m * d.n;
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) {
        const Acc bz = b_zero(j);
        Acc acc = 0;
        for (int64_t k = 0; k < d.k; ++k)
          acc += (static_cast<Acc>(am[i * d.k + k]) - a_zero) * (static_cast<Acc>(bm[k * d.n + j]) - bz);
        finish(y0 + i * d.n + j, j, acc);
      }
  }
}

// W8A8 MatMul: B per tensor or per column, requantized per column (Requantizer).
Status run_quantized_matmul(const KernelContext& ctx, const MatMulDims& d) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  EL_TRY(const Requantizer requantizer, Requantizer::make(ctx, *a.quant, *b.quant, y));
  const bool per_column = b.quant->scales.size() > 1;
  auto column = [&](int64_t j) { return per_column ? static_cast<size_t>(j) : size_t{0}; };
  return visit_int8(a.dtype, [&](auto ta) {
    return visit_int8(b.dtype, [&](auto tb) {
      return visit_int8(y.dtype, [&](auto ty) {
        using TA = decltype(ta);
        using TB = decltype(tb);
        using TY = decltype(ty);
        TY* out = y.as<TY>();
        matmul<int64_t>(
            d, a.as<const TA>(), int64_t{a.quant->zero_point(0)}, b.as<const TB>(),
            [&](int64_t j) { return int64_t{b.quant->zero_point(column(j))}; },
            [&](int64_t index, int64_t j, int64_t acc) { out[index] = static_cast<TY>(requantizer(acc, column(j))); });
        return ok();
      });
    });
  });
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
  const int32_t* bias = c != nullptr ? c->as<const int32_t>() : nullptr;
  const int64_t a_zero = a.quant->zero_point(0);
  return visit_int8(a.dtype, [&](auto ta) {
    return visit_int8(b.dtype, [&](auto tb) {
      return visit_int8(y.dtype, [&](auto ty) {
        using TA = decltype(ta);
        using TB = decltype(tb);
        using TY = decltype(ty);
        const TA* av = a.as<const TA>();
        const TB* bv = b.as<const TB>();
        TY* out = y.as<TY>();
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const size_t channel = per_channel ? static_cast<size_t>(j) : 0;
            const int64_t b_zero = b.quant->zero_point(channel);
            int64_t acc = bias != nullptr ? bias[j] : 0;
            for (int64_t p = 0; p < k; ++p)
              acc += (int64_t{av[i * k + p]} - a_zero) * (int64_t{trans_b ? bv[j * k + p] : bv[p * n + j]} - b_zero);
            out[i * n + j] = static_cast<TY>(requantizer(acc, channel));
          }
        return ok();
      });
    });
  });
}

// W4A8 Gemm: A [M, K] i8, B [N, K] i4 per group along each row, C f32 [N] (w4a8_output).
Status run_w4a8_gemm(const KernelContext& ctx) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView* c = ctx.input(2);
  const TensorView& y = ctx.outputs[0];
  const int64_t m = y.dim(0), n = y.dim(1), k = a.dim(1);
  const model::GroupLayout layout = model::group_layout(model::Shape(b.shape.begin(), b.shape.end()), b.quant->block_size);
  const int8_t* av = a.as<const int8_t>();
  const int64_t a_zero = a.quant->zero_point(0);
  const float* bias = c != nullptr ? c->as<const float>() : nullptr;
  int8_t* out = y.as<int8_t>();
  std::vector<int64_t> sums(static_cast<size_t>(layout.groups));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      std::fill(sums.begin(), sums.end(), 0);
      for (int64_t p = 0; p < k; ++p)
        sums[static_cast<size_t>(p / layout.block_size)] += (int64_t{av[i * k + p]} - a_zero) * model::load_i4(b.data, j * k + p);
      out[i * n + j] = w4a8_output(sums, b.quant->scales.data() + j * layout.groups, a.quant->scales[0],
                                   bias != nullptr ? bias[j] : 0.f, y.quant->scales[0], y.quant->zero_point(0));
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
  for_each_plane<T>(ctx.inputs[0], ctx.outputs[0], [&](const T* x, T* y, int64_t) {
    for (int64_t o = 0; o < w.out_size; ++o) {
      T best = std::numeric_limits<T>::lowest();
      for_each_tap(w, o, [&](int64_t, int64_t i) { best = std::max(best, x[i]); });
      y[o] = best;
    }
  });
}

}  // namespace

Status run_Conv(const KernelContext& ctx) {
  if (ctx.inputs[0].dtype == DType::kF32) return run_float_conv(ctx, false);
  if (ctx.inputs[1].dtype == DType::kI4) return run_w4a8_conv(ctx);
  return run_quantized_conv(ctx);
}

Status run_ConvTranspose(const KernelContext& ctx) { return run_float_conv(ctx, true); }

Status run_Gemm(const KernelContext& ctx) {
  if (ctx.inputs[0].dtype != DType::kF32)
    return ctx.inputs[1].dtype == DType::kI4 ? run_w4a8_gemm(ctx) : run_quantized_gemm(ctx);
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
  float* out = y.as<float>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += double{trans_a ? av[p * m + i] : av[i * k + p]} * double{trans_b ? bv[j * k + p] : bv[p * n + j]};
      double value = alpha * acc;
      if (c != nullptr)
        value += beta * c->as<const float>()[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
      out[i * n + j] = static_cast<float>(value);
    }
  return ok();
}

Status run_MatMul(const KernelContext& ctx) {
  const MatMulDims d = matmul_dims(ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]);
  if (ctx.inputs[0].dtype != DType::kF32) return run_quantized_matmul(ctx, d);
  float* y = ctx.outputs[0].as<float>();
  matmul<double>(d, ctx.inputs[0].as<const float>(), 0.0, ctx.inputs[1].as<const float>(),
                 [](int64_t) { return 0.0; },
                 [&](int64_t index, int64_t, double acc) { y[index] = static_cast<float>(acc); });
  return ok();
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
    for (int64_t i = 0; i < x.elements(); ++i) {
      const size_t c = channel(i);
      // The division is in float, as ONNX and onnxruntime do it: it decides which values are ties.
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
