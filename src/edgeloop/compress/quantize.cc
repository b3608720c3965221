#include "edgeloop/compress/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "edgeloop/model/half.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::compress {

using model::DType;
using model::Graph;
using model::make_constant;
using model::Node;
using model::OpType;
using model::QuantParams;
using model::Tensor;
using model::TensorId;

// ---- modes and plans ----

namespace {

constexpr std::pair<LayerMode, std::string_view> kModeNames[] = {
    {LayerMode::kFp32, "fp32"}, {LayerMode::kFp16, "fp16"},   {LayerMode::kInt8, "int8"},
    {LayerMode::kW4A8, "w4a8"}, {LayerMode::kW4A32, "w4a32"},
};

}  // namespace

std::string_view layer_mode_name(LayerMode m) {
  for (const auto& [mode, name] : kModeNames)
    if (mode == m) return name;
  return "?";
}

Result<LayerMode> parse_layer_mode(std::string_view name) {
  for (const auto& [mode, n] : kModeNames)
    if (n == name) return mode;
  return make_error(ErrorCode::kInvalidArgument, "unknown layer mode '{}': use fp32, fp16, int8, w4a8 or w4a32", name);
}

bool uses_int8_activations(LayerMode m) { return m == LayerMode::kInt8 || m == LayerMode::kW4A8; }

LayerMode QuantPlan::mode_of(std::string_view node) const {
  for (const auto& [name, mode] : layers)
    if (name == node) return mode;
  return LayerMode::kFp32;
}

void QuantPlan::set(const std::string& node, LayerMode mode) {
  for (auto& [name, m] : layers)
    if (name == node) {
      m = mode;
      return;
    }
  layers.emplace_back(node, mode);
}

// ---- weighted layers ----

namespace {

const Tensor* input_tensor(const Graph& g, const Node& n, size_t i) {
  return i < n.inputs.size() && n.inputs[i] != model::kNoTensor ? &g.tensors[n.inputs[i]] : nullptr;
}

bool is_f32_constant(const Tensor* t) { return t != nullptr && t->constant && t->dtype == DType::kF32 && t->quant.empty(); }

// The layer a node is, if it is a weighted layer.
std::optional<Layer> as_layer(const Graph& g, const Node& n) {
  if (n.op != OpType::kConv && n.op != OpType::kGemm && n.op != OpType::kMatMul) return std::nullopt;
  const Tensor* w = input_tensor(g, n, 1);
  if (!is_f32_constant(w)) return std::nullopt;
  const Tensor* x = input_tensor(g, n, 0);
  Layer l;
  l.node = n.name;
  l.op = n.op;
  l.weight = w->name;
  const Tensor* b = n.op == OpType::kMatMul ? nullptr : input_tensor(g, n, 2);
  l.has_bias = b != nullptr;
  if (n.op == OpType::kConv) {
    l.out_channels = w->shape[0];
    l.reduction = w->elements() / std::max<int64_t>(w->shape[0], 1);
    if (b != nullptr && !is_f32_constant(b)) l.ineligible = "its bias is not a constant";
  } else if (n.op == OpType::kGemm) {
    const bool trans_b = n.attrs.get_int("transB") != 0;
    l.out_channels = w->shape[trans_b ? 0 : 1];
    l.reduction = w->shape[trans_b ? 1 : 0];
    if (n.attrs.get_int("transA") != 0) l.ineligible = "Gemm with transA";
    else if (n.attrs.get_float("alpha", 1.f) != 1.f || n.attrs.get_float("beta", 1.f) != 1.f) l.ineligible = "Gemm with alpha or beta other than 1";
    else if (b != nullptr && (!is_f32_constant(b) || b->elements() != l.out_channels))
      l.ineligible = "its bias C is not a constant with one value per output";
  } else {
    if (w->shape.size() != 2 || x == nullptr || x->shape.size() != 2) {
      l.out_channels = w->shape.empty() ? 1 : w->shape.back();
      l.reduction = w->elements() / std::max<int64_t>(l.out_channels, 1);
      l.ineligible = "MatMul that is not [M,K] x [K,N]";
    } else {
      l.out_channels = w->shape[1];
      l.reduction = w->shape[0];
    }
  }
  return l;
}

}  // namespace

