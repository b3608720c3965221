#include "edgeloop/runtime/xnnpack/xnnpack_backend.h"

#include <xnnpack.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

namespace edgeloop::runtime::xnnpack {

namespace {

using model::Graph;
using model::Node;
using model::OpType;
using model::Tensor;
using model::TensorId;

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------------------
// What the backend claims. Every rule here has its counterpart in Builder below.

bool is_f32(const Tensor& t) { return t.dtype == DType::kF32 && t.quant.empty(); }
// int8 per tensor: XNNPACK's qint8.
bool is_qi8(const Tensor& t) { return t.dtype == DType::kI8 && t.quant.per_tensor(); }
// Symmetric int8 weights, per tensor or per output channel along `axis`: qcint8.
bool is_qc8_weight(const Tensor& t, int32_t axis) {
  if (t.dtype != DType::kI8 || !t.constant || t.quant.empty() || t.quant.per_group()) return false;
  if (!t.quant.per_tensor() && t.quant.axis != axis) return false;
  for (int32_t z : t.quant.zero_points)
    if (z != 0) return false;
  return true;
}
bool is_const_i32_vector(const Tensor& t, int64_t n) {
  return t.dtype == DType::kI32 && t.constant && t.elements() == n && t.quant.empty();
}
bool is_const_f32_vector(const Tensor& t, int64_t n) { return is_f32(t) && t.constant && t.elements() == n; }

bool has_input(const Node& n, size_t i) { return n.inputs.size() > i && n.inputs[i] != model::kNoTensor; }

// Both layouts are the same bytes: no transpose at a boundary.
bool layout_free(const model::Shape& s) { return s.size() != 4 || s[1] == 1 || s[2] * s[3] == 1; }

struct Claimer {
  const Graph& g;
  std::vector<std::vector<size_t>> consumers;  // per tensor: the nodes reading it

  explicit Claimer(const Graph& graph) : g(graph), consumers(graph.tensors.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (TensorId id : g.nodes[i].inputs)
        if (id != model::kNoTensor) consumers[id].push_back(i);
  }
  const Tensor& in(const Node& n, size_t i) const { return g.tensors[n.inputs[i]]; }
  const Tensor& out(const Node& n) const { return g.tensors[n.outputs[0]]; }

