// Reference kernels of the nn ops against hand-computed values and naive loops written here,
// independently of the kernels (explicit 3-D nested loops; 1-D and 2-D cases are 3-D cases with
// unit leading dims).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {
namespace {

using model::OpType;
using model::QuantParams;
using model::Shape;
using Ints = std::vector<int64_t>;

// ---- tensors and calls ----

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) {
    return DType::kF32;
  } else if constexpr (std::is_same_v<T, uint8_t>) {
    return DType::kU8;
  } else if constexpr (std::is_same_v<T, int8_t>) {
    return DType::kI8;
  } else {
    static_assert(std::is_same_v<T, int32_t>);
    return DType::kI32;
  }
}

struct Buffer {
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<std::byte> bytes;
  QuantParams quant;

  TensorView view() { return {dtype, shape, bytes.data(), &quant}; }
  template <class T>
  std::vector<T> values() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
};

template <class T>
Buffer tensor(Shape shape, const std::vector<T>& values, QuantParams quant = {}) {
  Buffer b{dtype_of<T>(), std::move(shape), std::vector<std::byte>(values.size() * sizeof(T)), std::move(quant)};
  EXPECT_EQ(static_cast<int64_t>(values.size()), model::num_elements(b.shape));
  std::memcpy(b.bytes.data(), values.data(), b.bytes.size());
  return b;
}

Buffer output(DType dtype, Shape shape, QuantParams quant = {}) {
  Buffer b{dtype, std::move(shape), {}, std::move(quant)};
  b.bytes.assign(model::storage_bytes(dtype, model::num_elements(b.shape)), std::byte{0xAB});  // garbage
  return b;
}

model::Node node(OpType op, std::vector<std::pair<std::string, model::AttrValue>> attrs = {}) {
  model::Node n;
  n.op = op;
  n.name = "n";
  for (auto& [name, value] : attrs) n.attrs.set(name, value);
  return n;
}

// Runs the op's kernel; a nullptr input is an absent optional input.
void run(const model::Node& n, std::vector<Buffer*> inputs, Buffer& out) {
  std::vector<TensorView> in;
  for (Buffer* b : inputs) in.push_back(b != nullptr ? b->view() : TensorView{});
  std::vector<TensorView> outs{out.view()};
  auto s = kernel_for(n.op)(KernelContext{n, in, outs});
  ASSERT_TRUE(s.has_value()) << s.error().message;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <class T>
std::vector<T> random_ints(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance = 1e-5f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance * (1 + std::fabs(expected[i]))) << "at " << i;
}

// ---- naive 3-D sliding windows ----

// Spatial parameters of a 1-3 D case, padded to 3-D with unit leading dims.
struct Spatial {
  size_t rank = 0;
  std::array<int64_t, 3> in{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1}, pad_begin{}, pad_end{};

  Spatial(const Ints& in_dims, const Ints& kernel_dims, const Ints& strides, const Ints& pads, const Ints& dilations) {
    rank = in_dims.size();
    const size_t lead = 3 - rank;
    for (size_t d = 0; d < rank; ++d) {
      in[lead + d] = in_dims[d];
      kernel[lead + d] = kernel_dims[d];
      stride[lead + d] = strides[d];
      dilation[lead + d] = dilations[d];
      pad_begin[lead + d] = pads[d];
      pad_end[lead + d] = pads[rank + d];
    }
  }
  int64_t conv_out(size_t d) const {
    return (in[d] + pad_begin[d] + pad_end[d] - ((kernel[d] - 1) * dilation[d] + 1)) / stride[d] + 1;
  }
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
};

struct Result3 {
  Shape shape;  // (N, M, spatial... of the original rank)
  std::vector<float> values;
};

Shape spatial_shape(int64_t n, int64_t c, const std::array<int64_t, 3>& dims, size_t rank) {
  Shape s{n, c};
  for (size_t d = 3 - rank; d < 3; ++d) s.push_back(dims[d]);
  return s;
}

// y[n][m][od][oh][ow] = b[m] + sum x[n][g*cg+c][id][ih][iw] * w[m][c][kd][kh][kw].
Result3 naive_conv(const std::vector<float>& x, int64_t batch, int64_t channels, const std::vector<float>& w,
                   int64_t maps, const std::vector<float>& bias, const Spatial& s, int64_t group) {
  const int64_t cg = channels / group, mg = maps / group;
  const std::array<int64_t, 3> out{s.conv_out(0), s.conv_out(1), s.conv_out(2)};
  std::vector<float> y;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < maps; ++m)
      for (int64_t od = 0; od < out[0]; ++od)
        for (int64_t oh = 0; oh < out[1]; ++oh)
          for (int64_t ow = 0; ow < out[2]; ++ow) {
            double sum = bias.empty() ? 0 : bias[m];
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t kd = 0; kd < s.kernel[0]; ++kd)
                for (int64_t kh = 0; kh < s.kernel[1]; ++kh)
                  for (int64_t kw = 0; kw < s.kernel[2]; ++kw) {
                    const int64_t id = od * s.stride[0] - s.pad_begin[0] + kd * s.dilation[0];
                    const int64_t ih = oh * s.stride[1] - s.pad_begin[1] + kh * s.dilation[1];
                    const int64_t iw = ow * s.stride[2] - s.pad_begin[2] + kw * s.dilation[2];
                    if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1] || iw < 0 || iw >= s.in[2]) continue;
                    const int64_t ci = (m / mg) * cg + c;
                    const double xv = x[(((n * channels + ci) * s.in[0] + id) * s.in[1] + ih) * s.in[2] + iw];
                    const double wv = w[(((m * cg + c) * s.kernel[0] + kd) * s.kernel[1] + kh) * s.kernel[2] + kw];
                    sum += xv * wv;
                  }
            y.push_back(static_cast<float>(sum));
          }
  return {spatial_shape(batch, maps, out, s.rank), y};
}