std::vector<Layer> weighted_layers(const Graph& graph) {
  std::vector<Layer> layers;
  for (const Node& n : graph.nodes)
    if (auto l = as_layer(graph, n)) layers.push_back(std::move(*l));
  return layers;
}

int64_t layer_bytes(const Layer& l, LayerMode mode, int group_size) {
  const int64_t weights = l.out_channels * l.reduction;
  const int64_t bias = l.has_bias ? l.out_channels : 0;
  const int64_t groups = l.out_channels * ((l.reduction + group_size - 1) / std::max(group_size, 1));
  switch (mode) {
    case LayerMode::kFp32: return 4 * (weights + bias);
    case LayerMode::kFp16: return 2 * weights + 4 * bias;
    case LayerMode::kInt8: return weights + 4 * bias + 2 * l.out_channels;  // + per-channel f16 scales
    case LayerMode::kW4A8:
    case LayerMode::kW4A32: return (weights + 1) / 2 + 2 * groups + 4 * bias;
  }
  return 0;
}

nlohmann::ordered_json plan_to_json(const QuantPlan& plan) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [node, mode] : plan.layers) j[node] = layer_mode_name(mode);
  return j;
}

QuantPlan uniform_plan(const Graph& graph, LayerMode mode, int group_size) {
  QuantPlan plan;
  for (const Layer& l : weighted_layers(graph)) {
    if (!l.ineligible.empty()) continue;
    LayerMode m = mode;
    if (l.reduction < group_size && mode == LayerMode::kW4A8) m = LayerMode::kInt8;
    if (l.reduction < group_size && mode == LayerMode::kW4A32) m = LayerMode::kFp16;
    plan.layers.emplace_back(l.node, m);
  }
  return plan;
}

Status expect_fp32_graph(const Graph& graph) {
  if (!graph.meta.variant.empty() && graph.meta.variant != "fp32")
    return make_error(ErrorCode::kInvalidArgument,
                      "the model is already a quantized variant ('{}'); quantize its FP32 artifact instead", graph.meta.variant);
  auto low_precision = [](DType d) { return d == DType::kF16 || d == DType::kI8 || d == DType::kU8 || d == DType::kI4; };
  for (const Tensor& t : graph.tensors)
    if (!t.quant.empty() || low_precision(t.dtype))
      return make_error(ErrorCode::kInvalidArgument,
                        "the model is already quantized (tensor '{}' is {}{}); quantize its FP32 artifact instead", t.name,
                        model::dtype_name(t.dtype), t.quant.empty() ? "" : " with quantization parameters");
  return ok();
}

// ---- weight quantization ----

namespace {

// The weight as rows [out_channels][reduction] in row-major order (Gemm/MatMul weights in
// [K, N] layout are transposed).
std::vector<float> weight_rows(const Tensor& w, bool transpose) {
  auto v = w.values<float>();
  if (!transpose) return {v.begin(), v.end()};
  const int64_t k = w.shape[0], n = w.shape[1];
  std::vector<float> rows(v.size());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) rows[j * k + i] = v[i * n + j];
  return rows;
}

// Symmetric int8 per output channel (or per tensor): scale = f16(max|w| / 127), q = clamp(round(w / scale), -127, 127).
Tensor quantize_int8_rows(std::string name, const std::vector<float>& rows, model::Shape shape, bool per_tensor) {
  const int64_t channels = shape[0];
  const int64_t row = channels == 0 ? 0 : static_cast<int64_t>(rows.size()) / channels;
  std::vector<std::byte> bytes(rows.size());
  QuantParams q;
  q.axis = per_tensor ? -1 : 0;
  q.scale_dtype = DType::kF16;
  float tensor_absmax = 0.f;
  for (float v : rows) tensor_absmax = std::max(tensor_absmax, std::fabs(v));
  for (int64_t c = 0; c < channels; ++c) {
    float absmax = 0.f;
    for (int64_t k = 0; k < row; ++k) absmax = std::max(absmax, std::fabs(rows[c * row + k]));
    if (per_tensor) absmax = tensor_absmax;
    // Stored as f16 (half the bytes of f32, and 11 significant bits are plenty for a scale).
    const float scale = model::half_to_float(model::float_to_half(absmax > 0 ? std::max(absmax / 127.f, 6.103515625e-05f) : 1.f));
    if (!per_tensor || c == 0) q.scales.push_back(scale);
    for (int64_t k = 0; k < row; ++k) {
      const float v = std::nearbyint(rows[c * row + k] / scale);
      bytes[c * row + k] = static_cast<std::byte>(static_cast<int8_t>(std::clamp(v, -127.f, 127.f)));
    }
  }
  Tensor t = make_constant(std::move(name), DType::kI8, std::move(shape), std::move(bytes));
  t.quant = std::move(q);
  return t;
}

