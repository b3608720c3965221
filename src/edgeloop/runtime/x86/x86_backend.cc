#include "edgeloop/runtime/x86/x86_backend.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/x86/w4a8_depthwise_kernels.h"
#include "edgeloop/runtime/x86/w4a8_gemm.h"
#include "edgeloop/runtime/x86/w8a8_gemm.h"

namespace edgeloop::runtime::x86 {

namespace {

using model::DType;
using model::Graph;
using model::Node;
using model::OpType;
using model::Tensor;

bool is_i8_per_tensor(const Tensor& t) { return t.dtype == DType::kI8 && t.quant.per_tensor(); }
bool has_input(const Node& n, size_t i) { return n.inputs.size() > i && n.inputs[i] != model::kNoTensor; }
bool is_depthwise(const Node& n) { return n.op == OpType::kConv && n.attrs.get_int("group", 1) > 1; }

// The toolchain's W4A8 and W8A8 layers (docs/ops.md, "Quantized forms"): Conv (dense; depthwise
// for W4A8 only) and Gemm with transB.
bool claims(const Graph& g, const Node& n) {
  if (n.op != OpType::kConv && n.op != OpType::kGemm) return false;
  const Tensor& x = g.tensors[n.inputs[0]];
  const Tensor& w = g.tensors[n.inputs[1]];
  const Tensor& y = g.tensors[n.outputs[0]];
  if (!is_i8_per_tensor(x) || !is_i8_per_tensor(y) || !w.constant) return false;
  const bool w4 = w.dtype == DType::kI4 && w.quant.per_group();
  // W8A8 with edgeloop's fixed-point requantization (imported ONNX QLinear models keep ONNX's
  // float requantization, which these kernels do not compute), symmetric per-channel weights.
  const bool w8 = w.dtype == DType::kI8 && n.attrs.get_string("requantize") == "fixed_point" && w.quant.axis == 0 &&
                  !w.quant.per_group() && w.quant.scales.size() == static_cast<size_t>(w.shape[0]) &&
                  std::all_of(w.quant.zero_points.begin(), w.quant.zero_points.end(), [](int32_t z) { return z == 0; });
  if (!w4 && !w8) return false;
  if (has_input(n, 2) && g.tensors[n.inputs[2]].dtype != (w4 ? DType::kF32 : DType::kI32)) return false;
  if (n.op == OpType::kGemm) return x.shape.size() == 2 && n.attrs.get_int("transA", 0) == 0 && n.attrs.get_int("transB", 0) == 1;
  if (x.shape.size() != 4) return false;
  const int64_t group = n.attrs.get_int("group", 1);
  return group == 1 || (w4 && group == x.shape[1] && w.shape[0] == group && w.shape[1] == 1);
}

// One layer, prepared: weights packed for this CPU's best ISA.
struct Layer {
  const Node* node = nullptr;
  std::optional<W4A8Weights> w4;  // dense W4A8
  std::optional<W8A8Weights> w8;  // dense W8A8
  // Depthwise W4A8: weights unpacked tap-major [tap][channel], scales [group][channel].
  bool depthwise = false;
  int64_t block = 0;
  std::vector<int8_t> dw_weights;
  std::vector<float> dw_scales;
  std::vector<float> bias;  // W4A8 (W8A8's i32 bias is packed with its weights)
  int64_t n_out = 0;
  // Conv geometry: input C×H×W, kernel kh×kw, output OH×OW.
  int64_t c = 0, h = 0, w = 0, kh = 1, kw = 1, oh = 1, ow = 1;
  std::vector<int64_t> strides{1, 1}, pads{0, 0, 0, 0}, dil{1, 1};
  bool in_nhwc = false, out_nhwc = false;  // the arena holds the input / output channels-last
};

class X86Executable final : public Executable {
 public:
  X86Executable(std::vector<Layer> layers, ThreadPool& pool) : layers_(std::move(layers)), pool_(pool) {}

  Status run(std::span<const TensorView> tensors) override {
    for (const Layer& l : layers_) run_layer(l, tensors);
    return ok();
  }
  bool internal_tensors_in_arena() const override { return true; }