  bool conv(const Node& n) const {
    const Tensor& x = in(n, 0);
    const Tensor& w = in(n, 1);
    const Tensor& y = out(n);
    if (x.shape.size() != 4 || !w.constant) return false;
    const int64_t cout = w.shape[0];
    if (is_f32(x) && is_f32(w) && is_f32(y)) return !has_input(n, 2) || is_const_f32_vector(in(n, 2), cout);
    if (is_qi8(x) && is_qc8_weight(w, 0) && is_qi8(y)) return !has_input(n, 2) || is_const_i32_vector(in(n, 2), cout);
    return false;
  }
  // Gemm with constant B and C, no transA: a fully-connected layer.
  bool gemm(const Node& n) const {
    const Tensor& a = in(n, 0);
    const Tensor& b = in(n, 1);
    const Tensor& y = out(n);
    if (a.shape.size() != 2 || !b.constant || n.attrs.get_int("transA", 0) != 0) return false;
    const bool trans_b = n.attrs.get_int("transB", 0) != 0;
    const int64_t cols = trans_b ? b.shape[0] : b.shape[1];
    if (is_f32(a) && is_f32(b) && is_f32(y)) {
      if (n.attrs.get_float("alpha", 1.f) != 1.f) return false;
      return !has_input(n, 2) || (is_const_f32_vector(in(n, 2), cols) && n.attrs.get_float("beta", 1.f) == 1.f);
    }
    if (is_qi8(a) && is_qc8_weight(b, trans_b ? 0 : 1) && is_qi8(y)) return !has_input(n, 2) || is_const_i32_vector(in(n, 2), cols);
    return false;
  }
  bool matmul(const Node& n) const {
    const Tensor& a = in(n, 0);
    const Tensor& b = in(n, 1);
    return a.shape.size() == 2 && b.shape.size() == 2 && b.constant && is_f32(a) && is_f32(b) && is_f32(out(n));
  }
  bool binary(const Node& n) const {
    const Tensor& a = in(n, 0);
    const Tensor& b = in(n, 1);
    if (a.constant || b.constant || a.shape.size() != b.shape.size()) return false;  // broadcasting permutes with the layout only at equal rank
    if (is_f32(a) && is_f32(b) && is_f32(out(n))) return true;
    return n.op == OpType::kAdd && is_qi8(a) && is_qi8(b) && is_qi8(out(n));
  }
  bool unary_clamp(const Node& n) const {
    const Tensor& x = in(n, 0);
    return (is_f32(x) && is_f32(out(n))) || (is_qi8(x) && is_qi8(out(n)));
  }
  bool pool(const Node& n) const {
    const Tensor& x = in(n, 0);
    if (x.shape.size() != 4 || n.attrs.get_int("ceil_mode", 0) != 0) return false;
    const auto k = n.attrs.get_ints("kernel_shape");
    if (k.size() != 2 || k[0] * k[1] < 2) return false;  // XNNPACK refuses 1×1 pooling
    if (n.op == OpType::kAveragePool) {
      for (int64_t p : n.attrs.get_ints("pads"))
        if (p != 0) return false;  // padding would need count_include_pad semantics
      return is_f32(x);
    }
    return is_f32(x) || is_qi8(x);
  }
  // Flatten of a rank-4 tensor to [N, C·H·W]: only when fully-connected layers read it (their
  // weight columns are permuted to XNNPACK's H·W·C order); free when the layouts agree.
  bool reshape(const Node& n, const std::vector<bool>& claimed) const {
    const Tensor& x = in(n, 0);
    const Tensor& y = out(n);
    if (!(is_f32(x) || is_qi8(x))) return false;
    if (x.shape.size() != 4 && y.shape.size() != 4) return true;
    if (x.shape.size() == 4 && y.shape.size() == 4) return x.shape == y.shape;
    if (layout_free(x.shape) && layout_free(y.shape)) return true;
    if (x.shape.size() != 4 || y.shape.size() != 2 || y.shape[0] != x.shape[0]) return false;
    const TensorId id = n.outputs[0];
    for (TensorId o : g.outputs)
      if (o == id) return false;
    for (size_t c : consumers[id]) {
      const Node& user = g.nodes[c];
      if (!claimed[c] || (user.op != OpType::kGemm && user.op != OpType::kMatMul) || user.inputs[0] != id) return false;
    }
    return !consumers[id].empty();
  }
  bool node(const Node& n) const {
    switch (n.op) {
      case OpType::kConv: return conv(n);
      case OpType::kGemm: return gemm(n);
      case OpType::kMatMul: return matmul(n);
      case OpType::kAdd:
      case OpType::kMul: return binary(n);
      case OpType::kRelu:
      case OpType::kClip: return unary_clamp(n);
      case OpType::kSigmoid:
      case OpType::kHardSwish: return is_f32(in(n, 0)) && is_f32(out(n));
      case OpType::kGlobalAveragePool: return in(n, 0).shape.size() == 4 && (is_f32(in(n, 0)) || is_qi8(in(n, 0)));
      case OpType::kMaxPool:
      case OpType::kAveragePool: return pool(n);
      case OpType::kQuantizeLinear: return is_f32(in(n, 0)) && is_qi8(out(n));
      case OpType::kDequantizeLinear: return is_qi8(in(n, 0)) && is_f32(out(n));
      default: return false;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Layout conversions at partition boundaries.

// NCHW ↔ NHWC for elements of `size` bytes (1 or 4); dims = {N, C, H, W}.
template <class T>
void transpose_as(const T* src, T* dst, int64_t n, int64_t c, int64_t hw, bool to_nhwc) {
  for (int64_t b = 0; b < n; ++b, src += c * hw, dst += c * hw)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t p = 0; p < hw; ++p) {
        if (to_nhwc) dst[p * c + ci] = src[ci * hw + p];
        else dst[ci * hw + p] = src[p * c + ci];
      }
}
void transpose(const std::byte* src, std::byte* dst, const std::array<int64_t, 4>& d, size_t size, bool to_nhwc) {
  if (size == 4) transpose_as(reinterpret_cast<const uint32_t*>(src), reinterpret_cast<uint32_t*>(dst), d[0], d[1], d[2] * d[3], to_nhwc);
  else transpose_as(reinterpret_cast<const uint8_t*>(src), reinterpret_cast<uint8_t*>(dst), d[0], d[1], d[2] * d[3], to_nhwc);
}

// OIHW → OHWI (dense, grouped) or [1, kh, kw, O] (depthwise); `taps` = kh·kw.
template <class T>
void permute_filter(const T* src, T* dst, size_t out, size_t in, size_t taps, bool depthwise) {
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i)
      for (size_t t = 0; t < taps; ++t) {
        const T v = src[(o * in + i) * taps + t];
        if (depthwise) dst[t * out + o] = v;
        else dst[(o * taps + t) * in + i] = v;
      }
}

// A fully-connected layer's weights as [N][K] rows, from [N][K] (trans_b) or [K][N], with column
// j of the IR's input moved to column(j).
template <class T, class Column>
void to_rows(const T* src, T* dst, size_t n, size_t k, bool trans_b, const Column& column) {
  for (size_t o = 0; o < n; ++o)
    for (size_t j = 0; j < k; ++j) dst[o * k + column(j)] = trans_b ? src[o * k + j] : src[j * n + o];
}

// A buffer XNNPACK may read XNN_EXTRA_BYTES past the end of.
struct Buffer {
  std::unique_ptr<std::byte[]> bytes;
  explicit Buffer(size_t n) : bytes(n == 0 ? nullptr : new std::byte[n + XNN_EXTRA_BYTES]()) {}
};

// A partition input or output.
struct Boundary {
  TensorId tensor = 0;
  uint32_t external_id = 0;
  bool input = false;
  std::optional<std::array<int64_t, 4>> nchw;  // transposed through a staging buffer when set
  size_t element_size = 0;
  size_t bytes = 0;
};

// One XNNPACK runtime of a partition with its buffers: it runs one inference at a time.
struct Instance {
  xnn_runtime_t runtime = nullptr;
  std::vector<Buffer> constants;           // converted weights XNNPACK read when it made the runtime
  std::vector<Buffer> staging;             // per boundary entry (empty buffer when not transposed)
  std::vector<xnn_external_value> bound;  // what xnn_setup_runtime bound last
  ~Instance() {
    if (runtime != nullptr) xnn_delete_runtime(runtime);
  }
};

// ---------------------------------------------------------------------------------------------
// Subgraph construction for one partition.

std::string xnn_status_name(xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown";
}

class Builder {
 public:
  Builder(const Graph& g, const Partition& p) : g_(g), p_(p), ids_(g.tensors.size(), XNN_INVALID_VALUE_ID), flat_(g.tensors.size()) {}
  ~Builder() {
    if (subgraph_ != nullptr) xnn_delete_subgraph(subgraph_);
  }

