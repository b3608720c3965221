// Reference kernels for the elementwise ops (docs/ops.md): broadcasting arithmetic, the
// activations, Softmax/LogSoftmax, ReduceMean and Cast. Shape inference has validated dtypes,
// shapes and attributes; these kernels check only run-time values (integer division by zero).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "edgeloop/model/half.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

namespace {

// ---- Broadcasting ------------------------------------------------------------------------------

// Walks an output of shape `out` in row-major order and, for each element, gives the offsets of
// the elements of two inputs that broadcast (numpy rules) to it. Shared by Add/Sub/Mul/Div and
// PRelu.
class BroadcastWalk {
 public:
  BroadcastWalk(std::span<const int64_t> out, std::span<const int64_t> a, std::span<const int64_t> b)
      : out_(out.begin(), out.end()), a_strides_(strides_in(out, a)), b_strides_(strides_in(out, b)) {}

  // f(out_offset, a_offset, b_offset) for every output element, in order.
  template <class F>
  void for_each(F&& f) const {
    const size_t rank = out_.size();
    int64_t total = 1;
    for (int64_t d : out_) total *= d;
    std::vector<int64_t> coord(rank, 0);
    int64_t ia = 0, ib = 0;
    for (int64_t o = 0; o < total; ++o) {
      f(o, ia, ib);
      // Odometer step: bump the innermost coordinate, carrying into outer ones.
      for (size_t d = rank; d-- > 0;) {
        ia += a_strides_[d];
        ib += b_strides_[d];
        if (++coord[d] < out_[d]) break;
        ia -= a_strides_[d] * out_[d];
        ib -= b_strides_[d] * out_[d];
        coord[d] = 0;
      }
    }
  }

 private:
  // Strides of `in` aligned right against `out`, 0 where `in` is broadcast (size 1 or missing).
  static std::vector<int64_t> strides_in(std::span<const int64_t> out, std::span<const int64_t> in) {
    std::vector<int64_t> strides(out.size(), 0);
    int64_t stride = 1;
    for (size_t i = in.size(); i-- > 0;) {
      const size_t d = out.size() - in.size() + i;
      strides[d] = in[i] == 1 ? 0 : stride;
      stride *= in[i];
    }
    return strides;
  }

  std::vector<int64_t> out_;
  std::vector<int64_t> a_strides_;
  std::vector<int64_t> b_strides_;
};

// ---- Add, Sub, Mul, Div ------------------------------------------------------------------------

enum class Arith { kAdd, kSub, kMul, kDiv };

// Integers wrap around on overflow (two's complement, as ONNX runtimes do) instead of being
// undefined: the arithmetic is done on the unsigned type.
template <Arith kOp, class T>
T arith(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (kOp == Arith::kAdd) return a + b;
    else if constexpr (kOp == Arith::kSub) return a - b;
    else if constexpr (kOp == Arith::kMul) return a * b;
    else return a / b;
  } else {
    using U = std::make_unsigned_t<T>;
    const auto ua = static_cast<U>(a), ub = static_cast<U>(b);
    if constexpr (kOp == Arith::kAdd) return static_cast<T>(ua + ub);
    else if constexpr (kOp == Arith::kSub) return static_cast<T>(ua - ub);
    else if constexpr (kOp == Arith::kMul) return static_cast<T>(ua * ub);
    else if (b == -1) return static_cast<T>(U{0} - ua);  // lowest / -1 wraps to lowest
    else return a / b;                                    // truncates toward zero; b != 0 checked
  }
}

template <Arith kOp, class T>
Status arith_typed(const KernelContext& ctx) {
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* py = y.as<T>();
  if constexpr (kOp == Arith::kDiv && std::is_integral_v<T>) {
    // With a non-empty output every divisor element is used, so any zero would be divided by.
    if (y.elements() > 0)
      for (int64_t i = 0; i < b.elements(); ++i)
        if (pb[i] == 0)
          return ctx.fail(ErrorCode::kInvalidArgument,
                          "integer division by zero: divisor element {} is 0 (integer Div needs non-zero divisors)", i);
  }
  BroadcastWalk(y.shape, a.shape, b.shape).for_each([&](int64_t o, int64_t ia, int64_t ib) {
    py[o] = arith<kOp>(pa[ia], pb[ib]);
  });
  return ok();
}

template <Arith kOp>
Status run_arith(const KernelContext& ctx) {
  switch (ctx.outputs[0].dtype) {
    case DType::kF32: return arith_typed<kOp, float>(ctx);
    case DType::kI32: return arith_typed<kOp, int32_t>(ctx);
    case DType::kI64: return arith_typed<kOp, int64_t>(ctx);
    default: break;
  }
  return ctx.fail(ErrorCode::kInternal, "dtype {} passed shape inference but has no kernel",
                  model::dtype_name(ctx.outputs[0].dtype));
}