 private:
  void run_layer(const Layer& l, std::span<const TensorView> tensors) const {
    const TensorView& x = tensors[l.node->inputs[0]];
    const TensorView& y = tensors[l.node->outputs[0]];
    W4A8Quant q4;
    q4.x_scale = x.quant->scales[0];
    q4.x_zero = x.quant->zero_point(0);
    q4.y_scale = y.quant->scales[0];
    q4.y_zero = y.quant->zero_point(0);
    q4.bias = l.bias.empty() ? nullptr : l.bias.data();
    W8A8Quant q8;
    q8.x_zero = q4.x_zero;
    q8.y_zero = q4.y_zero;
    if (l.depthwise) {
      run_depthwise(l, x, y, q4);
      return;
    }
    // rows × K int8 (x_stride apart) times the weights into y (strides per row and per channel).
    auto multiply = [&](const int8_t* rows, int64_t m, int64_t x_stride, int8_t* out, int64_t row_stride, int64_t col_stride) {
      if (l.w4) w4a8_gemm(*l.w4, rows, m, x_stride, q4, out, row_stride, col_stride);
      else w8a8_gemm(*l.w8, rows, m, x_stride, q8, out, row_stride, col_stride);
    };
    if (l.node->op == OpType::kGemm) {
      const int64_t k = x.dim(1);
      parallel_rows(x.dim(0), k * l.n_out, [&](int64_t r0, int64_t r1) {
        multiply(x.as<int8_t>() + r0 * k, r1 - r0, k, y.as<int8_t>() + r0 * l.n_out, l.n_out, 1);
      });
      return;
    }
    const int64_t pixels = l.oh * l.ow, k = l.c * l.kh * l.kw;
    // NHWC in, 1×1 kernel, stride 1, no padding: the input rows are the patches.
    const bool direct = l.in_nhwc && l.kh == 1 && l.kw == 1 && l.strides[0] == 1 && l.strides[1] == 1 &&
                        std::all_of(l.pads.begin(), l.pads.end(), [](int64_t p) { return p == 0; });
    // Output element (pixel, channel): NCHW y[channel][pixel], NHWC y[pixel][channel].
    const int64_t row_stride = l.out_nhwc ? l.n_out : 1, col_stride = l.out_nhwc ? 1 : pixels;
    for (int64_t b = 0; b < x.dim(0); ++b) {
      const int8_t* src = x.as<int8_t>() + b * l.c * l.h * l.w;
      int8_t* dst = y.as<int8_t>() + b * l.n_out * pixels;
      if (direct) {
        parallel_rows(pixels, k * l.n_out, [&](int64_t p0, int64_t p1) {
          multiply(src + p0 * l.c, p1 - p0, l.c, dst + p0 * row_stride, row_stride, col_stride);
        });
        continue;
      }
      parallel_rows(pixels, k * l.n_out, [&](int64_t p0, int64_t p1) {
        // Patches of pixels [p0, p1), row order (input channel, kernel row, kernel column) as the
        // weight rows; taps in the padding hold the zero point, i.e. real 0.
        std::vector<int8_t> patches(static_cast<size_t>((p1 - p0) * k));
        const int64_t taps = l.kh * l.kw, ch_stride = l.in_nhwc ? 1 : l.h * l.w;
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t oy = p / l.ow, ox = p % l.ow;
          int8_t* row = patches.data() + (p - p0) * k;
          for (int64_t t = 0; t < taps; ++t) {
            const int64_t iy = oy * l.strides[0] - l.pads[0] + (t / l.kw) * l.dil[0];
            const int64_t ix = ox * l.strides[1] - l.pads[1] + (t % l.kw) * l.dil[1];
            if (iy < 0 || iy >= l.h || ix < 0 || ix >= l.w) {
              for (int64_t ci = 0; ci < l.c; ++ci) row[ci * taps + t] = static_cast<int8_t>(q4.x_zero);
              continue;
            }
            const int8_t* at = src + (l.in_nhwc ? (iy * l.w + ix) * l.c : iy * l.w + ix);
            for (int64_t ci = 0; ci < l.c; ++ci) row[ci * taps + t] = at[ci * ch_stride];
          }
        }
        multiply(patches.data(), p1 - p0, k, dst + p0 * row_stride, row_stride, col_stride);
      });
    }
  }