// Symmetric int4 per group of `group` weights along each row, f16 scales. Each group's scale is
// the f16 value of (clip · max|w| / L) for the clip in {1, 0.95, ..., 0.5} and L in {7, 8} that
// gives the least squared error, with q = clamp(round(w / scale), -8, 7).
Tensor quantize_int4_rows(std::string name, const std::vector<float>& rows, model::Shape shape, int group) {
  const model::GroupLayout layout = model::group_layout(shape, group);
  std::vector<std::byte> bytes(model::storage_bytes(DType::kI4, static_cast<int64_t>(rows.size())));
  QuantParams q;
  q.axis = 0;
  q.block_axis = 1;
  q.block_size = group;
  q.scale_dtype = DType::kF16;
  constexpr float kSmallestNormalHalf = 6.103515625e-05f;
  for (int64_t r = 0; r < layout.rows; ++r)
    for (int64_t g = 0; g < layout.groups; ++g) {
      const int64_t begin = r * layout.row_length + g * group;
      const int64_t end = std::min(begin + group, (r + 1) * layout.row_length);
      float absmax = 0.f;
      for (int64_t i = begin; i < end; ++i) absmax = std::max(absmax, std::fabs(rows[i]));
      float best_scale = 1.f;
      double best_error = std::numeric_limits<double>::infinity();
      for (int step = 0; step <= 21 && absmax > 0; ++step) {
        const float clip = 1.f - 0.05f * static_cast<float>(step % 11);
        const float levels = step < 11 ? 7.f : 8.f;  // 8: the group's extreme may be negative, reaching -8
        const float scale = model::half_to_float(model::float_to_half(std::max(clip * absmax / levels, kSmallestNormalHalf)));
        double error = 0;
        for (int64_t i = begin; i < end; ++i) {
          const float v = std::clamp(std::nearbyint(rows[i] / scale), -8.f, 7.f) * scale;
          error += (double{v} - rows[i]) * (double{v} - rows[i]);
        }
        if (error < best_error) best_error = error, best_scale = scale;
      }
      q.scales.push_back(best_scale);
      for (int64_t i = begin; i < end; ++i)
        model::store_i4(bytes.data(), i, static_cast<int8_t>(std::clamp(std::nearbyint(rows[i] / best_scale), -8.f, 7.f)));
    }
  Tensor t = make_constant(std::move(name), DType::kI4, std::move(shape), std::move(bytes));
  t.quant = std::move(q);
  return t;
}

Tensor to_f16(std::string name, const std::vector<float>& rows, model::Shape shape) {
  std::vector<std::byte> bytes(rows.size() * 2);
  for (size_t i = 0; i < rows.size(); ++i) store_le(bytes.data() + 2 * i, model::float_to_half(rows[i]));
  return make_constant(std::move(name), DType::kF16, std::move(shape), std::move(bytes));
}

// Signal-to-quantization-noise ratio of stored weights against the FP32 rows, in dB:
// 10·log10(Σw² / Σ(w − ŵ)²); infinite when exact.
double weight_sqnr_db(const std::vector<float>& rows, const Tensor& stored) {
  double signal = 0, noise = 0;
  const model::GroupLayout layout = model::group_layout(stored.shape, stored.quant.block_size);
  const int64_t row = stored.shape.empty() || stored.shape[0] == 0 ? 1 : static_cast<int64_t>(rows.size()) / stored.shape[0];
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto n = static_cast<int64_t>(i);
    double w_hat = 0;
    switch (stored.dtype) {
      case DType::kF16: w_hat = model::half_to_float(load_le<uint16_t>(stored.data.data() + 2 * i)); break;
      case DType::kI8:
        w_hat = static_cast<double>(static_cast<int8_t>(stored.data.data()[i])) * stored.quant.scales[stored.quant.per_tensor() ? 0 : n / row];
        break;
      case DType::kI4: w_hat = static_cast<double>(model::load_i4(stored.data.data(), n)) * stored.quant.scales[layout.scale_index(n)]; break;
      default: w_hat = rows[i]; break;
    }
    signal += double{rows[i]} * rows[i];
    noise += (w_hat - rows[i]) * (w_hat - rows[i]);
  }
  return noise > 0 ? 10 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
}