  // Defines the partition as a fresh subgraph and creates a runtime from it (XNNPACK optimizes a
  // subgraph in place while creating a runtime, so each runtime gets a subgraph of its own).
  Result<std::unique_ptr<Instance>> build(pthreadpool_t pool) {
    const auto externals = static_cast<uint32_t>(p_.inputs.size() + p_.outputs.size());
    EL_CHECK(check(xnn_create_subgraph(externals, 0, &subgraph_), "xnn_create_subgraph"));
    for (size_t i : p_.nodes) {  // flattens first: a flattened partition output is transposed back
      const Node& n = g_.nodes[i];
      const Tensor& x = t(n.inputs[0]);
      if (n.op == OpType::kReshape && x.shape.size() == 4 && t(n.outputs[0]).shape.size() == 2 && !layout_free(x.shape))
        flat_[n.outputs[0]] = std::array<int64_t, 4>{x.shape[0], x.shape[1], x.shape[2], x.shape[3]};
    }
    for (TensorId id : p_.inputs) EL_CHECK(define_external(id, true));
    for (TensorId id : p_.outputs) EL_CHECK(define_external(id, false));
    for (size_t k = 0; k < p_.nodes.size(); ++k) {
      const Node& n = g_.nodes[p_.nodes[k]];
      auto status = define_node(n, k);
      if (!status) return std::unexpected(std::move(status).error().context(fmt::format("node '{}' ({})", n.name, model::op_name(n.op))));
    }
    auto inst = std::make_unique<Instance>();
    EL_CHECK(check(xnn_create_runtime_v2(subgraph_, pool, 0, &inst->runtime), "xnn_create_runtime_v2"));
    inst->constants = std::move(constants_);
    for (const Boundary& b : boundary_) inst->staging.emplace_back(b.nchw ? b.bytes : 0);
    return inst;
  }
  const std::vector<Boundary>& boundary() const { return boundary_; }

 private:
  Status check(xnn_status s, std::string_view what) const {
    if (s == xnn_status_success) return ok();
    return make_error(ErrorCode::kUnsupported, "XNNPACK {}: {}", what, xnn_status_name(s));
  }

  const Tensor& t(TensorId id) const { return g_.tensors[id]; }

  // XNNPACK dims: rank-4 tensors NHWC.
  static std::vector<size_t> dims(const model::Shape& s) {
    std::vector<size_t> d(s.begin(), s.end());
    if (s.size() == 4) d = {static_cast<size_t>(s[0]), static_cast<size_t>(s[2]), static_cast<size_t>(s[3]), static_cast<size_t>(s[1])};
    return d;
  }