// The quantized Add (docs/quantization.md), TFLite's arithmetic: both inputs are brought to a
// common scale 2·max(s_a, s_b) / 2^20 with fixed-point multipliers, added exactly, and the sum
// requantized to the output.
template <class T>
Status quantized_add(const KernelContext& ctx) {
  constexpr int kLeftShift = 20;
  const TensorView& a = ctx.inputs[0];
  const TensorView& b = ctx.inputs[1];
  const TensorView& y = ctx.outputs[0];
  const double sa = a.quant->scales[0], sb = b.quant->scales[0], sy = y.quant->scales[0];
  const double twice_max = 2 * std::max(sa, sb);
  auto multiplier = [&](double m) -> Result<FixedPointMultiplier> {
    auto f = quantize_multiplier(m);
    if (!f) return ctx.fail(f.error().code, "{}", f.error().message);
    return *f;
  };
  EL_TRY(const FixedPointMultiplier ma, multiplier(sa / twice_max));
  EL_TRY(const FixedPointMultiplier mb, multiplier(sb / twice_max));
  EL_TRY(const FixedPointMultiplier my, multiplier(twice_max / (double{1 << kLeftShift} * sy)));
  const int64_t za = a.quant->zero_point(0), zb = b.quant->zero_point(0), zy = y.quant->zero_point(0);
  const QuantRange range = quant_range(y.dtype);
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* py = y.as<T>();
  BroadcastWalk(y.shape, a.shape, b.shape).for_each([&](int64_t o, int64_t ia, int64_t ib) {
    const int64_t a_shifted = requantize((int64_t{pa[ia]} - za) * (int64_t{1} << kLeftShift), ma);
    const int64_t b_shifted = requantize((int64_t{pb[ib]} - zb) * (int64_t{1} << kLeftShift), mb);
    py[o] = static_cast<T>(clamp_to(requantize(a_shifted + b_shifted, my) + zy, range));
  });
  return ok();
}

// ---- Activations -------------------------------------------------------------------------------

// y[i] = f(x[i]) over f32 tensors of one shape. Safe when y aliases x.
template <class F>
Status map_f32(const KernelContext& ctx, F f) {
  const float* x = ctx.inputs[0].as<const float>();
  float* y = ctx.outputs[0].as<float>();
  const int64_t n = ctx.outputs[0].elements();
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  return ok();
}

// min(max(v, lo), hi), written so that a NaN v stays NaN and lo > hi gives hi (std::clamp
// would be undefined for both).
float clamp_keep_nan(float v, float lo, float hi) {
  const float at_least_lo = v < lo ? lo : v;
  return at_least_lo > hi ? hi : at_least_lo;
}

// ---- Softmax, LogSoftmax -----------------------------------------------------------------------

// Normalizes over `len` elements `stride` apart, for each of outer x inner groups. Subtracting
// the group's max keeps exp() from overflowing; sums are accumulated in double.
template <bool kLog>
Status softmax(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const auto axis = static_cast<size_t>(ctx.node.attrs.get_int("axis"));
  const bool coerce_2d = ctx.node.attrs.get_int("coerce_2d") != 0;
  int64_t outer = 1, len = 1, inner = 1;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (d < axis) outer *= x.dim(d);
    else if (d == axis || coerce_2d) len *= x.dim(d);  // opset < 13: all dims from axis on, flattened
    else inner *= x.dim(d);
  }
  const float* px = x.as<const float>();
  float* py = ctx.outputs[0].as<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < len; ++k) max = std::max(max, px[base + k * inner]);
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(px[base + k * inner]) - max);
      const double log_sum = std::log(sum);
      for (int64_t k = 0; k < len; ++k) {
        const double shifted = static_cast<double>(px[base + k * inner]) - max;
        py[base + k * inner] = static_cast<float>(kLog ? shifted - log_sum : std::exp(shifted) / sum);
      }
    }
  }
  return ok();
}

// ---- Cast --------------------------------------------------------------------------------------

// Storage types for the dtypes without a plain C++ equivalent: f16 bits, and bool bytes (any
// non-zero byte reads as true; reading arbitrary bytes as C++ bool would be undefined).
struct Half {
  uint16_t bits;
};
struct Bool {
  uint8_t byte;
};