// Transposed convolution by scattering every input element through the kernel.
Result3 naive_conv_transpose(const std::vector<float>& x, int64_t batch, int64_t channels,
                             const std::vector<float>& w, int64_t maps, const std::vector<float>& bias,
                             const Spatial& s, int64_t group, const Ints& output_padding) {
  const int64_t cg = channels / group, mg = maps / group;
  std::array<int64_t, 3> out{};
  for (size_t d = 0; d < 3; ++d) {
    const int64_t extra = d >= 3 - s.rank ? output_padding[d - (3 - s.rank)] : 0;
    out[d] = s.stride[d] * (s.in[d] - 1) + extra + (s.kernel[d] - 1) * s.dilation[d] + 1 - s.pad_begin[d] -
             s.pad_end[d];
  }
  const int64_t out_size = out[0] * out[1] * out[2];
  std::vector<double> y(static_cast<size_t>(batch * maps * out_size));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < maps; ++m)
      for (int64_t i = 0; i < out_size; ++i) y[(n * maps + m) * out_size + i] = bias.empty() ? 0 : bias[m];
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t id = 0; id < s.in[0]; ++id)
        for (int64_t ih = 0; ih < s.in[1]; ++ih)
          for (int64_t iw = 0; iw < s.in[2]; ++iw)
            for (int64_t ml = 0; ml < mg; ++ml)
              for (int64_t kd = 0; kd < s.kernel[0]; ++kd)
                for (int64_t kh = 0; kh < s.kernel[1]; ++kh)
                  for (int64_t kw = 0; kw < s.kernel[2]; ++kw) {
                    const int64_t od = id * s.stride[0] + kd * s.dilation[0] - s.pad_begin[0];
                    const int64_t oh = ih * s.stride[1] + kh * s.dilation[1] - s.pad_begin[1];
                    const int64_t ow = iw * s.stride[2] + kw * s.dilation[2] - s.pad_begin[2];
                    if (od < 0 || od >= out[0] || oh < 0 || oh >= out[1] || ow < 0 || ow >= out[2]) continue;
                    const int64_t m = (c / cg) * mg + ml;
                    const double xv = x[(((n * channels + c) * s.in[0] + id) * s.in[1] + ih) * s.in[2] + iw];
                    const double wv = w[(((c * mg + ml) * s.kernel[0] + kd) * s.kernel[1] + kh) * s.kernel[2] + kw];
                    y[(((n * maps + m) * out[0] + od) * out[1] + oh) * out[2] + ow] += xv * wv;
                  }
  return {spatial_shape(batch, maps, out, s.rank), std::vector<float>(y.begin(), y.end())};
}

enum class Pool { kMax, kAverageExcludingPad, kAverageIncludingPad };

// Pools over each window; with ceil_mode the output extent is given by the caller.
Result3 naive_pool(const std::vector<float>& x, int64_t batch, int64_t channels, const Spatial& s, Pool kind) {
  const std::array<int64_t, 3> out{s.conv_out(0), s.conv_out(1), s.conv_out(2)};
  std::vector<float> y;
  for (int64_t p = 0; p < batch * channels; ++p)
    for (int64_t od = 0; od < out[0]; ++od)
      for (int64_t oh = 0; oh < out[1]; ++oh)
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t count = 0;
          for (int64_t kd = 0; kd < s.kernel[0]; ++kd)
            for (int64_t kh = 0; kh < s.kernel[1]; ++kh)
              for (int64_t kw = 0; kw < s.kernel[2]; ++kw) {
                const int64_t id = od * s.stride[0] - s.pad_begin[0] + kd * s.dilation[0];
                const int64_t ih = oh * s.stride[1] - s.pad_begin[1] + kh * s.dilation[1];
                const int64_t iw = ow * s.stride[2] - s.pad_begin[2] + kw * s.dilation[2];
                if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1] || iw < 0 || iw >= s.in[2]) {
                  count += kind == Pool::kAverageIncludingPad;  // floor mode: every tap lies in the padded input
                  continue;
                }
                const double v = x[((p * s.in[0] + id) * s.in[1] + ih) * s.in[2] + iw];
                best = std::max(best, v);
                sum += v;
                ++count;
              }
          y.push_back(static_cast<float>(kind == Pool::kMax ? best : sum / static_cast<double>(count)));
        }
  return {spatial_shape(batch, channels, out, s.rank), y};
}

model::Node conv_node(OpType op, const Ints& strides, const Ints& pads, const Ints& dilations, int64_t group) {
  return node(op, {{"strides", strides}, {"pads", pads}, {"dilations", dilations}, {"group", group}});
}

// ---- Conv ----