  Result<uint32_t> define(TensorId id, const std::vector<size_t>& d, uint32_t external_id, uint32_t flags) {
    const Tensor& x = t(id);
    uint32_t out = XNN_INVALID_VALUE_ID;
    if (x.dtype == DType::kF32)
      EL_CHECK(check(xnn_define_tensor_value(subgraph_, xnn_datatype_fp32, d.size(), d.data(), nullptr, external_id, flags, &out), "tensor"));
    else
      EL_CHECK(check(xnn_define_quantized_tensor_value(subgraph_, xnn_datatype_qint8, x.quant.zero_point(0), x.quant.scales[0], d.size(),
                                                       d.data(), nullptr, external_id, flags, &out),
                     "quantized tensor"));
    return out;
  }

  Status define_external(TensorId id, bool input) {
    const Tensor& x = t(id);
    Boundary b;
    b.tensor = id;
    b.external_id = next_external_++;
    b.input = input;
    b.element_size = model::element_size(x.dtype);
    std::vector<size_t> d = dims(x.shape);
    if (!input && flat_[id]) {  // a flatten's output leaving the partition: back to C·H·W order
      b.nchw = flat_[id];
    } else if (x.shape.size() == 4 && !layout_free(x.shape) &&
               std::find(p_.channels_last.begin(), p_.channels_last.end(), id) == p_.channels_last.end()) {
      b.nchw = std::array<int64_t, 4>{x.shape[0], x.shape[1], x.shape[2], x.shape[3]};
    }
    b.bytes = x.byte_size();
    EL_TRY(ids_[id], define(id, d, b.external_id, input ? XNN_VALUE_FLAG_EXTERNAL_INPUT : XNN_VALUE_FLAG_EXTERNAL_OUTPUT));
    boundary_.push_back(std::move(b));
    return ok();
  }

  // The value of a non-constant tensor: external ones are defined up front, internal on first use.
  Result<uint32_t> value(TensorId id, std::optional<std::vector<size_t>> d = std::nullopt) {
    if (ids_[id] == XNN_INVALID_VALUE_ID) {
      EL_TRY(ids_[id], define(id, d ? *d : dims(t(id).shape), XNN_INVALID_VALUE_ID, 0));
    }
    return ids_[id];
  }

  // Keeps converted constant data alive for the runtime's lifetime.
  template <class T>
  T* own(size_t count) {
    constants_.emplace_back(count * sizeof(T));
    return reinterpret_cast<T*>(constants_.back().bytes.get());
  }

  Result<uint32_t> static_f32(const float* data, const std::vector<size_t>& d) {
    uint32_t id = XNN_INVALID_VALUE_ID;
    EL_CHECK(check(xnn_define_tensor_value(subgraph_, xnn_datatype_fp32, d.size(), d.data(), data, XNN_INVALID_VALUE_ID, 0, &id), "static tensor"));
    return id;
  }
  Result<uint32_t> static_qc8(const int8_t* data, const float* scales, const std::vector<size_t>& d, size_t channel_dim) {
    uint32_t id = XNN_INVALID_VALUE_ID;
    EL_CHECK(check(xnn_define_channelwise_quantized_tensor_value(subgraph_, xnn_datatype_qcint8, scales, d.size(), channel_dim, d.data(), data,
                                                                 XNN_INVALID_VALUE_ID, 0, &id),
                   "channelwise weights"));
    return id;
  }
  Result<uint32_t> static_qc32(const int32_t* data, const float* scales, size_t n) {
    uint32_t id = XNN_INVALID_VALUE_ID;
    const size_t d[1] = {n};
    EL_CHECK(check(xnn_define_channelwise_quantized_tensor_value(subgraph_, xnn_datatype_qcint32, scales, 1, 0, d, data, XNN_INVALID_VALUE_ID,
                                                                 0, &id),
                   "channelwise bias"));
    return id;
  }

  // Per output channel weight scales (a per-tensor scale repeated), owned.
  float* channel_scales(const Tensor& w, size_t channels) {
    float* s = own<float>(channels);
    for (size_t c = 0; c < channels; ++c) s[c] = w.quant.per_tensor() ? w.quant.scales[0] : w.quant.scales[c];
    return s;
  }
  // Bias of a W8A8 layer: i32 with scale x_scale · w_scale[c].
  Result<uint32_t> int8_bias(const Node& n, size_t bias_input, const Tensor& x, const float* w_scales, size_t channels) {
    if (!has_input(n, bias_input)) return XNN_INVALID_VALUE_ID;
    const Tensor& b = t(n.inputs[bias_input]);
    float* s = own<float>(channels);
    for (size_t c = 0; c < channels; ++c) s[c] = x.quant.scales[0] * w_scales[c];
    int32_t* data = own<int32_t>(channels);
    std::memcpy(data, b.data.data(), channels * sizeof(int32_t));
    return static_qc32(data, s, channels);
  }