  // Depthwise W4A8, channels innermost: each tap's products summed exactly per group, then the
  // group sums feed each channel's f32 fma chain in group order (w4a8_accumulate, w4a8_output).
  // NHWC in and out on an AVX2 CPU: w4a8_depthwise_avx2.cc; otherwise this portable loop.
  void run_depthwise(const Layer& l, const TensorView& x, const TensorView& y, const W4A8Quant& q) const {
    const int64_t c = l.c, hw = l.h * l.w, pixels = l.oh * l.ow, taps = l.kh * l.kw;
    if (l.in_nhwc && l.out_nhwc && isa_supported(Isa::kAvx2)) {  // channels-last both ways: the FMA kernel
      for (int64_t b = 0; b < x.dim(0); ++b)
        parallel_rows(pixels, c * taps, [&](int64_t p0, int64_t p1) {
          std::vector<int32_t> acc(static_cast<size_t>(c));
          std::vector<float> sum(static_cast<size_t>(c));
          detail::DepthwiseW4A8Call call{x.as<int8_t>() + b * c * hw, y.as<int8_t>() + b * c * pixels, c, l.h, l.w, l.kh, l.kw, l.ow,
                                         l.strides[0], l.strides[1], l.pads[0], l.pads[1], l.dil[0], l.dil[1], l.block,
                                         l.dw_weights.data(), l.dw_scales.data(), q.bias, q.x_scale, q.y_scale, q.x_zero, q.y_zero,
                                         p0, p1, acc.data(), sum.data()};
          detail::depthwise_w4a8_avx2(call);
        });
      return;
    }
    const int64_t x_ch = l.in_nhwc ? 1 : hw, y_ch = l.out_nhwc ? 1 : pixels;  // channel strides
    for (int64_t b = 0; b < x.dim(0); ++b) {
      const int8_t* src = x.as<int8_t>() + b * c * hw;
      int8_t* dst = y.as<int8_t>() + b * c * pixels;
      parallel_rows(pixels, c * taps, [&](int64_t p0, int64_t p1) {
        std::vector<int32_t> acc(static_cast<size_t>(c));
        std::vector<float> sum(static_cast<size_t>(c));
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t oy = p / l.ow, ox = p % l.ow;
          std::fill(sum.begin(), sum.end(), 0.f);
          for (int64_t t0 = 0, g = 0; t0 < taps; t0 += l.block, ++g) {
            std::fill(acc.begin(), acc.end(), 0);
            for (int64_t t = t0; t < std::min(taps, t0 + l.block); ++t) {
              const int64_t iy = oy * l.strides[0] - l.pads[0] + (t / l.kw) * l.dil[0];
              const int64_t ix = ox * l.strides[1] - l.pads[1] + (t % l.kw) * l.dil[1];
              if (iy < 0 || iy >= l.h || ix < 0 || ix >= l.w) continue;  // padding: x − x_zero = 0
              const int8_t* xp = src + (l.in_nhwc ? (iy * l.w + ix) * c : iy * l.w + ix);
              const int8_t* wp = l.dw_weights.data() + t * c;
              int32_t* a = acc.data();
              if (x_ch == 1)  // NHWC: contiguous channels, a loop the compiler vectorizes
                for (int64_t ch = 0; ch < c; ++ch) a[ch] += (xp[ch] - q.x_zero) * wp[ch];
              else
                for (int64_t ch = 0; ch < c; ++ch) a[ch] += (xp[ch * x_ch] - q.x_zero) * wp[ch];
            }
            const float* s = l.dw_scales.data() + g * c;
            for (int64_t ch = 0; ch < c; ++ch) sum[ch] = w4a8_accumulate(sum[ch], acc[ch], s[ch]);
          }
          int8_t* out = dst + (l.out_nhwc ? p * c : p);
          for (int64_t ch = 0; ch < c; ++ch)
            out[ch * y_ch] = w4a8_output(sum[ch], q.x_scale, q.bias != nullptr ? q.bias[ch] : 0.f, q.y_scale, q.y_zero);
        }
      });
    }
  }

  // Splits [0, rows) into one contiguous range per thread, but only as many ranges as there are
  // kMinWork multiply-adds for: waking a thread (or waiting for a descheduled one) costs more
  // than a small layer.
  static constexpr int64_t kMinWork = int64_t{1} << 17;
  template <class Fn>
  void parallel_rows(int64_t rows, int64_t work_per_row, const Fn& fn) const {
    const int64_t by_work = std::max<int64_t>(1, rows * work_per_row / kMinWork);
    const int64_t parts = std::min<int64_t>({pool_.threads(), std::max<int64_t>(rows, 1), by_work});
    pool_.parallel_for(static_cast<size_t>(parts), [&](size_t i) {
      const int64_t r0 = rows * static_cast<int64_t>(i) / parts, r1 = rows * static_cast<int64_t>(i + 1) / parts;
      if (r1 > r0) fn(r0, r1);
    });
  }