// i32 bias of a W8A8 layer: round(b / (s_x · s_w[c])), saturated. Its scale is implied by the
// layer (docs/ops.md), so none is stored.
Tensor quantize_bias(std::string name, const Tensor& b, float input_scale, const std::vector<float>& weight_scales) {
  auto v = b.values<float>();
  std::vector<std::byte> bytes(v.size() * 4);
  for (size_t c = 0; c < v.size(); ++c) {
    const double scale = double{input_scale} * weight_scales[c];
    const double r = std::nearbyint(v[c] / scale);
    store_le(bytes.data() + 4 * c, static_cast<int32_t>(std::clamp(r, -2147483647.0, 2147483647.0)));
  }
  return make_constant(std::move(name), DType::kI32, {static_cast<int64_t>(v.size())}, std::move(bytes));
}

// ---- the rewrite ----

bool is_passthrough(OpType op) {  // moves values without arithmetic: output parameters = input's
  return op == OpType::kReshape || op == OpType::kTranspose || op == OpType::kMaxPool;
}
bool is_clamp(OpType op) { return op == OpType::kRelu || op == OpType::kClip; }
bool has_integer_kernel(OpType op) {
  return is_passthrough(op) || is_clamp(op) || op == OpType::kAdd || op == OpType::kGlobalAveragePool;
}

std::string node_label(const Node& n) { return fmt::format("{} ({})", n.name, model::op_name(n.op)); }

class Rewriter {
 public:
  Rewriter(const Graph& src, const QuantPlan& plan, const CalibrationStats* stats, const QuantizeOptions& options)
      : src_(src), plan_(plan), stats_(stats), options_(options), float_id_(src.tensors.size(), model::kNoTensor),
        int_id_(src.tensors.size(), model::kNoTensor) {
    for (TensorId id : src.outputs) reserved_.insert(src.tensors[id].name);
    for (TensorId id : src.inputs) reserved_.insert(src.tensors[id].name);
  }

  Result<Quantized> run();

 private:
  const Tensor& src_tensor(TensorId id) const { return src_.tensors[id]; }
  std::string fresh(const std::string& name, std::string_view suffix);
  TensorId add(Tensor t) {
    used_.insert(t.name);
    return out_.graph.add_tensor(std::move(t));
  }
  void add_node(OpType op, std::string name, std::vector<TensorId> inputs, std::vector<TensorId> outputs,
                model::Attributes attrs = {}) {
    Node n;
    n.op = op;
    n.name = name;
    for (int i = 2; !node_names_.insert(n.name).second; ++i) n.name = fmt::format("{}:{}", name, i);
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.attrs = std::move(attrs);
    out_.graph.nodes.push_back(std::move(n));
  }

  Result<QuantParams> activation_params(TensorId id, std::optional<std::pair<float, float>> clamp = {});
  Result<TensorId> float_version(TensorId id);
  Result<TensorId> int_version(TensorId id);
  TensorId new_int_output(TensorId id, QuantParams q);
  TensorId new_float_output(TensorId id);

  // Decides which nodes run on integers and which activations get fused.
  void plan_domains();
  Status emit_layer(const Node& n, LayerMode mode, TensorId output, const std::optional<QuantParams>& out_params);
  Status emit_node(size_t index);

  const Graph& src_;
  const QuantPlan& plan_;
  const CalibrationStats* stats_;
  const QuantizeOptions& options_;
  Quantized out_;
  std::vector<TensorId> float_id_, int_id_;  // per source tensor: its version in each domain
  std::set<std::string, std::less<>> used_, reserved_, node_names_;
  std::vector<bool> integer_;                // per source node
  std::vector<int> fused_into_;              // per source node: the index of the clamp fused into it, or -1
  std::vector<bool> fused_away_;             // per source node: a clamp fused into its producer
};

std::string Rewriter::fresh(const std::string& name, std::string_view suffix) {
  std::string candidate = suffix.empty() ? name : name + ":" + std::string(suffix);
  for (int i = 2; used_.contains(candidate) || (reserved_.contains(candidate) && !suffix.empty()); ++i)
    candidate = fmt::format("{}:{}{}", name, suffix.empty() ? "n" : suffix, i);
  return candidate;
}