  // A Relu or Clip right after node k that only it reads: folded into the layer's output range.
  struct Fused {
    float lo = -kInf, hi = kInf;
    TensorId output;
  };
  Fused fuse_clamp(const Node& n, size_t k) {
    Fused f{-kInf, kInf, n.outputs[0]};
    if (k + 1 >= p_.nodes.size() || t(n.outputs[0]).dtype != DType::kF32) return f;
    const Node& next = g_.nodes[p_.nodes[k + 1]];
    if ((next.op != OpType::kRelu && next.op != OpType::kClip) || next.inputs[0] != n.outputs[0]) return f;
    for (TensorId o : p_.outputs)
      if (o == n.outputs[0]) return f;
    size_t readers = 0;
    for (size_t j : p_.nodes)
      for (TensorId id : g_.nodes[j].inputs) readers += id == n.outputs[0];
    if (readers != 1) return f;
    skip_next_ = true;
    if (next.op == OpType::kRelu) return {0.f, kInf, next.outputs[0]};
    return {next.attrs.get_float("min", -kInf), next.attrs.get_float("max", kInf), next.outputs[0]};
  }

  Status define_node(const Node& n, size_t k) {
    if (skip_next_) {
      skip_next_ = false;
      return ok();
    }
    switch (n.op) {
      case OpType::kConv: return conv(n, k);
      case OpType::kGemm:
      case OpType::kMatMul: return fully_connected(n, k);
      case OpType::kAdd:
      case OpType::kMul: return binary(n, k);
      case OpType::kRelu:
      case OpType::kClip: {
        const float lo = n.op == OpType::kRelu ? 0.f : n.attrs.get_float("min", -kInf);
        const float hi = n.op == OpType::kRelu ? kInf : n.attrs.get_float("max", kInf);
        EL_TRY(uint32_t x, value(n.inputs[0]));
        EL_TRY(uint32_t y, value(n.outputs[0]));
        return check(xnn_define_clamp(subgraph_, lo, hi, x, y, 0), "clamp");
      }
      case OpType::kSigmoid:
      case OpType::kHardSwish: {
        EL_TRY(uint32_t x, value(n.inputs[0]));
        EL_TRY(uint32_t y, value(n.outputs[0]));
        return n.op == OpType::kSigmoid ? check(xnn_define_sigmoid(subgraph_, x, y, 0), "sigmoid")
                                        : check(xnn_define_hardswish(subgraph_, x, y, 0), "hardswish");
      }
      case OpType::kQuantizeLinear:
      case OpType::kDequantizeLinear: {
        EL_TRY(uint32_t x, value(n.inputs[0]));
        EL_TRY(uint32_t y, value(n.outputs[0]));
        return check(xnn_define_convert(subgraph_, x, y, 0), "convert");
      }
      case OpType::kGlobalAveragePool: {
        const Fused f = fuse_clamp(n, k);
        EL_TRY(uint32_t x, value(n.inputs[0]));
        EL_TRY(uint32_t y, value(f.output));
        return check(xnn_define_global_average_pooling_2d(subgraph_, f.lo, f.hi, x, y, 0), "global average pooling");
      }
      case OpType::kMaxPool:
      case OpType::kAveragePool: return pool(n);
      case OpType::kReshape: return reshape(n);
      default: return make_error(ErrorCode::kUnsupported, "not an XNNPACK op");
    }
  }