TEST(ReferenceConv, HandComputedThreeByThreeOnes) {
  // ONNX's test_basic_conv_with_padding / without_padding.
  std::vector<float> xs(25);
  for (int i = 0; i < 25; ++i) xs[i] = static_cast<float>(i);
  Buffer x = tensor<float>({1, 1, 5, 5}, xs);
  Buffer w = tensor<float>({1, 1, 3, 3}, std::vector<float>(9, 1.f));
  Buffer padded = output(DType::kF32, {1, 1, 5, 5});
  run(conv_node(OpType::kConv, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1), {&x, &w}, padded);
  EXPECT_EQ(padded.values<float>(), (std::vector<float>{12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                                        93, 144, 153, 162, 111, 72, 111, 117, 123, 84}));
  Buffer bias = tensor<float>({1}, {0.5f});
  Buffer unpadded = output(DType::kF32, {1, 1, 3, 3});
  run(conv_node(OpType::kConv, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1), {&x, &w, &bias}, unpadded);
  EXPECT_EQ(unpadded.values<float>(), (std::vector<float>{54.5, 63.5, 72.5, 99.5, 108.5, 117.5, 144.5, 153.5, 162.5}));
}

struct ConvCase {
  std::string name;
  int64_t batch, channels, maps, group;
  Ints in, kernel, strides, pads, dilations;
  bool bias;
};

class ReferenceConvVsNaive : public testing::TestWithParam<ConvCase> {};

TEST_P(ReferenceConvVsNaive, MatchesNaiveLoops) {
  const ConvCase& c = GetParam();
  const Spatial s(c.in, c.kernel, c.strides, c.pads, c.dilations);
  const int64_t kernel_size = s.kernel[0] * s.kernel[1] * s.kernel[2];
  const auto xs = random_floats(static_cast<size_t>(c.batch * c.channels * s.in_size()), 1);
  const auto ws = random_floats(static_cast<size_t>(c.maps * (c.channels / c.group) * kernel_size), 2);
  const auto bs = c.bias ? random_floats(static_cast<size_t>(c.maps), 3) : std::vector<float>{};
  const Result3 expected = naive_conv(xs, c.batch, c.channels, ws, c.maps, bs, s, c.group);

  Shape x_shape{c.batch, c.channels}, w_shape{c.maps, c.channels / c.group};
  x_shape.insert(x_shape.end(), c.in.begin(), c.in.end());
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  Buffer x = tensor(x_shape, xs), w = tensor(w_shape, ws);
  Buffer b = c.bias ? tensor<float>({c.maps}, bs) : Buffer{};
  Buffer y = output(DType::kF32, expected.shape);
  run(conv_node(OpType::kConv, c.strides, c.pads, c.dilations, c.group), {&x, &w, c.bias ? &b : nullptr}, y);
  expect_near_all(y.values<float>(), expected.values);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReferenceConvVsNaive,
    testing::Values(
        ConvCase{"Grouped2dStridesAsymmetricPadsDilations", 2, 4, 6, 2, {7, 8}, {3, 2}, {2, 1}, {1, 0, 2, 1}, {1, 2}, true},
        ConvCase{"DepthwiseWithMultiplier", 1, 4, 8, 4, {6, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
        ConvCase{"Depthwise", 1, 3, 3, 3, {5, 7}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
        ConvCase{"OneSpatialDim", 2, 3, 2, 1, {11}, {3}, {2}, {2, 1}, {2}, true},
        ConvCase{"ThreeSpatialDims", 1, 2, 3, 1, {4, 5, 6}, {2, 3, 2}, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {2, 1, 1}, true}),
    [](const testing::TestParamInfo<ConvCase>& test) { return test.param.name; });

// ---- ConvTranspose ----

model::Node conv_transpose_node(const Ints& strides, const Ints& pads, const Ints& dilations, int64_t group,
                                const Ints& output_padding) {
  model::Node n = conv_node(OpType::kConvTranspose, strides, pads, dilations, group);
  n.attrs.set("output_padding", output_padding);
  return n;
}

TEST(ReferenceConvTranspose, HandComputedOneDimensional) {
  Buffer x = tensor<float>({1, 1, 3}, {1, 2, 3});
  Buffer w = tensor<float>({1, 1, 3}, {1, 1, 1});
  Buffer y = output(DType::kF32, {1, 1, 5});
  run(conv_transpose_node({1}, {0, 0}, {1}, 1, {0}), {&x, &w}, y);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{1, 3, 6, 5, 3}));
  // Stride 2 spreads the inputs; output_padding adds a last position that only gets the bias.
  Buffer b = tensor<float>({1}, {0.5f});
  Buffer strided = output(DType::kF32, {1, 1, 8});
  run(conv_transpose_node({2}, {0, 0}, {1}, 1, {1}), {&x, &w, &b}, strided);
  EXPECT_EQ(strided.values<float>(), (std::vector<float>{1.5, 1.5, 3.5, 2.5, 5.5, 3.5, 3.5, 0.5}));
  // Pads crop the full output: [1, 1, 3, 2, 5, 3, 3] without its first and last two.
  Buffer cropped = output(DType::kF32, {1, 1, 4});
  run(conv_transpose_node({2}, {1, 2}, {1}, 1, {0}), {&x, &w}, cropped);
  EXPECT_EQ(cropped.values<float>(), (std::vector<float>{1, 3, 2, 5}));
}

TEST(ReferenceConvTranspose, GroupedStridedDilatedPaddedMatchesNaiveScatter) {
  const int64_t batch = 2, channels = 4, maps = 6, group = 2;
  const Ints in{4, 3}, kernel{3, 2}, strides{2, 3}, pads{1, 0, 0, 2}, dilations{2, 1}, output_padding{1, 0};
  const Spatial s(in, kernel, strides, pads, dilations);
  const auto xs = random_floats(static_cast<size_t>(batch * channels * 12), 4);
  const auto ws = random_floats(static_cast<size_t>(channels * (maps / group) * 6), 5);
  const auto bs = random_floats(static_cast<size_t>(maps), 6);
  const Result3 expected = naive_conv_transpose(xs, batch, channels, ws, maps, bs, s, group, output_padding);
  // H: 2 * (4 - 1) + 1 + 5 - 1 = 11; W: 3 * (3 - 1) + 0 + 2 - 2 = 6.
  ASSERT_EQ(expected.shape, (Shape{2, 6, 11, 6}));
  Buffer x = tensor<float>({batch, channels, 4, 3}, xs), w = tensor<float>({channels, maps / group, 3, 2}, ws);
  Buffer b = tensor<float>({maps}, bs);
  Buffer y = output(DType::kF32, expected.shape);
  run(conv_transpose_node(strides, pads, dilations, group, output_padding), {&x, &w, &b}, y);
  expect_near_all(y.values<float>(), expected.values);
}

// ---- Gemm ----

model::Node gemm_node(float alpha, float beta, int64_t trans_a, int64_t trans_b) {
  return node(OpType::kGemm, {{"alpha", alpha}, {"beta", beta}, {"transA", trans_a}, {"transB", trans_b}});
}

TEST(ReferenceGemm, HandComputed) {
  Buffer a = tensor<float>({2, 2}, {1, 2, 3, 4});
  Buffer b = tensor<float>({2, 2}, {5, 6, 7, 8});
  Buffer c = tensor<float>({2}, {1, -1});
  Buffer y = output(DType::kF32, {2, 2});
  run(gemm_node(1, 1, 0, 0), {&a, &b}, y);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{19, 22, 43, 50}));
  run(gemm_node(2, 1, 0, 0), {&a, &b, &c}, y);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{39, 43, 87, 99}));
  // A^T B^T = (BA)^T: [[23, 31], [34, 46]].
  run(gemm_node(1, 0.5f, 1, 1), {&a, &b, &c}, y);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{23.5, 30.5, 34.5, 45.5}));
}

