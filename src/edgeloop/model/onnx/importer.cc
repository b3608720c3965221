#include "edgeloop/model/onnx/importer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx/fold.h"
#include "edgeloop/model/onnx/tensor.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model::onnx_import {
namespace {

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

// Data-movement ops pass quantized values through unchanged (docs/ops.md).
bool passes_quant_through(const Node& n) {
  switch (n.op) {
    case OpType::kReshape:
    case OpType::kTranspose:
    case OpType::kConcat:
    case OpType::kSplit:
    case OpType::kSlice:
    case OpType::kPad:
    case OpType::kGather:
    case OpType::kMaxPool:
      return true;
    case OpType::kResize: return n.attrs.get_string("mode") == "nearest";
    default: return false;
  }
}
// The inputs whose values a pass-through op moves (Gather's indices are not among them).
std::vector<TensorId> data_inputs(const Node& n) {
  if (n.op == OpType::kConcat) return n.inputs;
  return n.inputs.empty() ? std::vector<TensorId>{} : std::vector<TensorId>{n.inputs[0]};
}

std::string quant_str(const QuantParams& p) {
  return p.per_tensor() ? fmt::format("scale {} zero point {}", p.scales[0], p.zero_point(0))
                        : fmt::format("{} per-channel scales on axis {}", p.scales.size(), p.axis);
}

// Shape inference reports "node 'n' (Op): reason"; the refusal list prints the ONNX op itself.
std::string strip_node_prefix(const std::string& message, const std::string& node) {
  const std::string prefix = "node '" + node + "' (";
  if (message.rfind(prefix, 0) != 0) return message;
  const size_t end = message.find("): ", prefix.size());
  return end == std::string::npos ? message : message.substr(end + 3);
}

std::string plural(size_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string attr_type_name(int t) {
  switch (t) {
    case ::onnx::AttributeProto::FLOAT: return "float";
    case ::onnx::AttributeProto::INT: return "int";
    case ::onnx::AttributeProto::STRING: return "string";
    case ::onnx::AttributeProto::TENSOR: return "tensor";
    case ::onnx::AttributeProto::GRAPH: return "graph";
    case ::onnx::AttributeProto::FLOATS: return "floats";
    case ::onnx::AttributeProto::INTS: return "ints";
    case ::onnx::AttributeProto::STRINGS: return "strings";
    default: return fmt::format("type {}", t);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NodeContext

NodeContext::NodeContext(Importer& importer, const ::onnx::NodeProto& proto, std::string name,
                         std::vector<TensorId> inputs)
    : imp_(importer), proto_(proto), name_(std::move(name)), inputs_(std::move(inputs)) {}

int NodeContext::opset() const { return imp_.opset_; }
const Tensor& NodeContext::tensor(TensorId id) const { return imp_.g_.tensors[static_cast<size_t>(id)]; }

const ::onnx::AttributeProto* NodeContext::attr(std::string_view name) const {
  for (const auto& a : proto_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

namespace {
// Old models leave AttributeProto.type unset; accept the field that is filled then.
bool attr_is(const ::onnx::AttributeProto& a, ::onnx::AttributeProto::AttributeType t, bool filled) {
  return a.type() == t || (a.type() == ::onnx::AttributeProto::UNDEFINED && filled);
}
}  // namespace

Result<int64_t> NodeContext::attr_int(std::string_view name, int64_t fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (!attr_is(*a, ::onnx::AttributeProto::INT, a->has_i()))
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' is {}, expected int", name, attr_type_name(a->type()));
  return a->i();
}

Result<float> NodeContext::attr_float(std::string_view name, float fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (!attr_is(*a, ::onnx::AttributeProto::FLOAT, a->has_f()))
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' is {}, expected float", name,
                      attr_type_name(a->type()));
  return a->f();
}

Result<std::string> NodeContext::attr_string(std::string_view name, std::string fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (!attr_is(*a, ::onnx::AttributeProto::STRING, a->has_s()))
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' is {}, expected string", name,
                      attr_type_name(a->type()));
  return a->s();
}

Result<std::vector<int64_t>> NodeContext::attr_ints(std::string_view name, std::vector<int64_t> fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (!attr_is(*a, ::onnx::AttributeProto::INTS, a->ints_size() > 0))
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' is {}, expected ints", name,
                      attr_type_name(a->type()));
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

Result<std::vector<float>> NodeContext::attr_floats(std::string_view name, std::vector<float> fallback) const {
  const auto* a = attr(name);
  if (a == nullptr) return fallback;
  if (!attr_is(*a, ::onnx::AttributeProto::FLOATS, a->floats_size() > 0))
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' is {}, expected floats", name,
                      attr_type_name(a->type()));
  return std::vector<float>(a->floats().begin(), a->floats().end());
}

Status NodeContext::expect_attr_int(std::string_view name, int64_t harmless, std::string_view why) const {
  EL_TRY(int64_t v, attr_int(name, harmless));
  if (v != harmless) return make_error(ErrorCode::kUnsupported, "attribute {}={} is not supported: {}", name, v, why);
  return ok();
}

Result<TensorId> NodeContext::input(size_t i) const {
  if (!has_input(i)) return make_error(ErrorCode::kInvalidArgument, "required input {} is missing", i);
  return inputs_[i];
}

Result<const Tensor*> NodeContext::constant_input(size_t i, std::string_view what) {
  if (!has_input(i)) return make_error(ErrorCode::kInvalidArgument, "input '{}' is missing", what);
  const TensorId id = inputs_[i];
  Tensor& t = imp_.g_.tensors[static_cast<size_t>(id)];
  if (t.constant) return &t;
  const bool graph_input = std::find(imp_.g_.inputs.begin(), imp_.g_.inputs.end(), id) != imp_.g_.inputs.end();
  if (graph_input) {
    auto b = imp_.bindable_.find(t.name);
    if (b == imp_.bindable_.end())
      return make_error(ErrorCode::kUnsupported,
                        "input '{}' must be a constant known at import, but '{}' is a graph input; make it an "
                        "initializer (or bind its value with ImportOptions::bindable_inputs)",
                        what, t.name);
    const TensorData& v = *b->second;
    if (v.dtype != t.dtype || v.shape != t.shape || v.bytes.size() != t.byte_size())
      return make_error(ErrorCode::kInvalidArgument,
                        "the value bound to input '{}' is {} {} ({} bytes), the model declares {} {}", t.name,
                        dtype_name(v.dtype), shape_str(v.shape), v.bytes.size(), dtype_name(t.dtype),
                        shape_str(t.shape));
    t.constant = true;
    t.data = SharedBytes::copy(v.bytes);
    return &t;
  }
  auto p = imp_.producer_.find(id);
  return make_error(ErrorCode::kUnsupported,
                    "input '{}' must be a constant known at import, but '{}' is computed at run time{}", what, t.name,
                    p == imp_.producer_.end() ? std::string() : fmt::format(" by node '{}'", p->second));
}

Result<std::vector<int64_t>> NodeContext::constant_ints(size_t i, std::string_view what) {
  EL_TRY(const Tensor* t, constant_input(i, what));
  if (t->shape.size() > 1)
    return make_error(ErrorCode::kInvalidArgument, "input '{}' must be a scalar or 1-D, it has shape {}", what,
                      shape_str(t->shape));
  auto v = read_ints(*t);
  if (!v || t->dtype == DType::kBool)
    return make_error(ErrorCode::kInvalidArgument, "input '{}' has dtype {}, expected int64 or int32", what,
                      dtype_name(t->dtype));
  return std::move(*v);
}

Result<std::vector<float>> NodeContext::constant_floats(size_t i, std::string_view what) {
  EL_TRY(const Tensor* t, constant_input(i, what));
  if (t->shape.size() > 1)
    return make_error(ErrorCode::kInvalidArgument, "input '{}' must be a scalar or 1-D, it has shape {}", what,
                      shape_str(t->shape));
  auto v = read_floats(*t);
  if (!v) return make_error(ErrorCode::kInvalidArgument, "input '{}' has dtype {}, expected a number", what,
                            dtype_name(t->dtype));
  return std::move(*v);
}

const std::string& NodeContext::output_name(size_t i) const {
  static const std::string kNone;
  return i < num_outputs() ? proto_.output(static_cast<int>(i)) : kNone;
}

Status NodeContext::expect_no_outputs_from(size_t first, std::string_view why) const {
  for (size_t i = first; i < num_outputs(); ++i)
    if (has_output(i))
      return make_error(ErrorCode::kUnsupported, "output {} ('{}'): {}", i, output_name(i), why);
  return ok();
}

Result<std::vector<TensorId>> NodeContext::emit(OpType op, std::vector<TensorId> inputs, Attributes attrs,
                                                std::vector<OutputSpec> outputs) {
  Graph& g = imp_.g_;
  if (outputs.empty())
    for (size_t k = 0; k < num_outputs(); ++k)
      outputs.push_back(OutputSpec{has_output(k) ? output_name(k) : std::string(), DType::kF32, {}, static_cast<int>(k)});
  // Absent optional inputs at the end are dropped, not stored as kNoTensor.
  while (!inputs.empty() && inputs.back() == kNoTensor) inputs.pop_back();
  Node node;
  node.op = op;
  node.name = emitted_++ == 0 ? name_ : imp_.unique_node_name(fmt::format("{}/{}", name_, op_name(op)));
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  for (OutputSpec& spec : outputs) {
    Tensor t;
    t.name = spec.name.empty() ? fresh_name(fmt::format("{}/out", name_)) : spec.name;
    t.dtype = spec.dtype;
    t.quant = std::move(spec.quant);
    node.outputs.push_back(g.add_tensor(std::move(t)));
  }
  if (passes_quant_through(node)) {  // outputs carry the input's per-tensor quantization
    const TensorId in = node.inputs.empty() ? kNoTensor : node.inputs[0];
    if (in != kNoTensor && tensor(in).quant.per_tensor())
      for (TensorId out : node.outputs)
        if (g.tensors[out].quant.empty()) g.tensors[out].quant = tensor(in).quant;
  }
  const std::string node_name = node.name;
  g.nodes.push_back(std::move(node));
  if (auto s = infer_node(g, g.nodes.size() - 1); !s) {
    g.nodes.pop_back();
    Error e = std::move(s).error();
    e.message = strip_node_prefix(e.message, node_name);
    return std::unexpected(std::move(e));
  }
  const std::vector<TensorId> ids = g.nodes.back().outputs;
  const size_t index = g.nodes.size() - 1;
  for (TensorId id : ids) imp_.ir_producer_[id] = index;
  for (TensorId id : g.nodes.back().inputs)
    if (id != kNoTensor) imp_.ir_consumers_[id].push_back(index);
  for (size_t k = 0; k < outputs.size(); ++k) {
    imp_.producer_[ids[k]] = name_;
    if (outputs[k].onnx_index >= 0 && has_output(static_cast<size_t>(outputs[k].onnx_index)))
      imp_.values_[output_name(static_cast<size_t>(outputs[k].onnx_index))] = ids[k];
  }
  return ids;
}

Status NodeContext::emit_or_fold(OpType op, std::vector<TensorId> inputs, Attributes attrs, size_t num_outputs) {
  std::vector<const Tensor*> values;
  bool all_constant = !inputs.empty();
  for (TensorId id : inputs) {
    if (id == kNoTensor || !tensor(id).constant) {
      all_constant = false;
      break;
    }
    values.push_back(&tensor(id));
  }
  if (all_constant) {
    EL_TRY(auto folded, fold(op, attrs, values, num_outputs));
    if (folded) {
      for (size_t k = 0; k < folded->size(); ++k) constant_output(k, std::move((*folded)[k]));
      return ok();
    }
  }
  std::vector<OutputSpec> outs;
  for (size_t k = 0; k < num_outputs; ++k)
    outs.push_back(OutputSpec{has_output(k) ? output_name(k) : std::string(), DType::kF32, {}, static_cast<int>(k)});
  EL_TRY(auto ids, emit(op, std::move(inputs), std::move(attrs), std::move(outs)));
  (void)ids;
  return ok();
}

void NodeContext::alias_output(size_t i, TensorId id) {
  if (has_output(i)) imp_.values_[output_name(i)] = id;
}

void NodeContext::constant_output(size_t i, Tensor t) {
  if (!has_output(i)) return;
  t.name = output_name(i);
  t.constant = true;
  const TensorId id = imp_.g_.add_tensor(std::move(t));
  imp_.values_[output_name(i)] = id;
}

Status NodeContext::set_quant(TensorId id, QuantParams q) { return imp_.propagate_quant(id, q); }

std::string NodeContext::fresh_name(std::string_view base) {
  std::string name(base);
  for (int n = 1; imp_.names_.count(name); ++n) name = fmt::format("{}_{}", base, n);
  imp_.names_.insert(name);
  return name;
}

TensorId NodeContext::add_constant(Tensor t) {
  t.name = fresh_name(t.name.empty() ? fmt::format("{}/const", name_) : t.name);
  t.constant = true;
  return imp_.g_.add_tensor(std::move(t));
}

bool NodeContext::outputs_bound() const {
  for (size_t i = 0; i < num_outputs(); ++i)
    if (has_output(i) && !imp_.values_.count(output_name(i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Importer

Importer::Importer(const ::onnx::ModelProto& model, const ImportOptions& options, std::string label, std::string stem)
    : model_(model), options_(options), label_(std::move(label)), stem_(std::move(stem)) {}

std::string Importer::unique_node_name(std::string base) {
  std::string name = base;
  for (int n = 1; node_names_.count(name); ++n) name = fmt::format("{}_{}", base, n);
  node_names_.insert(name);
  return name;
}

Result<Graph> Importer::run() {
  bool found = false;
  for (const auto& op : model_.opset_import()) {
    if (!is_default_domain(op.domain())) continue;
    found = true;
    opset_ = static_cast<int>(std::clamp<int64_t>(op.version(), -1, 1 << 20));
  }
  if (!found) {
    std::string domains;
    for (const auto& op : model_.opset_import())
      domains += fmt::format("{}'{}' {}", domains.empty() ? "" : ", ", op.domain(), op.version());
    return make_error(ErrorCode::kUnsupported,
                      "{}: the model declares no opset of the default ONNX domain (it declares: {}); only models of "
                      "the default domain, opsets {} to {}, can be imported",
                      label_, domains.empty() ? "none" : domains, kMinOpset, kMaxOpset);
  }
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    return make_error(ErrorCode::kUnsupported,
                      "{}: opset {} of the default ONNX domain is not supported ({} to {} are); convert the model "
                      "with onnx.version_converter",
                      label_, opset_, kMinOpset, kMaxOpset);
  if (!model_.has_graph()) return make_error(ErrorCode::kCorrupt, "{}: the model has no graph", label_);
  const auto& graph = model_.graph();
  if (graph.output_size() == 0) return make_error(ErrorCode::kCorrupt, "{}: the graph has no outputs", label_);

  for (const auto& t : graph.initializer()) {
    if (t.name().empty()) return make_error(ErrorCode::kCorrupt, "{}: an initializer has no name", label_);
    if (!initializers_.emplace(t.name(), &t).second)
      return make_error(ErrorCode::kCorrupt, "{}: initializer '{}' is defined twice", label_, t.name());
    names_.insert(t.name());
  }
  for (const auto& t : graph.sparse_initializer()) {
    sparse_initializers_.insert(t.values().name());
    names_.insert(t.values().name());
  }
  for (const auto& v : graph.input()) names_.insert(v.name());
  for (const auto& v : graph.output()) {
    if (v.name().empty()) return make_error(ErrorCode::kCorrupt, "{}: a graph output has no name", label_);
    names_.insert(v.name());
    output_names_.insert(v.name());
  }
  for (const auto& n : graph.node()) {
    for (const auto& o : n.output()) names_.insert(o);
    for (const auto& i : n.input()) names_.insert(i);
  }
  for (const TensorData& b : options_.bindable_inputs) bindable_[b.name] = &b;

  EL_CHECK(setup_inputs());
  for (int i = 0; i < graph.node_size(); ++i) import_node(i);
  EL_CHECK(finish_outputs());
  if (!problems_.empty()) return std::unexpected(refusal());

  fold_batch_norms();
  prune();
  EL_CHECK(fill_metadata());
  if (auto s = verify_graph(g_); !s)
    return make_error(ErrorCode::kInternal, "{}: the imported graph fails verification ({}); this is an importer bug",
                      label_, s.error().message);
  return std::move(g_);
}

Status Importer::setup_inputs() {
  const auto& graph = model_.graph();
  std::vector<std::string> unknown;
  std::unordered_set<std::string> input_names;
  for (const auto& vi : graph.input()) {
    const std::string& name = vi.name();
    if (name.empty()) return make_error(ErrorCode::kCorrupt, "{}: a graph input has no name", label_);
    if (initializers_.count(name)) continue;  // an initializer listed as input: a constant
    if (!input_names.insert(name).second)
      return make_error(ErrorCode::kCorrupt, "{}: graph input '{}' is listed twice", label_, name);
    const std::string what = fmt::format("input '{}'", name);
    if (!vi.type().has_tensor_type()) {
      add_problem("input", what, "is not a tensor (sequence, map and optional inputs are not supported)");
      poisoned_.insert(name);
      continue;
    }
    const auto& tt = vi.type().tensor_type();
    auto dtype = dtype_from_onnx(tt.elem_type());
    if (!dtype) {
      add_problem("input", what, dtype.error().message);
      poisoned_.insert(name);
      continue;
    }
    const auto bound = bindable_.find(name);
    Shape shape;
    bool known = true;
    std::string declared = "[";
    if (tt.has_shape()) {
      for (int d = 0; d < tt.shape().dim_size(); ++d) {
        const auto& dim = tt.shape().dim(d);
        const bool has = dim.has_dim_value() && dim.dim_value() >= 0;
        shape.push_back(has ? dim.dim_value() : -1);
        known &= has;
        declared += (d ? "," : "") + (has ? std::to_string(dim.dim_value())
                                          : (dim.has_dim_param() && !dim.dim_param().empty() ? dim.dim_param() : "?"));
      }
      declared += "]";
    } else {
      known = false;
      declared = "of unknown rank";
    }
    if (auto o = options_.input_shapes.find(name); o != options_.input_shapes.end()) {
      if (tt.has_shape() && o->second.size() != shape.size())
        return make_error(ErrorCode::kInvalidArgument, "{}: the shape {} given for input '{}' has rank {}, the model "
                          "declares {} (rank {})", label_, shape_str(o->second), name, o->second.size(), declared,
                          shape.size());
      if (num_elements(o->second) < 0)
        return make_error(ErrorCode::kInvalidArgument, "{}: the shape {} given for input '{}' is invalid", label_,
                          shape_str(o->second), name);
      shape = o->second;
      known = true;
    } else if (!known && bound != bindable_.end() && (!tt.has_shape() || bound->second->shape.size() == shape.size())) {
      // A bindable value (conformance tests) fixes the dims the model leaves open.
      const Shape& b = bound->second->shape;
      bool fits = true;
      for (size_t d = 0; d < shape.size(); ++d) fits &= shape[d] < 0 || shape[d] == b[d];
      if (fits || !tt.has_shape()) shape = b, known = true;
    }
    if (!known) {
      std::string example;
      for (size_t d = 0; d < shape.size(); ++d) example += (d ? "," : "") + std::to_string(shape[d] < 0 ? 1 : shape[d]);
      unknown.push_back(tt.has_shape()
                            ? fmt::format("input '{}' has the symbolic or unknown shape {}; give a static shape, e.g. "
                                          "--input-shape {}={} (ImportOptions::input_shapes)",
                                          name, declared, name, example)
                            : fmt::format("input '{}' has no declared shape; give a static shape with --input-shape "
                                          "{}=<dims> (ImportOptions::input_shapes)",
                                          name, name));
      continue;
    }
    if (num_elements(shape) < 0 || !shape_in_range(shape))
      return make_error(ErrorCode::kInvalidArgument, "{}: input '{}' has an invalid or too large shape {}", label_, name,
                        shape_str(shape));
    Tensor t;
    t.name = name;
    t.dtype = *dtype;
    t.shape = std::move(shape);
    const TensorId id = g_.add_tensor(std::move(t));
    g_.inputs.push_back(id);
    values_[name] = id;
  }
  for (const auto& [name, shape] : options_.input_shapes)
    if (!input_names.count(name)) {
      std::string list;
      for (const auto& n : input_names) list += (list.empty() ? "" : ", ") + n;
      return make_error(ErrorCode::kInvalidArgument, "{}: an input shape is given for '{}', which is not a graph input "
                        "(inputs: {})", label_, name, list.empty() ? "none" : list);
    }
  if (unknown.size() == 1) return make_error(ErrorCode::kInvalidArgument, "{}: {}", label_, unknown[0]);
  if (!unknown.empty()) {
    std::string msg = fmt::format("{}: {} inputs have no static shape:", label_, unknown.size());
    for (const auto& u : unknown) msg += "\n  " + u;
    return std::unexpected(Error{ErrorCode::kInvalidArgument, std::move(msg)});
  }
  return ok();
}

Result<std::optional<TensorId>> Importer::resolve(const std::string& name) {
  if (poisoned_.count(name)) return std::optional<TensorId>{};
  if (auto v = values_.find(name); v != values_.end()) return std::optional<TensorId>{v->second};
  if (auto it = initializers_.find(name); it != initializers_.end()) {
    auto t = tensor_from_proto(*it->second);
    if (!t) {
      add_problem("initializer", fmt::format("initializer '{}'", name), t.error().message);
      poisoned_.insert(name);
      return std::optional<TensorId>{};
    }
    t->name = name;
    const TensorId id = g_.add_tensor(std::move(*t));
    values_[name] = id;
    return std::optional<TensorId>{id};
  }
  if (doubles_.count(name))
    return make_error(ErrorCode::kUnsupported,
                      "input '{}' has dtype double (f64), which is not supported (only a Cast of a double constant to "
                      "another type is folded at import); export the model in float32",
                      name);
  if (sparse_initializers_.count(name)) {
    add_problem("initializer", fmt::format("initializer '{}'", name),
                "sparse initializers are not supported; store it as a dense tensor");
    poisoned_.insert(name);
    return std::optional<TensorId>{};
  }
  return make_error(ErrorCode::kCorrupt,
                    "input '{}' is not a graph input, an initializer or the output of an earlier node (the graph must "
                    "be topologically sorted)",
                    name);
}

void Importer::poison_outputs(const ::onnx::NodeProto& node) {
  for (const auto& o : node.output())
    if (!o.empty()) {
      poisoned_.insert(o);
      values_.erase(o);
    }
}

void Importer::import_node(int index) {
  const ::onnx::NodeProto& np = model_.graph().node(index);
  const std::string name =
      unique_node_name(np.name().empty() ? fmt::format("{}_{}", np.op_type(), index) : np.name());
  const std::string what = fmt::format("node '{}' ({})", name, np.op_type());
  auto refuse = [&](std::string reason) {
    add_problem("node", what, std::move(reason));
    poison_outputs(np);
  };
  if (!is_default_domain(np.domain())) {
    refuse(fmt::format("domain '{}' is not supported; only the default ONNX domain (opsets {} to {}) is",
                       np.domain(), kMinOpset, kMaxOpset));
    return;
  }
  if (import_double_constant(np, what)) return;
  std::vector<TensorId> inputs;
  for (const auto& in : np.input()) {
    if (in.empty()) {
      inputs.push_back(kNoTensor);
      continue;
    }
    auto r = resolve(in);
    if (!r) return refuse(r.error().message);
    if (!r->has_value()) {  // depends on something refused: reported there
      ++skipped_;
      poison_outputs(np);
      return;
    }
    inputs.push_back(**r);
  }
  const Converter* convert = find_converter(np.op_type());
  if (convert == nullptr) {
    unsupported_op_seen_ = true;
    return refuse("operator not supported");
  }
  if (np.output_size() == 0) return refuse("the node has no outputs");
  for (const auto& o : np.output())
    if (!o.empty() && (values_.count(o) || initializers_.count(o)))
      return refuse(fmt::format("output '{}' redefines an existing value (ONNX values are assigned once)", o));
  NodeContext ctx(*this, np, name, std::move(inputs));
  const size_t nodes_before = g_.nodes.size();
  quant_journal_.clear();
  Status s = (*convert)(ctx);
  if (s && !ctx.outputs_bound())
    s = make_error(ErrorCode::kInternal, "importer bug: the converter did not produce every output");
  if (!s) {
    g_.nodes.resize(nodes_before);
    for (auto it = quant_journal_.rbegin(); it != quant_journal_.rend(); ++it)
      g_.tensors[static_cast<size_t>(it->first)].quant = it->second;
    refuse(strip_node_prefix(s.error().message, name));
  }
  quant_journal_.clear();
}

Status Importer::propagate_quant(TensorId root, const QuantParams& q) {
  std::vector<TensorId> work{root};
  std::unordered_set<TensorId> seen;
  while (!work.empty()) {
    const TensorId id = work.back();
    work.pop_back();
    if (!seen.insert(id).second) continue;
    Tensor& t = g_.tensors[static_cast<size_t>(id)];
    if (t.quant == q) continue;
    const std::string via = id == root ? std::string() : fmt::format(" (it holds the values of '{}', moved by data-movement ops)", g_.tensors[root].name);
    if (!t.quant.empty())
      return make_error(ErrorCode::kUnsupported,
                        "tensor '{}'{} already has quantization parameters ({}) from another node, this node needs "
                        "({}); a tensor carries one set",
                        t.name, via, quant_str(t.quant), quant_str(q));
    if (auto s = validate_quant(q, t.dtype, t.shape); !s)
      return make_error(ErrorCode::kInvalidArgument, "quantization parameters for '{}'{} ({} {}) are invalid: {}", t.name,
                        via, dtype_name(t.dtype), shape_str(t.shape), s.error().message);
    quant_journal_.emplace_back(id, t.quant);
    t.quant = q;
    // Neighbours through data-movement ops share the parameters.
    std::vector<const Node*> linked;
    if (auto p = ir_producer_.find(id); p != ir_producer_.end() && p->second < g_.nodes.size()) {
      const Node& n = g_.nodes[p->second];
      if (passes_quant_through(n) && std::count(n.outputs.begin(), n.outputs.end(), id)) {
        linked.push_back(&n);
        for (TensorId in : data_inputs(n)) work.push_back(in);
      }
    }
    if (auto c = ir_consumers_.find(id); c != ir_consumers_.end())
      for (size_t i : c->second) {
        if (i >= g_.nodes.size()) continue;
        const Node& n = g_.nodes[i];
        const auto ins = data_inputs(n);
        if (!passes_quant_through(n) || !std::count(ins.begin(), ins.end(), id)) continue;
        linked.push_back(&n);
        for (TensorId out : n.outputs) work.push_back(out);
      }
    if (!q.per_tensor() && !linked.empty())
      return make_error(ErrorCode::kUnsupported,
                        "tensor '{}' would be quantized per channel, but node '{}' ({}) moves its values, which needs "
                        "per-tensor parameters",
                        t.name, linked[0]->name, op_name(linked[0]->op));
  }
  return ok();
}

bool Importer::import_double_constant(const ::onnx::NodeProto& np, const std::string& what) {
  auto refuse = [&](std::string reason) {
    add_problem("node", what, std::move(reason));
    poison_outputs(np);
    return true;
  };
  if (np.output_size() != 1 || np.output(0).empty() || values_.count(np.output(0)) || doubles_.count(np.output(0)))
    return false;
  if (np.op_type() == "Constant") {
    for (const auto& a : np.attribute())
      if (a.name() == "value" && a.t().data_type() == ::onnx::TensorProto::DOUBLE) {
        auto v = double_values_from_proto(a.t());
        if (!v) return refuse(v.error().message);
        doubles_[np.output(0)] = std::move(*v);
        return true;
      }
    return false;
  }
  if (np.op_type() != "Cast" || np.input_size() != 1) return false;
  const std::string& in = np.input(0);
  const DoubleValues* src = nullptr;
  DoubleValues from_initializer;
  if (auto d = doubles_.find(in); d != doubles_.end()) {
    src = &d->second;
  } else if (auto it = initializers_.find(in);
             it != initializers_.end() && it->second->data_type() == ::onnx::TensorProto::DOUBLE && !values_.count(in)) {
    auto v = double_values_from_proto(*it->second);
    if (!v) return refuse(fmt::format("initializer '{}': {}", in, v.error().message));
    from_initializer = std::move(*v);
    src = &from_initializer;
  } else {
    return false;
  }
  int64_t to = -1;
  for (const auto& a : np.attribute())
    if (a.name() == "to") to = a.i();
  auto dtype = dtype_from_onnx(static_cast<int32_t>(std::clamp<int64_t>(to, -1, 1 << 20)));
  if (!dtype) return refuse(fmt::format("casting a double constant to {} is not supported", onnx_type_name(static_cast<int32_t>(std::clamp<int64_t>(to, -1, 1 << 20)))));
  auto t = cast_doubles(*src, *dtype);
  if (!t) return refuse(t.error().message);
  t->name = np.output(0);
  const TensorId id = g_.add_tensor(std::move(*t));
  values_[np.output(0)] = id;
  return true;
}

Status Importer::finish_outputs() {
  std::vector<std::pair<std::string, TensorId>> outs;
  for (const auto& vi : model_.graph().output()) {
    auto r = resolve(vi.name());
    if (!r) {
      add_problem("output", fmt::format("output '{}'", vi.name()), r.error().message);
      continue;
    }
    if (r->has_value()) outs.emplace_back(vi.name(), **r);
  }
  if (!problems_.empty()) return ok();
  // Graph outputs keep their ONNX names exactly, also when Identity/Dropout removal or folding left
  // another tensor carrying the value.
  std::unordered_set<TensorId> renamed;
  for (const auto& [name, id] : outs) {
    Tensor& t = g_.tensors[static_cast<size_t>(id)];
    if (t.name == name) {
      g_.outputs.push_back(id);
      continue;
    }
    const bool is_input = std::find(g_.inputs.begin(), g_.inputs.end(), id) != g_.inputs.end();
    if (t.constant) {
      Tensor copy = t;
      copy.name = name;
      g_.outputs.push_back(g_.add_tensor(std::move(copy)));
    } else if (!is_input && !output_names_.count(t.name) && !renamed.count(id)) {
      t.name = name;
      renamed.insert(id);
      g_.outputs.push_back(id);
    } else {
      Node copy;
      copy.op = OpType::kReshape;
      copy.name = unique_node_name(name + "/copy");
      copy.inputs = {id};
      copy.attrs.set("shape", t.shape);
      Tensor out;
      out.name = name;
      if (g_.tensors[id].quant.per_tensor()) out.quant = g_.tensors[id].quant;
      copy.outputs = {g_.add_tensor(std::move(out))};
      g_.nodes.push_back(std::move(copy));
      if (auto s = infer_node(g_, g_.nodes.size() - 1); !s) {
        add_problem("output", fmt::format("output '{}'", name),
                    fmt::format("cannot copy '{}' to keep the output name: {}", g_.tensors[id].name, s.error().message));
        g_.nodes.pop_back();
        continue;
      }
      g_.outputs.push_back(g_.nodes.back().outputs[0]);
    }
  }
  return ok();
}

void Importer::fold_batch_norms() {
  const size_t nt = g_.tensors.size();
  std::vector<int> uses(nt, 0), producer(nt, -1);
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    for (TensorId id : g_.nodes[i].inputs)
      if (id != kNoTensor) ++uses[id];
    for (TensorId id : g_.nodes[i].outputs) producer[id] = static_cast<int>(i);
  }
  for (TensorId id : g_.outputs) ++uses[id];
  auto f32_const = [&](TensorId id, int64_t n) {
    if (id == kNoTensor) return false;
    const Tensor& t = g_.tensors[id];
    return t.constant && t.dtype == DType::kF32 && t.quant.empty() && t.elements() == n &&
           t.data.size() == t.byte_size();
  };
  std::vector<bool> removed(g_.nodes.size(), false);
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    Node& bn = g_.nodes[i];
    if (bn.op != OpType::kBatchNormalization || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
    const TensorId x = bn.inputs[0];
    if (x == kNoTensor || producer[x] < 0 || uses[x] != 1) continue;
    Node& conv = g_.nodes[producer[x]];
    if (conv.op != OpType::kConv || conv.inputs.size() < 2 || conv.outputs.size() != 1) continue;
    const Tensor& w = g_.tensors[conv.inputs[1]];
    if (w.shape.empty() || !g_.tensors[x].quant.empty() || !g_.tensors[conv.inputs[0]].quant.empty()) continue;
    const int64_t c = w.shape[0];
    if (c <= 0 || !f32_const(conv.inputs[1], w.elements())) continue;
    const TensorId b = conv.inputs.size() > 2 ? conv.inputs[2] : kNoTensor;
    if (b != kNoTensor && !f32_const(b, c)) continue;
    bool params_ok = true;
    for (size_t k = 1; k < 5; ++k) params_ok &= f32_const(bn.inputs[k], c);
    if (!params_ok) continue;

    const float eps = bn.attrs.get_float("epsilon", 1e-5f);
    const auto scale = g_.tensors[bn.inputs[1]].values<float>();
    const auto beta = g_.tensors[bn.inputs[2]].values<float>();
    const auto mean = g_.tensors[bn.inputs[3]].values<float>();
    const auto var = g_.tensors[bn.inputs[4]].values<float>();
    const int64_t per_channel = w.elements() / c;
    std::vector<float> w2(w.values<float>().begin(), w.values<float>().end());
    std::vector<float> b2(static_cast<size_t>(c), 0.f);
    if (b != kNoTensor) {
      const auto bv = g_.tensors[b].values<float>();
      b2.assign(bv.begin(), bv.end());
    }
    for (int64_t o = 0; o < c; ++o) {
      const float s = scale[o] / std::sqrt(var[o] + eps);
      for (int64_t k = 0; k < per_channel; ++k) w2[o * per_channel + k] *= s;
      b2[o] = (b2[o] - mean[o]) * s + beta[o];
    }
    auto fresh = [&](const std::string& base) {
      std::string n = base;
      for (int k = 1; names_.count(n); ++k) n = fmt::format("{}_{}", base, k);
      names_.insert(n);
      return n;
    };
    Tensor wt = make_constant<float>(fresh(w.name + "/bn_folded"), DType::kF32, w.shape, std::span<const float>(w2));
    Tensor bt = make_constant<float>(fresh(conv.name + "/bias_bn_folded"), DType::kF32, {c}, std::span<const float>(b2));
    const TensorId wid = g_.add_tensor(std::move(wt));
    const TensorId bid = g_.add_tensor(std::move(bt));
    conv.inputs = {conv.inputs[0], wid, bid};
    conv.outputs[0] = bn.outputs[0];
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g_.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(g_.nodes[i]));
  g_.nodes = std::move(kept);
}

void Importer::prune() {
  // Bound inputs became constants: they are no longer inputs.
  std::erase_if(g_.inputs, [&](TensorId id) { return g_.tensors[id].constant; });
  const size_t n = g_.tensors.size();
  std::vector<char> used(n, 0);
  for (TensorId id : g_.inputs) used[id] = 1;
  for (TensorId id : g_.outputs) used[id] = 1;
  for (const Node& node : g_.nodes) {
    for (TensorId id : node.inputs)
      if (id != kNoTensor) used[id] = 1;
    for (TensorId id : node.outputs) used[id] = 1;
  }
  std::vector<TensorId> remap(n, kNoTensor);
  std::vector<Tensor> kept;
  for (size_t i = 0; i < n; ++i)
    if (used[i]) {
      remap[i] = static_cast<TensorId>(kept.size());
      kept.push_back(std::move(g_.tensors[i]));
    }
  g_.tensors = std::move(kept);
  auto fix = [&](TensorId& id) {
    if (id != kNoTensor) id = remap[id];
  };
  for (TensorId& id : g_.inputs) fix(id);
  for (TensorId& id : g_.outputs) fix(id);
  for (Node& node : g_.nodes) {
    for (TensorId& id : node.inputs) fix(id);
    for (TensorId& id : node.outputs) fix(id);
  }
}

namespace {

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    std::string item(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? std::string() : item.substr(b, e - b + 1));
    if (comma == std::string_view::npos) return out;
    pos = comma + 1;
  }
}

Result<std::vector<float>> parse_floats(const std::string& key, const std::string& text) {
  std::vector<float> out;
  for (const std::string& item : split_list(text)) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
      return make_error(ErrorCode::kInvalidArgument,
                        "metadata_props '{}' = '{}' is not a comma-separated list of finite numbers", key, text);
    out.push_back(v);
  }
  return out;
}

}  // namespace

Status Importer::fill_metadata() {
  Metadata& m = g_.meta;
  m.name = !options_.name.empty()           ? options_.name
           : !model_.graph().name().empty() ? model_.graph().name()
           : !stem_.empty()                 ? stem_
                                            : "model";
  m.version = options_.version.empty() ? "1" : options_.version;
  m.variant = "fp32";
  m.min_runtime_version = kRuntimeVersion;  // the runtime that produced the golden vector
  std::string from = model_.producer_name();
  if (!model_.producer_version().empty()) from += (from.empty() ? "" : " ") + model_.producer_version();
  m.producer = fmt::format("edgeloop-import (from {})", from.empty() ? "an unnamed producer" : from);
  m.inputs.clear();
  m.labels.clear();
  // Preprocessing and class names an exporter left in metadata_props (examples/fashion_mnist):
  // edgeloop.input.{scale,mean,std,layout} for every input, edgeloop.input.<name>.{...} for one,
  // edgeloop.labels. Each value is one number or a comma-separated list (per channel).
  std::map<std::string, std::string> props;
  for (const auto& p : model_.metadata_props())
    if (p.key().rfind("edgeloop.", 0) == 0) props[p.key()] = p.value();
  if (auto it = props.find("edgeloop.labels"); it != props.end() && !it->second.empty()) m.labels = split_list(it->second);
  for (TensorId id : g_.inputs) {
    const Tensor& t = g_.tensors[id];
    IoSpec spec;
    spec.name = t.name;
    if (t.shape.size() == 4) spec.layout = "NCHW";
    for (const std::string& prefix : {std::string("edgeloop.input."), "edgeloop.input." + t.name + "."}) {
      if (auto it = props.find(prefix + "layout"); it != props.end()) spec.layout = it->second;
      if (auto it = props.find(prefix + "scale"); it != props.end()) {
        EL_TRY(auto v, parse_floats(it->first, it->second));
        if (v.size() != 1 || v[0] == 0.f)
          return make_error(ErrorCode::kInvalidArgument, "{}: metadata_props '{}' = '{}' must be one non-zero number",
                            label_, it->first, it->second);
        spec.scale = v[0];
      }
      for (const char* field : {"mean", "std"}) {
        auto it = props.find(prefix + field);
        if (it == props.end()) continue;
        EL_TRY(auto v, parse_floats(it->first, it->second));
        const int64_t channels = t.shape.size() >= 2 ? t.shape[1] : 1;
        if (v.size() != 1 && static_cast<int64_t>(v.size()) != channels)
          return make_error(ErrorCode::kInvalidArgument,
                            "{}: metadata_props '{}' has {} values; input '{}' {} needs 1 or one per channel ({})",
                            label_, it->first, v.size(), t.name, shape_str(t.shape), channels);
        if (std::string_view(field) == "std" && std::count(v.begin(), v.end(), 0.f))
          return make_error(ErrorCode::kInvalidArgument, "{}: metadata_props '{}' contains a zero std", label_,
                            it->first);
        (std::string_view(field) == "mean" ? spec.mean : spec.std) = std::move(v);
      }
    }
    m.inputs.push_back(std::move(spec));
  }
  return ok();
}

Error Importer::refusal() const {
  size_t counts[4] = {0, 0, 0, 0};
  static constexpr std::string_view kKinds[4] = {"node", "initializer", "input", "output"};
  for (const Problem& p : problems_)
    for (size_t k = 0; k < 4; ++k)
      if (p.kind == kKinds[k]) ++counts[k];
  std::vector<std::string> parts;
  for (size_t k = 0; k < 4; ++k)
    if (counts[k]) parts.push_back(plural(counts[k], kKinds[k]));
  std::string summary;
  for (size_t k = 0; k < parts.size(); ++k)
    summary += (k == 0 ? "" : k + 1 == parts.size() ? " and " : ", ") + parts[k];
  std::string msg = fmt::format("{}: {} cannot be imported:", label_, summary);
  constexpr size_t kMaxLines = 200;
  for (size_t i = 0; i < problems_.size() && i < kMaxLines; ++i)
    msg += fmt::format("\n  {}: {}", problems_[i].what, problems_[i].reason);
  if (problems_.size() > kMaxLines) msg += fmt::format("\n  ... and {} more", problems_.size() - kMaxLines);
  if (skipped_ > 0)
    msg += fmt::format("\n  ({} that depend{} on these {} not checked)", plural(skipped_, "later node"),
                       skipped_ == 1 ? "s" : "", skipped_ == 1 ? "was" : "were");
  if (unsupported_op_seen_) {
    std::string ops;
    for (const auto& op : supported_onnx_ops()) ops += (ops.empty() ? "" : ", ") + op;
    msg += fmt::format("\n  (supported ONNX operators: {})", ops);
  }
  return Error{ErrorCode::kUnsupported, std::move(msg)};
}

}  // namespace edgeloop::model::onnx_import