  Status conv(const Node& n, size_t k) {
    const Tensor& x = t(n.inputs[0]);
    const Tensor& w = t(n.inputs[1]);
    const auto cout = static_cast<size_t>(w.shape[0]), cin_g = static_cast<size_t>(w.shape[1]);
    const auto kh = static_cast<size_t>(w.shape[2]), kw = static_cast<size_t>(w.shape[3]);
    const auto group = static_cast<size_t>(n.attrs.get_int("group", 1));
    const auto cin = static_cast<size_t>(x.shape[1]);
    const bool depthwise = group > 1 && group == cin && cin_g == 1;
    const auto strides = n.attrs.get_ints("strides", {1, 1});
    const auto dil = n.attrs.get_ints("dilations", {1, 1});
    const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    const bool int8 = x.dtype == DType::kI8;
    const Fused f = fuse_clamp(n, k);

    // Filter: OIHW → OHWI (grouped/dense) or [1, kh, kw, Cout] (depthwise). A dense 1×1 filter is
    // already OHWI: XNNPACK reads the artifact's bytes in place.
    const std::byte* filter = w.data.data();
    if (depthwise || kh * kw > 1) {
      std::byte* converted = own<std::byte>(w.byte_size());
      if (int8)
        permute_filter(reinterpret_cast<const int8_t*>(w.data.data()), reinterpret_cast<int8_t*>(converted), cout, cin_g, kh * kw, depthwise);
      else
        permute_filter(reinterpret_cast<const float*>(w.data.data()), reinterpret_cast<float*>(converted), cout, cin_g, kh * kw, depthwise);
      filter = converted;
    }
    const std::vector<size_t> fdims = depthwise ? std::vector<size_t>{1, kh, kw, cout} : std::vector<size_t>{cout, kh, kw, cin_g};
    uint32_t filter_id = XNN_INVALID_VALUE_ID, bias_id = XNN_INVALID_VALUE_ID;
    if (int8) {
      const float* scales = channel_scales(w, cout);
      EL_TRY(filter_id, static_qc8(reinterpret_cast<const int8_t*>(filter), scales, fdims, depthwise ? 3 : 0));
      EL_TRY(bias_id, int8_bias(n, 2, x, scales, cout));
    } else {
      EL_TRY(filter_id, static_f32(reinterpret_cast<const float*>(filter), fdims));
      if (has_input(n, 2)) {
        float* b = own<float>(cout);
        std::memcpy(b, t(n.inputs[2]).data.data(), cout * sizeof(float));
        EL_TRY(bias_id, static_f32(b, {cout}));
      }
    }
    EL_TRY(uint32_t xi, value(n.inputs[0]));
    EL_TRY(uint32_t yi, value(f.output));
    const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
    if (depthwise)
      return check(xnn_define_depthwise_convolution_2d(subgraph_, u(pads[0]), u(pads[3]), u(pads[2]), u(pads[1]), u(kh), u(kw), u(strides[0]),
                                                       u(strides[1]), u(dil[0]), u(dil[1]), u(cout / cin), cin, f.lo, f.hi, xi, filter_id,
                                                       bias_id, yi, 0),
                   "depthwise convolution");
    return check(xnn_define_convolution_2d(subgraph_, u(pads[0]), u(pads[3]), u(pads[2]), u(pads[1]), u(kh), u(kw), u(strides[0]),
                                           u(strides[1]), u(dil[0]), u(dil[1]), u(group), cin_g, cout / group, f.lo, f.hi, xi, filter_id,
                                           bias_id, yi, 0),
                 "convolution");
  }