TEST(ReferenceGemm, TransposeFlagsAndBroadcastCMatchNaive) {
  const int64_t m = 3, k = 5, n = 4;
  const auto a_mk = random_floats(m * k, 7), b_kn = random_floats(k * n, 8);
  std::vector<float> a_km(m * k), b_nk(k * n);  // the transposed storage
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) a_km[p * m + i] = a_mk[i * k + p];
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) b_nk[j * k + p] = b_kn[p * n + j];
  const std::vector<std::pair<Shape, std::vector<float>>> cs = {
      {{}, {0.25f}}, {{n}, random_floats(n, 9)}, {{m, 1}, random_floats(m, 10)}, {{m, n}, random_floats(m * n, 11)}};
  for (int64_t trans_a : {0, 1})
    for (int64_t trans_b : {0, 1})
      for (const auto& [c_shape, c_values] : cs) {
        SCOPED_TRACE(testing::Message() << "transA " << trans_a << " transB " << trans_b << " C "
                                        << model::shape_str(c_shape));
        const float alpha = 0.5f, beta = -2.f;
        std::vector<float> expected;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p) sum += double{a_mk[i * k + p]} * b_kn[p * n + j];
            const size_t ci = c_shape.size() == 2 ? (c_shape[1] == 1 ? i : i * n + j) : (c_shape.empty() ? 0 : j);
            expected.push_back(static_cast<float>(alpha * sum + beta * c_values[ci]));
          }
        Buffer a = trans_a ? tensor<float>({k, m}, a_km) : tensor<float>({m, k}, a_mk);
        Buffer b = trans_b ? tensor<float>({n, k}, b_nk) : tensor<float>({k, n}, b_kn);
        Buffer c = tensor<float>(c_shape, c_values);
        Buffer y = output(DType::kF32, {m, n});
        run(gemm_node(alpha, beta, trans_a, trans_b), {&a, &b, &c}, y);
        expect_near_all(y.values<float>(), expected);
      }
}

// ---- MatMul ----