  std::vector<Layer> layers_;
  ThreadPool& pool_;
};

Result<Layer> prepare_layer(const Graph& g, const Node& n, const Partition& p) {
  const Tensor& x = g.tensors[n.inputs[0]];
  const Tensor& w = g.tensors[n.inputs[1]];
  const Tensor& y = g.tensors[n.outputs[0]];
  Layer l;
  l.node = &n;
  const int64_t rows = w.shape[0], k = w.elements() / rows;
  l.n_out = rows;
  if (w.dtype == DType::kI8) {
    // m_c = x_scale · w_scale[c] / y_scale in double, as the reference's Requantizer.
    std::vector<FixedPointMultiplier> multipliers;
    for (int64_t c = 0; c < rows; ++c) {
      EL_TRY(auto f, quantize_multiplier(double{x.quant.scales[0]} * double{w.quant.scales[static_cast<size_t>(c)]} /
                                         double{y.quant.scales[0]}));
      multipliers.push_back(f);
    }
    std::span<const int32_t> bias;
    if (has_input(n, 2)) bias = g.tensors[n.inputs[2]].values<int32_t>();
    EL_TRY(l.w8, pack_w8a8(w.values<int8_t>(), bias, multipliers, rows, k, best_isa()));
  } else if (is_depthwise(n)) {
    l.depthwise = true;
    l.block = w.quant.block_size;
    const int64_t groups = (k + l.block - 1) / l.block;
    l.dw_weights.resize(static_cast<size_t>(rows * k));
    l.dw_scales.resize(static_cast<size_t>(rows * groups));
    for (int64_t ch = 0; ch < rows; ++ch) {
      for (int64_t t = 0; t < k; ++t) l.dw_weights[static_cast<size_t>(t * rows + ch)] = model::load_i4(w.data.data(), ch * k + t);
      for (int64_t gi = 0; gi < groups; ++gi)
        l.dw_scales[static_cast<size_t>(gi * rows + ch)] = w.quant.scales[static_cast<size_t>(ch * groups + gi)];
    }
  } else {
    EL_TRY(l.w4, pack_w4a8(w.data.span(), w.quant.scales, rows, k, w.quant.block_size, best_isa()));
  }
  if (w.dtype == DType::kI4 && has_input(n, 2)) {
    const auto b = g.tensors[n.inputs[2]].values<float>();
    l.bias.assign(b.begin(), b.end());
  }
  if (n.op == OpType::kConv) {
    l.c = x.shape[1], l.h = x.shape[2], l.w = x.shape[3];
    l.kh = w.shape[2], l.kw = w.shape[3];
    l.oh = y.shape[2], l.ow = y.shape[3];
    l.strides = n.attrs.get_ints("strides", {1, 1});
    l.pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    l.dil = n.attrs.get_ints("dilations", {1, 1});
    auto nhwc = [&](model::TensorId id) { return std::find(p.channels_last.begin(), p.channels_last.end(), id) != p.channels_last.end(); };
    l.in_nhwc = nhwc(n.inputs[0]);
    l.out_nhwc = nhwc(n.outputs[0]);
  }
  return l;
}

class X86Backend final : public Backend {
 public:
  std::string_view name() const override { return "x86"; }
  bool channels_last() const override { return true; }

  std::vector<bool> claim(const Graph& g) const override {
    std::vector<bool> c(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) c[i] = claims(g, g.nodes[i]);
    return c;
  }

  Result<std::unique_ptr<Executable>> prepare(const Graph& g, const Partition& p, ThreadPool& pool) const override {
    std::vector<Layer> layers;
    for (size_t i : p.nodes) {
      EL_TRY(Layer l, prepare_layer(g, g.nodes[i], p));
      layers.push_back(std::move(l));
    }
    return std::make_unique<X86Executable>(std::move(layers), pool);
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() { return std::make_unique<X86Backend>(); }

}  // namespace edgeloop::runtime::x86