// Float to integer: truncate toward zero (ONNX, numpy astype). Out of range is undefined in ONNX;
// here it saturates and NaN becomes 0, so no input can cause undefined behaviour.
template <class To>
To float_to_int(float v) {
  if (std::isnan(v)) return 0;
  const double t = std::trunc(static_cast<double>(v));
  constexpr double kLowest = static_cast<double>(std::numeric_limits<To>::lowest());             // 0 or -2^digits: exact
  const double kBeyondMax = std::ldexp(1.0, std::numeric_limits<To>::digits);                     // max + 1: exact
  if (t < kLowest) return std::numeric_limits<To>::lowest();
  if (t >= kBeyondMax) return std::numeric_limits<To>::max();
  return static_cast<To>(t);
}

template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<From, Half>) {
    return convert<To>(model::half_to_float(v.bits));  // exact widening
  } else if constexpr (std::is_same_v<From, Bool>) {
    return convert<To>(static_cast<uint8_t>(v.byte != 0 ? 1 : 0));
  } else if constexpr (std::is_same_v<To, Half>) {
    // Integers reach f16 through f32, exactly for |v| <= 2^24 (anything larger is infinity in f16).
    return Half{model::float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, Bool>) {
    return Bool{static_cast<uint8_t>(v != From{0} ? 1 : 0)};  // NaN != 0: true
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    return float_to_int<To>(v);
  } else {
    // Integer to integer wraps modulo 2^bits (C++20); integer to float rounds to nearest.
    return static_cast<To>(v);
  }
}

template <class T>
struct Tag {
  using type = T;
};

// Calls f(Tag<storage type>{}) for a dtype Cast handles.
template <class F>
Status visit_castable(DType t, F&& f) {
  switch (t) {
    case DType::kF32: return f(Tag<float>{});
    case DType::kF16: return f(Tag<Half>{});
    case DType::kI8: return f(Tag<int8_t>{});
    case DType::kU8: return f(Tag<uint8_t>{});
    case DType::kI32: return f(Tag<int32_t>{});
    case DType::kI64: return f(Tag<int64_t>{});
    case DType::kBool: return f(Tag<Bool>{});
    case DType::kI4: break;
  }
  return make_error(ErrorCode::kInternal, "Cast has no kernel for dtype {}", model::dtype_name(t));
}

}  // namespace

Status run_Add(const KernelContext& ctx) {
  switch (ctx.outputs[0].dtype) {
    case DType::kI8: return quantized_add<int8_t>(ctx);
    case DType::kU8: return quantized_add<uint8_t>(ctx);
    default: return run_arith<Arith::kAdd>(ctx);
  }
}
Status run_Sub(const KernelContext& ctx) { return run_arith<Arith::kSub>(ctx); }
Status run_Mul(const KernelContext& ctx) { return run_arith<Arith::kMul>(ctx); }
Status run_Div(const KernelContext& ctx) { return run_arith<Arith::kDiv>(ctx); }

// The quantized Relu and Clip clamp stored values to [lo, hi] (Y has X's parameters). Safe when
// y aliases x.
template <class T>
Status clamp_stored(const KernelContext& ctx, int32_t lo, int32_t hi) {
  const T* x = ctx.inputs[0].as<const T>();
  T* y = ctx.outputs[0].as<T>();
  const int64_t n = ctx.outputs[0].elements();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t at_least_lo = x[i] < lo ? lo : x[i];
    y[i] = static_cast<T>(at_least_lo > hi ? hi : at_least_lo);  // lo > hi gives hi, as the float Clip
  }
  return ok();
}

Status clamp_quantized(const KernelContext& ctx, int32_t lo, int32_t hi) {
  if (ctx.inputs[0].dtype == DType::kU8) return clamp_stored<uint8_t>(ctx, lo, hi);
  return clamp_stored<int8_t>(ctx, lo, hi);
}

Status run_Relu(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  // Real 0 is the zero point: y = max(x, zero_point).
  if (x.dtype != DType::kF32) return clamp_quantized(ctx, x.quant->zero_point(0), quant_range(x.dtype).hi);
  return map_f32(ctx, [](float v) { return v < 0 ? 0.f : v; });
}

Status run_LeakyRelu(const KernelContext& ctx) {
  const float alpha = ctx.node.attrs.get_float("alpha");
  return map_f32(ctx, [alpha](float x) { return x < 0 ? alpha * x : x; });
}

Status run_PRelu(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& slope = ctx.inputs[1];
  const float* px = x.as<const float>();
  const float* ps = slope.as<const float>();
  float* py = ctx.outputs[0].as<float>();
  BroadcastWalk(x.shape, x.shape, slope.shape).for_each([&](int64_t o, int64_t ix, int64_t is) {
    py[o] = px[ix] < 0 ? ps[is] * px[ix] : px[ix];
  });
  return ok();
}