  // Gemm (transA 0, constant B and C) and MatMul with a constant B: weights as [N][K]; columns
  // permuted when A is a flatten of an NHWC tensor. FP32 runs as a fully-connected layer, W8A8
  // as a 1×1 convolution over [M, 1, 1, K] (no per-channel fully-connected in this XNNPACK).
  Status fully_connected(const Node& n, size_t k) {
    const Tensor& a = t(n.inputs[0]);
    const Tensor& b = t(n.inputs[1]);
    const bool trans_b = n.op == OpType::kGemm && n.attrs.get_int("transB", 0) != 0;
    const auto kdim = static_cast<size_t>(trans_b ? b.shape[1] : b.shape[0]);
    const auto ndim = static_cast<size_t>(trans_b ? b.shape[0] : b.shape[1]);
    const bool int8 = a.dtype == DType::kI8;
    const size_t esize = int8 ? 1 : 4;
    const auto& flat = flat_[n.inputs[0]];
    // Column j of the IR's A (C·H·W order) is column perm(j) of XNNPACK's (H·W·C order).
    auto column = [&](size_t j) -> size_t {
      if (!flat) return j;
      const auto c = static_cast<size_t>((*flat)[1]), hw = static_cast<size_t>((*flat)[2] * (*flat)[3]);
      return (j % hw) * c + j / hw;
    };
    const std::byte* w = b.data.data();  // [N][K] as XNNPACK wants it: read in place
    if (flat || !trans_b) {
      std::byte* converted = own<std::byte>(ndim * kdim * esize);
      if (int8)
        to_rows(reinterpret_cast<const int8_t*>(b.data.data()), reinterpret_cast<int8_t*>(converted), ndim, kdim, trans_b, column);
      else
        to_rows(reinterpret_cast<const float*>(b.data.data()), reinterpret_cast<float*>(converted), ndim, kdim, trans_b, column);
      w = converted;
    }
    const Fused f = fuse_clamp(n, k);
    EL_TRY(uint32_t ai, value(n.inputs[0]));
    if (!int8) {
      EL_TRY(uint32_t wi, static_f32(reinterpret_cast<const float*>(w), {ndim, kdim}));
      uint32_t bias_id = XNN_INVALID_VALUE_ID;
      if (has_input(n, 2)) {
        float* bias = own<float>(ndim);
        std::memcpy(bias, t(n.inputs[2]).data.data(), ndim * sizeof(float));
        EL_TRY(bias_id, static_f32(bias, {ndim}));
      }
      EL_TRY(uint32_t yi, value(f.output));
      return check(xnn_define_fully_connected(subgraph_, f.lo, f.hi, ai, wi, bias_id, yi, 0), "fully connected");
    }
    const auto m = static_cast<size_t>(a.shape[0]);
    const float* scales = channel_scales(b, ndim);
    EL_TRY(uint32_t wi, static_qc8(reinterpret_cast<const int8_t*>(w), scales, {ndim, 1, 1, kdim}, 0));
    EL_TRY(uint32_t bias_id, int8_bias(n, 2, a, scales, ndim));
    const std::vector<size_t> in4{m, 1, 1, kdim}, out4{m, 1, 1, ndim};
    uint32_t a4 = XNN_INVALID_VALUE_ID, y4 = XNN_INVALID_VALUE_ID;
    EL_CHECK(check(xnn_define_quantized_tensor_value(subgraph_, xnn_datatype_qint8, a.quant.zero_point(0), a.quant.scales[0], 4, in4.data(),
                                                     nullptr, XNN_INVALID_VALUE_ID, 0, &a4),
                   "tensor"));
    const Tensor& y = t(f.output);
    EL_CHECK(check(xnn_define_quantized_tensor_value(subgraph_, xnn_datatype_qint8, y.quant.zero_point(0), y.quant.scales[0], 4, out4.data(),
                                                     nullptr, XNN_INVALID_VALUE_ID, 0, &y4),
                   "tensor"));
    EL_CHECK(check(xnn_define_static_reshape(subgraph_, 4, in4.data(), ai, a4, 0), "reshape"));
    EL_CHECK(check(xnn_define_convolution_2d(subgraph_, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, kdim, ndim, f.lo, f.hi, a4, wi, bias_id, y4, 0),
                   "1x1 convolution"));
    EL_TRY(uint32_t yi, value(f.output));
    const std::vector<size_t> out2 = dims(y.shape);
    return check(xnn_define_static_reshape(subgraph_, out2.size(), out2.data(), y4, yi, 0), "reshape");
  }

  Status binary(const Node& n, size_t k) {
    const Fused f = fuse_clamp(n, k);
    EL_TRY(uint32_t a, value(n.inputs[0]));
    EL_TRY(uint32_t b, value(n.inputs[1]));
    EL_TRY(uint32_t y, value(f.output));
    return n.op == OpType::kAdd ? check(xnn_define_add2(subgraph_, f.lo, f.hi, a, b, y, 0), "add")
                                : check(xnn_define_multiply2(subgraph_, f.lo, f.hi, a, b, y, 0), "multiply");
  }

  Status pool(const Node& n) {
    const auto kshape = n.attrs.get_ints("kernel_shape");
    const auto strides = n.attrs.get_ints("strides", {1, 1});
    const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
    const auto dil = n.attrs.get_ints("dilations", {1, 1});
    EL_TRY(uint32_t x, value(n.inputs[0]));
    EL_TRY(uint32_t y, value(n.outputs[0]));
    const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
    if (n.op == OpType::kMaxPool)
      return check(xnn_define_max_pooling_2d(subgraph_, u(pads[0]), u(pads[3]), u(pads[2]), u(pads[1]), u(kshape[0]), u(kshape[1]),
                                             u(strides[0]), u(strides[1]), u(dil[0]), u(dil[1]), -kInf, kInf, x, y, 0),
                   "max pooling");
    return check(xnn_define_average_pooling_2d(subgraph_, 0, 0, 0, 0, u(kshape[0]), u(kshape[1]), u(strides[0]), u(strides[1]), -kInf, kInf,
                                               x, y, 0),
                 "average pooling");
  }