Result<QuantParams> Rewriter::activation_params(TensorId id, std::optional<std::pair<float, float>> clamp) {
  const Tensor& t = src_tensor(id);
  const TensorStats* s = stats_ != nullptr ? stats_->find(t.name) : nullptr;
  if (s == nullptr || s->count == 0)
    return make_error(ErrorCode::kInvalidArgument, "no calibration statistics for activation '{}'; calibrate this model first",
                      t.name);
  RangeMethod method = options_.range;
  for (const auto& [name, m] : options_.range_overrides)
    if (name == t.name) method = m;
  EL_TRY(Range r, select_range(*s, method, options_.range_options));
  if (clamp) {
    r.lo = std::max(r.lo, clamp->first);
    r.hi = std::min(r.hi, clamp->second);
  }
  const AffineParams p = affine_params(r, /*is_signed=*/true);
  QuantParams q;
  q.scales = {p.scale};
  q.zero_points = {p.zero_point};
  return q;
}

Result<TensorId> Rewriter::float_version(TensorId id) {
  if (float_id_[id] != model::kNoTensor) return float_id_[id];
  const Tensor& t = src_tensor(id);
  if (int_id_[id] == model::kNoTensor) {  // a constant or a graph input: copied as it is
    Tensor copy = t;
    copy.name = fresh(t.name, "");
    float_id_[id] = add(std::move(copy));
    return float_id_[id];
  }
  Tensor f = t;
  f.quant = {};
  f.dtype = DType::kF32;
  f.name = reserved_.contains(t.name) && !used_.contains(t.name) ? t.name : fresh(t.name, "dq");
  float_id_[id] = add(std::move(f));
  add_node(OpType::kDequantizeLinear, "dequantize:" + t.name, {int_id_[id]}, {float_id_[id]});
  ++out_.report.dequantize_nodes;
  return float_id_[id];
}

Result<TensorId> Rewriter::int_version(TensorId id) {
  if (int_id_[id] != model::kNoTensor) return int_id_[id];
  EL_TRY(QuantParams q, activation_params(id));
  EL_TRY(TensorId f, float_version(id));
  Tensor t = src_tensor(id);
  t.name = fresh(t.name, "q");
  t.dtype = DType::kI8;
  t.quant = std::move(q);
  t.constant = false;
  t.data = {};
  int_id_[id] = add(std::move(t));
  add_node(OpType::kQuantizeLinear, "quantize:" + src_tensor(id).name, {f}, {int_id_[id]});
  ++out_.report.quantize_nodes;
  return int_id_[id];
}

TensorId Rewriter::new_int_output(TensorId id, QuantParams q) {
  Tensor t = src_tensor(id);
  t.name = fresh(t.name, reserved_.contains(t.name) ? "q" : "");
  t.dtype = DType::kI8;
  t.quant = std::move(q);
  int_id_[id] = add(std::move(t));
  return int_id_[id];
}

TensorId Rewriter::new_float_output(TensorId id) {
  Tensor t = src_tensor(id);
  t.name = fresh(t.name, "");
  float_id_[id] = add(std::move(t));
  return float_id_[id];
}

void Rewriter::plan_domains() {
  const size_t n = src_.nodes.size();
  integer_.assign(n, false);
  fused_into_.assign(n, -1);
  fused_away_.assign(n, false);
  std::vector<bool> int_tensor(src_.tensors.size(), false);
  std::vector<int> consumers(src_.tensors.size(), 0);
  for (const Node& node : src_.nodes)
    for (TensorId in : node.inputs)
      if (in != model::kNoTensor) ++consumers[in];
  std::set<TensorId> outputs(src_.outputs.begin(), src_.outputs.end());
  for (size_t i = 0; i < n; ++i) {
    const Node& node = src_.nodes[i];
    if (fused_away_[i]) continue;
    bool integer = false;
    if (auto layer = as_layer(src_, node); layer && layer->ineligible.empty()) {
      integer = uses_int8_activations(plan_.mode_of(node.name));
    } else if (has_integer_kernel(node.op)) {
      integer = true;
      for (TensorId in : node.inputs)
        if (in != model::kNoTensor && (src_tensor(in).constant || !int_tensor[in])) integer = false;
    }
    integer_[i] = integer;
    if (!integer) continue;
    for (TensorId out : node.outputs) int_tensor[out] = true;
    // Fuse a Relu/Clip that is the only consumer of an integer layer's output.
    const bool is_layer = node.op == OpType::kConv || node.op == OpType::kGemm || node.op == OpType::kMatMul;
    const TensorId y = node.outputs[0];
    if (!is_layer || consumers[y] != 1 || outputs.contains(y)) continue;
    for (size_t j = i + 1; j < n; ++j) {
      const Node& next = src_.nodes[j];
      if (std::find(next.inputs.begin(), next.inputs.end(), y) == next.inputs.end()) continue;
      if (is_clamp(next.op)) {
        fused_into_[i] = static_cast<int>(j);
        fused_away_[j] = true;
        integer_[j] = true;
        int_tensor[next.outputs[0]] = true;
      }
      break;
    }
  }
}