Status run_Clip(const KernelContext& ctx) {
  const float lo = ctx.node.attrs.get_float("min", -std::numeric_limits<float>::infinity());
  const float hi = ctx.node.attrs.get_float("max", std::numeric_limits<float>::infinity());
  const TensorView& x = ctx.inputs[0];
  if (x.dtype != DType::kF32) {
    // The bounds quantized with X's parameters, q(v) = clamp(round_half_to_even(v / s) + z); an
    // absent (infinite) bound becomes the dtype's limit.
    const QuantRange range = quant_range(x.dtype);
    const float scale = x.quant->scales[0];
    const int32_t zero = x.quant->zero_point(0);
    return clamp_quantized(ctx, quantize_real(lo, scale, zero, range), quantize_real(hi, scale, zero, range));
  }
  // min > max gives max everywhere, as numpy.clip does.
  return map_f32(ctx, [lo, hi](float v) { return clamp_keep_nan(v, lo, hi); });
}

Status run_Sigmoid(const KernelContext& ctx) {
  return map_f32(ctx, [](float x) {
    // Never exponentiates a large positive number: no overflow for either sign.
    const double e = std::exp(-std::fabs(static_cast<double>(x)));
    return static_cast<float>(x >= 0 ? 1 / (1 + e) : e / (1 + e));
  });
}

Status run_HardSigmoid(const KernelContext& ctx) {
  const float alpha = ctx.node.attrs.get_float("alpha");
  const float beta = ctx.node.attrs.get_float("beta");
  return map_f32(ctx, [alpha, beta](float x) { return clamp_keep_nan(alpha * x + beta, 0.f, 1.f); });
}

Status run_HardSwish(const KernelContext& ctx) {
  return map_f32(ctx, [](float x) { return x * clamp_keep_nan(x / 6 + 0.5f, 0.f, 1.f); });
}

Status run_Tanh(const KernelContext& ctx) {
  return map_f32(ctx, [](float x) { return static_cast<float>(std::tanh(static_cast<double>(x))); });
}

Status run_Softmax(const KernelContext& ctx) { return softmax<false>(ctx); }
Status run_LogSoftmax(const KernelContext& ctx) { return softmax<true>(ctx); }

Status run_ReduceMean(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const size_t rank = x.rank();
  std::vector<int64_t> axes = ctx.node.attrs.get_ints("axes");
  std::vector<bool> reduced(rank, axes.empty());  // no axes: all dims
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;

  // Output offset of each input element: the keepdims layout (reduced dims of size 1) has the
  // same element order whether or not those dims are kept; reduced dims contribute stride 0.
  std::vector<int64_t> out_strides(rank, 0);
  int64_t stride = 1, count = 1;
  for (size_t d = rank; d-- > 0;) {
    if (reduced[d]) {
      count *= x.dim(d);
    } else {
      out_strides[d] = stride;
      stride *= x.dim(d);
    }
  }
  const int64_t out_elements = ctx.outputs[0].elements();
  std::vector<double> sums(static_cast<size_t>(out_elements), 0.0);
  const float* px = x.as<const float>();
  std::vector<int64_t> coord(rank, 0);
  int64_t o = 0;
  for (int64_t i = 0; i < x.elements(); ++i) {
    sums[static_cast<size_t>(o)] += px[i];
    for (size_t d = rank; d-- > 0;) {
      o += out_strides[d];
      if (++coord[d] < x.dim(d)) break;
      o -= out_strides[d] * x.dim(d);
      coord[d] = 0;
    }
  }
  float* py = ctx.outputs[0].as<float>();
  // A reduction over zero elements gives NaN (0/0), as numpy's mean does.
  for (int64_t j = 0; j < out_elements; ++j) py[j] = static_cast<float>(sums[static_cast<size_t>(j)] / static_cast<double>(count));
  return ok();
}

Status run_Cast(const KernelContext& ctx) {
  const TensorView& x = ctx.inputs[0];
  const TensorView& y = ctx.outputs[0];
  const int64_t n = x.elements();
  return visit_castable(x.dtype, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    return visit_castable(y.dtype, [&](auto to_tag) -> Status {
      using To = typename decltype(to_tag)::type;
      const From* px = x.as<const From>();
      To* py = y.as<To>();
      for (int64_t i = 0; i < n; ++i) py[i] = convert<To>(px[i]);
      return ok();
    });
  });
}

}  // namespace edgeloop::runtime::reference