  Status reshape(const Node& n) {
    const Tensor& y = t(n.outputs[0]);
    EL_TRY(uint32_t xi, value(n.inputs[0]));
    EL_TRY(uint32_t yi, value(n.outputs[0]));
    const std::vector<size_t> d = dims(y.shape);
    return check(xnn_define_static_reshape(subgraph_, d.size(), d.data(), xi, yi, 0), "reshape");
  }

  const Graph& g_;
  const Partition& p_;
  xnn_subgraph_t subgraph_ = nullptr;
  std::vector<uint32_t> ids_;                                 // per tensor: its XNNPACK value
  std::vector<std::optional<std::array<int64_t, 4>>> flat_;  // per tensor: flattened from NHWC [N, C, H, W]
  std::vector<Boundary> boundary_;
  std::vector<Buffer> constants_;
  uint32_t next_external_ = 0;
  bool skip_next_ = false;
};

// A prepared partition. The first runtime is created at load, which packs the weights; sessions
// running at the same time each get a runtime of their own, built the first time they overlap.
class XnnExecutable final : public Executable {
 public:
  XnnExecutable(const Graph& g, Partition p, pthreadpool_t pool, std::vector<Boundary> boundary, std::unique_ptr<Instance> first)
      : g_(g), p_(std::move(p)), pool_(pool), boundary_(std::move(boundary)) {
    free_.push_back(std::move(first));
  }

  Status run(std::span<const TensorView> tensors) override {
    std::unique_ptr<Instance> inst;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        inst = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (inst == nullptr) {
      EL_TRY(inst, create_instance());
    }
    Status status = run_on(*inst, tensors);
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(inst));
    return status;
  }

 private:
  Result<std::unique_ptr<Instance>> create_instance() {
    Builder b(g_, p_);
    return b.build(pool_);
  }

  Status run_on(Instance& inst, std::span<const TensorView> tensors) {
    std::vector<xnn_external_value> values;
    values.reserve(boundary_.size());
    for (size_t i = 0; i < boundary_.size(); ++i) {
      const Boundary& b = boundary_[i];
      std::byte* arena = tensors[b.tensor].data;
      std::byte* data = b.nchw ? inst.staging[i].bytes.get() : arena;
      if (b.input && b.nchw) transpose(arena, data, *b.nchw, b.element_size, true);
      values.push_back({b.external_id, data});
    }
    const bool same = values.size() == inst.bound.size() &&
                      std::equal(values.begin(), values.end(), inst.bound.begin(),
                                 [](const xnn_external_value& x, const xnn_external_value& y) { return x.id == y.id && x.data == y.data; });
    if (!same) {  // setup binds buffers: skip it when this session's buffers are the ones bound last
      if (xnn_setup_runtime(inst.runtime, values.size(), values.data()) != xnn_status_success)
        return make_error(ErrorCode::kInternal, "xnn_setup_runtime failed");
      inst.bound = std::move(values);
    }
    if (xnn_invoke_runtime(inst.runtime) != xnn_status_success) return make_error(ErrorCode::kInternal, "xnn_invoke_runtime failed");
    for (size_t i = 0; i < boundary_.size(); ++i) {
      const Boundary& b = boundary_[i];
      if (!b.input && b.nchw) transpose(inst.staging[i].bytes.get(), tensors[b.tensor].data, *b.nchw, b.element_size, false);
    }
    return ok();
  }

  const Graph& g_;  // the Program's graph, which outlives its executables
  Partition p_;
  pthreadpool_t pool_;
  std::vector<Boundary> boundary_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Instance>> free_;
};

class XnnpackBackend final : public Backend {
 public:
  std::string_view name() const override { return "xnnpack"; }
  bool channels_last() const override { return true; }

  std::vector<bool> claim(const Graph& g) const override {
    Claimer c(g);
    std::vector<bool> claimed(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (g.nodes[i].op != OpType::kReshape) claimed[i] = c.node(g.nodes[i]);
    for (size_t i = 0; i < g.nodes.size(); ++i)  // a Reshape's claim depends on its readers'
      if (g.nodes[i].op == OpType::kReshape) claimed[i] = c.reshape(g.nodes[i], claimed);
    return claimed;
  }

  Result<std::unique_ptr<Executable>> prepare(const Graph& g, const Partition& p, ThreadPool& pool) const override {
    Builder b(g, p);
    EL_TRY(auto first, b.build(pool.handle()));
    return std::make_unique<XnnExecutable>(g, p, pool.handle(), b.boundary(), std::move(first));
  }
};

}  // namespace

bool available() {
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
  return ok;
}

std::unique_ptr<Backend> make_backend() { return std::make_unique<XnnpackBackend>(); }

}  // namespace edgeloop::runtime::xnnpack