Status Rewriter::emit_layer(const Node& n, LayerMode mode, TensorId output, const std::optional<QuantParams>& out_params) {
  const Tensor& w = *input_tensor(src_, n, 1);
  const Tensor* b = n.op == OpType::kMatMul ? nullptr : input_tensor(src_, n, 2);
  const bool transpose = (n.op == OpType::kGemm && n.attrs.get_int("transB") == 0) || n.op == OpType::kMatMul;
  model::Shape rows_shape = w.shape;
  if (transpose) std::swap(rows_shape[0], rows_shape[1]);
  const std::vector<float> rows = weight_rows(w, transpose);

  // Gemm and MatMul become Gemm(A, W[N, K], transB=1), so that rows are output channels.
  OpType op = n.op;
  model::Attributes attrs = n.attrs;
  if (n.op != OpType::kConv && mode != LayerMode::kFp32) {
    op = OpType::kGemm;
    attrs = {};
    attrs.set("transA", int64_t{0});
    attrs.set("transB", int64_t{1});
    attrs.set("alpha", 1.f);
    attrs.set("beta", 1.f);
  }
  std::vector<TensorId> inputs;
  TensorId out = model::kNoTensor;
  const int64_t before = static_cast<int64_t>(w.byte_size() + (b ? b->byte_size() : 0));
  int64_t after = 0;
  auto bias_float = [&]() -> Result<TensorId> {
    if (b == nullptr) return model::kNoTensor;
    EL_TRY(TensorId id, float_version(n.inputs[2]));
    after += static_cast<int64_t>(b->byte_size());
    return id;
  };
  double sqnr = std::numeric_limits<double>::infinity();
  auto weight = [&](Tensor t) {
    after += static_cast<int64_t>(t.byte_size());
    sqnr = weight_sqnr_db(rows, t);
    t.name = fresh(w.name, "");
    return add(std::move(t));
  };
  switch (mode) {
    case LayerMode::kFp32: {
      for (TensorId in : n.inputs) {
        if (in == model::kNoTensor) {
          inputs.push_back(in);
          continue;
        }
        EL_TRY(TensorId id, float_version(in));
        inputs.push_back(id);
      }
      after = before;
      out = new_float_output(output);
      break;
    }
    case LayerMode::kFp16:
    case LayerMode::kW4A32: {
      EL_TRY(TensorId x, float_version(n.inputs[0]));
      const TensorId stored = mode == LayerMode::kFp16 ? weight(to_f16("", rows, rows_shape))
                                                       : weight(quantize_int4_rows("", rows, rows_shape, options_.group_size));
      Tensor wide;
      wide.name = fresh(w.name, "f32");
      wide.shape = rows_shape;
      const TensorId widened = add(std::move(wide));
      if (mode == LayerMode::kFp16) {
        model::Attributes cast;
        cast.set("to", std::string("f32"));
        add_node(OpType::kCast, "widen:" + w.name, {stored}, {widened}, std::move(cast));
      } else {
        add_node(OpType::kDequantizeLinear, "widen:" + w.name, {stored}, {widened});
      }
      EL_TRY(TensorId bias, bias_float());
      inputs = {x, widened};
      if (bias != model::kNoTensor) inputs.push_back(bias);
      out = new_float_output(output);
      break;
    }
    case LayerMode::kInt8:
    case LayerMode::kW4A8: {
      EL_TRY(TensorId x, int_version(n.inputs[0]));
      const float input_scale = out_.graph.tensors[x].quant.scales[0];
      if (mode == LayerMode::kInt8) {
        Tensor q = quantize_int8_rows("", rows, rows_shape, options_.per_tensor_int8_weights);
        // The bias has one scale per output channel either way: s_x · s_w[c].
        const std::vector<float> scales = q.quant.per_tensor()
                                              ? std::vector<float>(static_cast<size_t>(rows_shape[0]), q.quant.scales[0])
                                              : q.quant.scales;
        inputs = {x, weight(std::move(q))};
        if (b != nullptr) {
          Tensor qb = quantize_bias(fresh(b->name, ""), *b, input_scale, scales);
          after += static_cast<int64_t>(qb.byte_size());
          inputs.push_back(add(std::move(qb)));
        }
      } else {
        inputs = {x, weight(quantize_int4_rows("", rows, rows_shape, options_.group_size))};
        EL_TRY(TensorId bias, bias_float());
        if (bias != model::kNoTensor) inputs.push_back(bias);
      }
      attrs.set("requantize", std::string("fixed_point"));
      out = new_int_output(output, *out_params);
      out_.report.integer_ops.push_back(node_label(n));
      break;
    }
  }
  out_.report.layers.push_back({n.name, std::string(model::op_name(n.op)), std::string(layer_mode_name(mode)), before, after, sqnr, {}});
  add_node(op, n.name, std::move(inputs), {out}, std::move(attrs));
  return ok();
}