TEST(ReferenceMatMul, VectorOperandsAreHandComputed) {
  Buffer v = tensor<float>({3}, {1, 2, 3});
  Buffer u = tensor<float>({3}, {4, 5, 6});
  Buffer dot = output(DType::kF32, {});
  run(node(OpType::kMatMul), {&v, &u}, dot);
  EXPECT_EQ(dot.values<float>(), (std::vector<float>{32}));
  // [3] x [2, 3, 2]: the row vector times each matrix.
  Buffer m = tensor<float>({2, 3, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, -1, -1});
  Buffer row = output(DType::kF32, {2, 2});
  run(node(OpType::kMatMul), {&v, &m}, row);
  EXPECT_EQ(row.values<float>(), (std::vector<float>{4, 5, -1, 1}));
  // [2, 2, 3] x [3]: each row dotted with the column vector.
  Buffer a = tensor<float>({2, 2, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  Buffer col = output(DType::kF32, {2, 2});
  run(node(OpType::kMatMul), {&a, &v}, col);
  EXPECT_EQ(col.values<float>(), (std::vector<float>{1, 2, 3, 6}));
}

TEST(ReferenceMatMul, BatchBroadcastMatchesNaive) {
  // A [2, 1, 3, 4] x B [3, 4, 5] → [2, 3, 3, 5]: A's size-1 dim and B's missing dim repeat.
  const auto as = random_floats(2 * 3 * 4, 12), bs = random_floats(3 * 4 * 5, 13);
  std::vector<float> expected;
  for (int b0 = 0; b0 < 2; ++b0)
    for (int b1 = 0; b1 < 3; ++b1)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) {
          double sum = 0;
          for (int k = 0; k < 4; ++k) sum += double{as[(b0 * 3 + i) * 4 + k]} * bs[(b1 * 4 + k) * 5 + j];
          expected.push_back(static_cast<float>(sum));
        }
  Buffer a = tensor<float>({2, 1, 3, 4}, as), b = tensor<float>({3, 4, 5}, bs);
  Buffer y = output(DType::kF32, {2, 3, 3, 5});
  run(node(OpType::kMatMul), {&a, &b}, y);
  expect_near_all(y.values<float>(), expected);
}

// ---- quantized Conv and MatMul vs a float simulation ----

// What the quantized op approximates: the float result, requantized to the output's parameters
// with the C library's round-to-nearest-even.
template <class T>
T requantize_expected(double real, const QuantParams& q) {
  const double v = std::nearbyint(real / double{q.scales[0]}) + q.zero_point(0);
  return static_cast<T>(std::clamp<double>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

template <class T>
std::vector<float> dequantize_expected(const std::vector<T>& q, const QuantParams& p, int64_t inner, int64_t channels) {
  std::vector<float> v;
  for (size_t i = 0; i < q.size(); ++i) {
    const size_t c = p.scales.size() == 1 ? 0 : (i / inner) % channels;
    v.push_back(static_cast<float>((static_cast<double>(q[i]) - p.zero_point(c)) * p.scales[c]));
  }
  return v;
}

TEST(ReferenceQuantizedConv, RequantizationTiesRoundToEven) {
  // acc * (1 * 1 / 2): 0.5 → 0, 1.5 → 2, 2.5 → 2, 1 → 1, 127.5 → 128 → saturates to 127.
  Buffer x = tensor<uint8_t>({1, 1, 1, 5}, {1, 3, 5, 2, 255}, {{1.f}, {0}});
  Buffer w = tensor<uint8_t>({1, 1, 1, 1}, {1}, {{1.f}, {0}});
  Buffer y = output(DType::kI8, {1, 1, 1, 5}, {{2.f}, {0}});
  run(conv_node(OpType::kConv, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1), {&x, &w}, y);
  EXPECT_EQ(y.values<int8_t>(), (std::vector<int8_t>{0, 2, 2, 1, 127}));
}

template <class TX, class TW, class TY>
void check_quantized_conv(QuantParams x_quant, QuantParams w_quant, QuantParams y_quant, bool with_bias) {
  const int64_t batch = 1, channels = 4, maps = 4, group = 2;
  const Ints in{6, 5}, kernel{3, 3}, strides{2, 1}, pads{1, 1, 1, 0}, dilations{1, 1};
  const Spatial s(in, kernel, strides, pads, dilations);
  const auto xq = random_ints<TX>(static_cast<size_t>(batch * channels * 30), 21);
  const auto wq = random_ints<TW>(static_cast<size_t>(maps * (channels / group) * 9), 22);
  std::vector<int32_t> bq{1000, -2000, 0, 12345};
  // The float problem the quantized tensors stand for; the bias is in x_scale * w_scale units.
  const auto xf = dequantize_expected(xq, x_quant, 1, 1);
  const auto wf = dequantize_expected(wq, w_quant, (channels / group) * 9, maps);
  std::vector<float> bf;
  if (with_bias)
    for (int64_t m = 0; m < maps; ++m)
      bf.push_back(static_cast<float>(bq[m] * double{x_quant.scales[0]} *
                                      w_quant.scales[w_quant.scales.size() == 1 ? 0 : m]));
  const Result3 real = naive_conv(xf, batch, channels, wf, maps, bf, s, group);
  std::vector<TY> expected;
  for (float v : real.values) expected.push_back(requantize_expected<TY>(v, y_quant));

  Buffer x = tensor<TX>({batch, channels, 6, 5}, xq, x_quant);
  Buffer w = tensor<TW>({maps, channels / group, 3, 3}, wq, w_quant);
  Buffer b = tensor<int32_t>({maps}, bq);
  Buffer y = output(dtype_of<TY>(), real.shape, y_quant);
  run(conv_node(OpType::kConv, strides, pads, dilations, group), {&x, &w, with_bias ? &b : nullptr}, y);
  const auto actual = y.values<TY>();
  ASSERT_EQ(actual.size(), expected.size());
  // The simulation carries float rounding the exact integer path does not; the two agree unless
  // a value lands within that rounding of a tie, which these seeds avoid.
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_EQ(int{actual[i]}, int{expected[i]}) << "at " << i << " real " << real.values[i];
}

TEST(ReferenceQuantizedConv, U8InputPerChannelI8WeightsU8OutputMatchesFloatSimulation) {
  check_quantized_conv<uint8_t, int8_t, uint8_t>({{0.05f}, {120}}, {{0.01f, 0.02f, 0.005f, 0.03f}, {0, 3, -2, 0}, 0},
                                                 {{0.5f}, {100}}, true);
}

TEST(ReferenceQuantizedConv, I8InputPerTensorU8WeightsI8OutputMatchesFloatSimulation) {
  check_quantized_conv<int8_t, uint8_t, int8_t>({{0.03f}, {-7}}, {{0.004f}, {130}}, {{0.06f}, {5}}, false);
  check_quantized_conv<int8_t, uint8_t, int8_t>({{0.03f}, {-7}}, {{0.004f}, {130}}, {{0.06f}, {5}}, true);
}

TEST(ReferenceQuantizedMatMul, PerColumnWeightsMatchFloatSimulation) {
  const QuantParams a_quant{{0.02f}, {130}}, y_quant{{0.05f}, {-10}};
  const QuantParams b_quant{{0.01f, 0.03f, 0.02f, 0.005f, 0.015f}, {0, 2, -3, 0, 1}, 1};
  const auto aq = random_ints<uint8_t>(2 * 3 * 4, 31);
  const auto bq = random_ints<int8_t>(4 * 5, 32);
  const auto af = dequantize_expected(aq, a_quant, 1, 1);
  const auto bf = dequantize_expected(bq, b_quant, 1, 5);
  std::vector<int8_t> expected;
  for (int batch = 0; batch < 2; ++batch)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 5; ++j) {
        double sum = 0;
        for (int k = 0; k < 4; ++k) sum += double{af[(batch * 3 + i) * 4 + k]} * bf[k * 5 + j];
        expected.push_back(requantize_expected<int8_t>(sum, y_quant));
      }
  Buffer a = tensor<uint8_t>({2, 3, 4}, aq, a_quant);
  Buffer b = tensor<int8_t>({4, 5}, bq, b_quant);
  Buffer y = output(DType::kI8, {2, 3, 5}, y_quant);
  run(node(OpType::kMatMul), {&a, &b}, y);
  EXPECT_EQ(y.values<int8_t>(), expected);
}

TEST(ReferenceQuantizedMatMul, HandComputedWithZeroPointsAndSaturation) {
  // (a - 1) = [[1, 2], [3, 4]], (b - 2) = [[1, 0], [0, 100]]: acc [[1, 200], [3, 400]]; multiplier
  // 1 * 1 / 1 → u8 with zero point 50: [[51, 250], [53, 255 (saturated from 450)]].
  Buffer a = tensor<uint8_t>({2, 2}, {2, 3, 4, 5}, {{1.f}, {1}});
  Buffer b = tensor<uint8_t>({2, 2}, {3, 2, 2, 102}, {{1.f}, {2}});
  Buffer y = output(DType::kU8, {2, 2}, {{1.f}, {50}});
  run(node(OpType::kMatMul), {&a, &b}, y);
  EXPECT_EQ(y.values<uint8_t>(), (std::vector<uint8_t>{51, 250, 53, 255}));
}

// ---- pools ----

model::Node pool_node(OpType op, const Ints& kernel, const Ints& strides, const Ints& pads, int64_t ceil_mode,
                      int64_t count_include_pad = 0) {
  model::Node n = node(op, {{"kernel_shape", kernel}, {"strides", strides}, {"pads", pads}, {"ceil_mode", ceil_mode}});
  if (op == OpType::kMaxPool) n.attrs.set("dilations", Ints(kernel.size(), 1));
  if (op == OpType::kAveragePool) n.attrs.set("count_include_pad", count_include_pad);
  return n;
}

std::vector<float> one_to(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);
  return v;
}

TEST(ReferencePool, CeilModeIsHandComputed) {
  // ONNX's test_maxpool_2d_ceil / test_averagepool_2d_ceil: 4x4 of 1..16, 3x3 windows, stride 2.
  Buffer x = tensor<float>({1, 1, 4, 4}, one_to(16));
  Buffer max = output(DType::kF32, {1, 1, 2, 2});
  run(pool_node(OpType::kMaxPool, {3, 3}, {2, 2}, {0, 0, 0, 0}, 1), {&x}, max);
  EXPECT_EQ(max.values<float>(), (std::vector<float>{11, 12, 15, 16}));
  for (int64_t include : {0, 1}) {
    Buffer avg = output(DType::kF32, {1, 1, 2, 2});
    run(pool_node(OpType::kAveragePool, {3, 3}, {2, 2}, {0, 0, 0, 0}, 1, include), {&x}, avg);
    // Windows cut by the input's end average what they cover, padding or not.
    EXPECT_EQ(avg.values<float>(), (std::vector<float>{6, 7.5, 12, 13.5}));
  }
}

TEST(ReferencePool, AveragePoolCountIncludePadIsHandComputed) {
  Buffer x = tensor<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Buffer excluding = output(DType::kF32, {1, 1, 3, 3});
  run(pool_node(OpType::kAveragePool, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 0), {&x}, excluding);
  EXPECT_EQ(excluding.values<float>(), (std::vector<float>{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}));
  Buffer including = output(DType::kF32, {1, 1, 3, 3});
  run(pool_node(OpType::kAveragePool, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 1), {&x}, including);
  EXPECT_EQ(including.values<float>(), (std::vector<float>{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}));
}

TEST(ReferencePool, CeilModeWindowPastTheEndPaddingCountsOnlyThePaddedInput) {
  // x = [1, 2, 3, 4], window 3, stride 2, pads 1 and 1, ceil: windows start at -1, 1, 3. The last
  // covers x[3], one end-pad position and one position past the padding.
  Buffer x = tensor<float>({1, 1, 4}, {1, 2, 3, 4});
  Buffer including = output(DType::kF32, {1, 1, 3});
  run(pool_node(OpType::kAveragePool, {3}, {2}, {1, 1}, 1, 1), {&x}, including);
  EXPECT_EQ(including.values<float>(), (std::vector<float>{1, 3, 2}));
  Buffer excluding = output(DType::kF32, {1, 1, 3});
  run(pool_node(OpType::kAveragePool, {3}, {2}, {1, 1}, 1, 0), {&x}, excluding);
  EXPECT_EQ(excluding.values<float>(), (std::vector<float>{1.5, 3, 4}));
  Buffer max = output(DType::kF32, {1, 1, 3});
  run(pool_node(OpType::kMaxPool, {3}, {2}, {1, 1}, 1), {&x}, max);
  EXPECT_EQ(max.values<float>(), (std::vector<float>{2, 4, 4}));
}

TEST(ReferencePool, MaxPoolPaddingNeverWinsOnNegativeIntegers) {
  Buffer x = tensor<int8_t>({1, 1, 2, 2}, {-5, -3, -8, -7}, {{0.1f}, {4}});
  Buffer y = output(DType::kI8, {1, 1, 3, 3}, {{0.1f}, {4}});
  run(pool_node(OpType::kMaxPool, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0), {&x}, y);
  EXPECT_EQ(y.values<int8_t>(), (std::vector<int8_t>{-5, -3, -3, -5, -3, -3, -8, -7, -7}));
}

TEST(ReferencePool, MaxPoolU8WithDilationsMatchesNaive) {
  const Ints in{7, 8}, kernel{2, 3}, strides{2, 1}, pads{1, 0, 0, 2}, dilations{2, 2};
  const Spatial s(in, kernel, strides, pads, dilations);
  const auto xq = random_ints<uint8_t>(2 * 3 * 56, 41);
  const Result3 expected = naive_pool(std::vector<float>(xq.begin(), xq.end()), 2, 3, s, Pool::kMax);
  Buffer x = tensor<uint8_t>({2, 3, 7, 8}, xq);
  Buffer y = output(DType::kU8, expected.shape);
  model::Node n = pool_node(OpType::kMaxPool, kernel, strides, pads, 0);
  n.attrs.set("dilations", dilations);
  run(n, {&x}, y);
  const auto actual = y.values<uint8_t>();
  EXPECT_EQ(std::vector<float>(actual.begin(), actual.end()), expected.values);
}

struct PoolCase {
  std::string name;
  Ints in, kernel, strides, pads;
  Pool kind;
};

class ReferencePoolVsNaive : public testing::TestWithParam<PoolCase> {};

TEST_P(ReferencePoolVsNaive, MatchesNaiveLoops) {
  const PoolCase& c = GetParam();
  const Spatial s(c.in, c.kernel, c.strides, c.pads, Ints(c.in.size(), 1));
  const auto xs = random_floats(static_cast<size_t>(2 * 3 * s.in_size()), 51, -5.f, 5.f);
  const Result3 expected = naive_pool(xs, 2, 3, s, c.kind);
  Shape x_shape{2, 3};
  x_shape.insert(x_shape.end(), c.in.begin(), c.in.end());
  Buffer x = tensor(x_shape, xs);
  Buffer y = output(DType::kF32, expected.shape);
  const OpType op = c.kind == Pool::kMax ? OpType::kMaxPool : OpType::kAveragePool;
  run(pool_node(op, c.kernel, c.strides, c.pads, 0, c.kind == Pool::kAverageIncludingPad), {&x}, y);
  expect_near_all(y.values<float>(), expected.values);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReferencePoolVsNaive,
    testing::Values(PoolCase{"Max1d", {9}, {3}, {2}, {1, 2}, Pool::kMax},
                    PoolCase{"Max3d", {4, 5, 6}, {2, 3, 2}, {1, 2, 2}, {1, 0, 1, 0, 2, 1}, Pool::kMax},
                    PoolCase{"Average2dExcludingPad", {6, 7}, {3, 2}, {2, 1}, {2, 1, 1, 0}, Pool::kAverageExcludingPad},
                    PoolCase{"Average2dIncludingPad", {6, 7}, {3, 2}, {2, 1}, {2, 1, 1, 0}, Pool::kAverageIncludingPad},
                    PoolCase{"Average3dIncludingPad", {3, 4, 5}, {2, 2, 3}, {1, 2, 2}, {1, 1, 0, 0, 1, 2},
                             Pool::kAverageIncludingPad}),
    [](const testing::TestParamInfo<PoolCase>& test) { return test.param.name; });

TEST(ReferenceGlobalPool, ReducesEachChannel) {
  Buffer x = tensor<float>({2, 2, 1, 3}, {1, 2, 6, -1, -2, -6, 0, 0, 3, 5, 5, 5});
  Buffer avg = output(DType::kF32, {2, 2, 1, 1});
  run(node(OpType::kGlobalAveragePool), {&x}, avg);
  EXPECT_EQ(avg.values<float>(), (std::vector<float>{3, -3, 1, 5}));
  Buffer max = output(DType::kF32, {2, 2, 1, 1});
  run(node(OpType::kGlobalMaxPool), {&x}, max);
  EXPECT_EQ(max.values<float>(), (std::vector<float>{6, -1, 3, 5}));
}

// ---- BatchNormalization ----

TEST(ReferenceBatchNormalization, HandComputed) {
  // Channel 0: (x - 1) / 2. Channel 1: 2 * x / 0.5 + 1 = 4x + 1.
  Buffer x = tensor<float>({2, 2, 1, 2}, {1, 3, 0, 1, 5, -1, 2, -0.5});
  Buffer scale = tensor<float>({2}, {1, 2}), bias = tensor<float>({2}, {0, 1});
  Buffer mean = tensor<float>({2}, {1, 0}), var = tensor<float>({2}, {4, 0.25});
  Buffer y = output(DType::kF32, {2, 2, 1, 2});
  run(node(OpType::kBatchNormalization, {{"epsilon", 0.f}}), {&x, &scale, &bias, &mean, &var}, y);
  EXPECT_EQ(y.values<float>(), (std::vector<float>{0, 1, 1, 5, 2, -1, 9, -1}));
}

TEST(ReferenceBatchNormalization, EpsilonMatchesTheFormula) {
  const auto xs = random_floats(2 * 3 * 4, 61), scale_v = random_floats(3, 62), bias_v = random_floats(3, 63);
  const auto mean_v = random_floats(3, 64), var_v = random_floats(3, 65, 0.f, 1.f);
  const float epsilon = 1e-2f;
  std::vector<float> expected;
  for (int i = 0; i < 24; ++i) {
    const int c = (i / 4) % 3;
    expected.push_back(scale_v[c] * (xs[i] - mean_v[c]) / std::sqrt(var_v[c] + epsilon) + bias_v[c]);
  }
  Buffer x = tensor<float>({2, 3, 4}, xs), scale = tensor<float>({3}, scale_v), bias = tensor<float>({3}, bias_v);
  Buffer mean = tensor<float>({3}, mean_v), var = tensor<float>({3}, var_v);
  Buffer y = output(DType::kF32, {2, 3, 4});
  run(node(OpType::kBatchNormalization, {{"epsilon", epsilon}}), {&x, &scale, &bias, &mean, &var}, y);
  expect_near_all(y.values<float>(), expected);
}

// ---- QuantizeLinear and DequantizeLinear ----

TEST(ReferenceQuantizeLinear, TiesRoundToEvenAndSaturate) {
  Buffer x = tensor<float>({10}, {2.5f, -2.5f, 3.5f, -3.5f, 0.5f, 1.5f, 1000.f, -1000.f, 127.5f, -128.5f});
  Buffer y = output(DType::kI8, {10}, {{1.f}, {0}});
  run(node(OpType::kQuantizeLinear), {&x}, y);
  EXPECT_EQ(y.values<int8_t>(), (std::vector<int8_t>{2, -2, 4, -4, 0, 2, 127, -128, 127, -128}));
  // Scale 0.5, zero point 128: x / 0.5 = 2.5 → 2, -2.5 → -2, 1.5 → 2, 200 and -200 saturate.
  Buffer xu = tensor<float>({5}, {1.25f, -1.25f, 0.75f, 100.f, -100.f});
  Buffer yu = output(DType::kU8, {5}, {{0.5f}, {128}});
  run(node(OpType::kQuantizeLinear), {&xu}, yu);
  EXPECT_EQ(yu.values<uint8_t>(), (std::vector<uint8_t>{130, 126, 130, 255, 0}));
}

TEST(ReferenceQuantizeLinear, DividesInFloatAsOnnxDoes) {
  // 0.7f / 0.2f is exactly 3.5 in float (→ 4) but 3.4999999 in double (→ 3).
  Buffer x = tensor<float>({1}, {0.7f});
  Buffer y = output(DType::kU8, {1}, {{0.2f}, {0}});
  run(node(OpType::kQuantizeLinear), {&x}, y);
  EXPECT_EQ(y.values<uint8_t>(), (std::vector<uint8_t>{4}));
}

TEST(ReferenceQuantizeLinear, PerAxis) {
  Buffer x = tensor<float>({2, 3}, {3, 3, 3, -6, 5, 10});
  Buffer y = output(DType::kI8, {2, 3}, {{1.f, 2.f, 4.f}, {0, 10, -10}, 1});
  run(node(OpType::kQuantizeLinear), {&x}, y);
  // Columns: x / 1, round(x / 2) + 10, round(x / 4) - 10.
  EXPECT_EQ(y.values<int8_t>(), (std::vector<int8_t>{3, 12, -9, -6, 12, -8}));
  Buffer rows = output(DType::kU8, {2, 3}, {{1.f, 0.5f}, {10, 20}, 0});
  run(node(OpType::kQuantizeLinear), {&x}, rows);
  EXPECT_EQ(rows.values<uint8_t>(), (std::vector<uint8_t>{13, 13, 13, 8, 30, 40}));
}

TEST(ReferenceDequantizeLinear, U8I8AndI32) {
  Buffer xu = tensor<uint8_t>({3}, {0, 128, 255}, {{0.5f}, {128}});
  Buffer yu = output(DType::kF32, {3});
  run(node(OpType::kDequantizeLinear), {&xu}, yu);
  EXPECT_EQ(yu.values<float>(), (std::vector<float>{-64, 0, 63.5}));
  Buffer xi = tensor<int8_t>({2, 2}, {-128, 127, 0, -1}, {{2.f, 0.25f}, {-128, 4}, 0});
  Buffer yi = output(DType::kF32, {2, 2});
  run(node(OpType::kDequantizeLinear), {&xi}, yi);
  EXPECT_EQ(yi.values<float>(), (std::vector<float>{0, 510, -1, -1.25}));
  Buffer x32 = tensor<int32_t>({3}, {1000, -2000000000, std::numeric_limits<int32_t>::min()}, {{0.5f}, {1}});
  Buffer y32 = output(DType::kF32, {3});
  run(node(OpType::kDequantizeLinear), {&x32}, y32);
  // (x - 1) * 0.5 with x - 1 rounded to float: -2000000001 → -2e9, -2147483649 → -2^31.
  EXPECT_EQ(y32.values<float>(), (std::vector<float>{499.5f, -1e9f, -1073741824.f}));
}

}  // namespace
}  // namespace edgeloop::runtime::reference