Status Rewriter::emit_node(size_t index) {
  const Node& n = src_.nodes[index];
  if (fused_away_[index]) return ok();
  const auto layer = as_layer(src_, n);
  if (layer) {
    LayerMode mode = layer->ineligible.empty() ? plan_.mode_of(n.name) : LayerMode::kFp32;
    TensorId output = n.outputs[0];
    std::optional<QuantParams> out_params;
    if (uses_int8_activations(mode)) {
      std::optional<std::pair<float, float>> clamp;
      if (fused_into_[index] >= 0) {
        const Node& act = src_.nodes[fused_into_[index]];
        output = act.outputs[0];
        clamp = act.op == OpType::kRelu ? std::pair{0.f, std::numeric_limits<float>::infinity()}
                                        : std::pair{act.attrs.get_float("min", -std::numeric_limits<float>::infinity()),
                                                    act.attrs.get_float("max", std::numeric_limits<float>::infinity())};
        out_.report.fused.push_back(fmt::format("{} into {}", node_label(act), n.name));
      }
      EL_TRY(out_params, activation_params(output, clamp));
    }
    EL_CHECK(emit_layer(n, mode, output, out_params));
    if (!layer->ineligible.empty()) out_.report.layers.back().note = "kept fp32: " + layer->ineligible;
    return ok();
  }
  std::vector<TensorId> inputs;
  if (integer_[index]) {
    for (TensorId in : n.inputs) {
      if (in == model::kNoTensor) {
        inputs.push_back(in);
        continue;
      }
      EL_TRY(TensorId id, int_version(in));
      inputs.push_back(id);
    }
    QuantParams q;
    if (is_passthrough(n.op) || is_clamp(n.op)) {
      q = out_.graph.tensors[inputs[0]].quant;
    } else {
      EL_TRY(q, activation_params(n.outputs[0]));
    }
    const TensorId out = new_int_output(n.outputs[0], std::move(q));
    out_.report.integer_ops.push_back(node_label(n));
    add_node(n.op, n.name, std::move(inputs), {out}, n.attrs);
    return ok();
  }
  bool next_to_integers = false;
  for (TensorId in : n.inputs) {
    if (in == model::kNoTensor) {
      inputs.push_back(in);
      continue;
    }
    next_to_integers |= int_id_[in] != model::kNoTensor;
    EL_TRY(TensorId id, float_version(in));
    inputs.push_back(id);
  }
  std::vector<TensorId> outputs;
  for (TensorId o : n.outputs) outputs.push_back(new_float_output(o));
  if (next_to_integers) out_.report.float_ops.push_back(node_label(n));
  add_node(n.op, n.name, std::move(inputs), std::move(outputs), n.attrs);
  return ok();
}

Result<Quantized> Rewriter::run() {
  plan_domains();
  bool any_integer = false;
  for (const auto& [node, mode] : plan_.layers) any_integer |= uses_int8_activations(mode);
  if (any_integer && stats_ == nullptr)
    return make_error(ErrorCode::kInvalidArgument, "int8 activations need calibration statistics");
  Graph& g = out_.graph;
  g.meta = src_.meta;
  g.meta.golden.reset();
  g.meta.required_ops.clear();
  for (TensorId id : src_.inputs) {
    EL_TRY(TensorId f, float_version(id));
    g.inputs.push_back(f);
  }
  for (size_t i = 0; i < src_.nodes.size(); ++i)
    if (Status s = emit_node(i); !s) return std::unexpected(std::move(s).error().context(node_label(src_.nodes[i])));
  for (TensorId id : src_.outputs) {
    EL_TRY(TensorId f, float_version(id));
    g.outputs.push_back(f);
  }
  for (const Tensor& t : src_.tensors)
    if (t.constant) out_.report.weight_bytes_before += static_cast<int64_t>(t.byte_size());
  out_.report.weight_bytes_after = static_cast<int64_t>(g.weight_bytes());
  return std::move(out_);
}

std::string quantization_record(const QuantPlan& plan, const QuantizeOptions& options, const QuantizeReport& report,
                                const std::string& variant) {
  nlohmann::ordered_json j;
  j["variant"] = variant;
  j["group_size"] = options.group_size;
  j["activation_range"] = range_method_name(options.range);
  if (!options.calibration.empty()) j["calibration"] = options.calibration;
  j["layers"] = plan_to_json(plan);
  j["float_ops"] = report.float_ops;
  return j.dump();
}

}  // namespace

Result<Quantized> quantize_graph(const Graph& fp32, const QuantPlan& plan, const CalibrationStats* stats,
                                 const QuantizeOptions& options) {
  EL_CHECK(expect_fp32_graph(fp32));
  if (options.group_size < 1 || options.group_size > 4096)
    return make_error(ErrorCode::kInvalidArgument, "group size {} out of range: use 1 to 4096", options.group_size);
  const std::vector<Layer> layers = weighted_layers(fp32);
  for (const auto& [node, mode] : plan.layers) {
    auto it = std::find_if(layers.begin(), layers.end(), [&](const Layer& l) { return l.node == node; });
    if (it == layers.end())
      return make_error(ErrorCode::kInvalidArgument, "the plan names '{}', which is not a weighted layer of this model", node);
    if (!it->ineligible.empty() && mode != LayerMode::kFp32)
      return make_error(ErrorCode::kUnsupported, "layer '{}' cannot be quantized: {}", node, it->ineligible);
  }
  Rewriter rewriter(fp32, plan, stats, options);
  EL_TRY(Quantized q, rewriter.run());

  std::string variant = options.variant;
  if (variant.empty()) {
    std::set<LayerMode> modes;
    for (const Layer& l : layers) modes.insert(plan.mode_of(l.node));
    variant = modes.size() == 1 ? std::string(layer_mode_name(*modes.begin())) : "mixed";
  }
  q.graph.meta.variant = variant;
  std::erase_if(q.graph.meta.properties, [](const auto& p) { return p.first == "edgeloop.quantization"; });
  q.graph.meta.properties.emplace_back("edgeloop.quantization", quantization_record(plan, options, q.report, variant));
  // Verify (shape inference over the whole rewritten graph) and record the golden vector of
  // this variant: the device's smoke test compares against the quantized model's own output.
  // Backends may requantize differently (XNNPACK in fp32, the reference in fixed point): 1 LSB per
  // layer, which adds up over a deep network (7-8 output steps measured on MobileNetV2), so an
  // output dequantized from integers is allowed kGoldenSteps of its quantization step.
  constexpr float kGoldenSteps = 16.f;
  float atol = 1e-5f;
  for (const model::Node& n : q.graph.nodes)
    if (n.op == model::OpType::kDequantizeLinear &&
        std::find(q.graph.outputs.begin(), q.graph.outputs.end(), n.outputs[0]) != q.graph.outputs.end()) {
      const model::QuantParams& in = q.graph.tensors[n.inputs[0]].quant;
      if (in.per_tensor()) atol = std::max(atol, kGoldenSteps * in.scales[0]);
    }
  EL_CHECK(runtime::attach_golden(q.graph, 0x5eed, 1e-4f, atol));
  return q;
}

}  // namespace edgeloop::compress
