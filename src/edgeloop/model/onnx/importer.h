// The ONNX importer's internals: the per-model state (Importer) and the per-node view the op
// converters work with (NodeContext). Converters live in convert_*.cc and are looked up by ONNX
// op type; each turns one ONNX node into canonical IR nodes, constants or aliases.
#pragma once

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/model/onnx/tensor.h"
#include "edgeloop/model/onnx_import.h"

namespace edgeloop::model::onnx_import {

inline constexpr int kMinOpset = 6;
inline constexpr int kMaxOpset = 17;

class Importer;

// One output of an emitted IR node.
struct OutputSpec {
  std::string name;  // empty: a fresh internal name
  DType dtype = DType::kF32;
  QuantParams quant;
  int onnx_index = -1;  // the ONNX output this IR output is, or -1 for an internal tensor
};

class NodeContext {
 public:
  NodeContext(Importer& importer, const ::onnx::NodeProto& proto, std::string name, std::vector<TensorId> inputs);

  const ::onnx::NodeProto& proto() const { return proto_; }
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return proto_.op_type(); }
  int opset() const;
  const Tensor& tensor(TensorId id) const;
  const Shape& shape(TensorId id) const { return tensor(id).shape; }

  // Attributes: absent → the fallback; present with another type → an error.
  const ::onnx::AttributeProto* attr(std::string_view name) const;
  bool has_attr(std::string_view name) const { return attr(name) != nullptr; }
  Result<int64_t> attr_int(std::string_view name, int64_t fallback) const;
  Result<float> attr_float(std::string_view name, float fallback) const;
  Result<std::string> attr_string(std::string_view name, std::string fallback = {}) const;
  Result<std::vector<int64_t>> attr_ints(std::string_view name, std::vector<int64_t> fallback = {}) const;
  Result<std::vector<float>> attr_floats(std::string_view name, std::vector<float> fallback = {}) const;
  // Refuses the node when an attribute is present with a value other than `harmless`.
  Status expect_attr_int(std::string_view name, int64_t harmless, std::string_view why) const;

  // Inputs (already resolved to tensors; kNoTensor where an optional input is absent).
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != kNoTensor; }
  Result<TensorId> input(size_t i) const;  // required
  TensorId optional_input(size_t i) const { return has_input(i) ? inputs_[i] : kNoTensor; }
  // A parameter input that must be known at import: a constant, or a graph input the caller
  // allowed binding (ImportOptions::bindable_inputs). `what` is the ONNX input name ("shape").
  Result<const Tensor*> constant_input(size_t i, std::string_view what);
  Result<std::vector<int64_t>> constant_ints(size_t i, std::string_view what);
  Result<std::vector<float>> constant_floats(size_t i, std::string_view what);

  // Outputs.
  size_t num_outputs() const { return static_cast<size_t>(proto_.output_size()); }
  bool has_output(size_t i) const { return i < num_outputs() && !proto_.output(static_cast<int>(i)).empty(); }
  // The name of ONNX output i; empty when absent.
  const std::string& output_name(size_t i) const;
  // Refuses the node when any output from `first` on is requested (e.g. MaxPool's Indices).
  Status expect_no_outputs_from(size_t first, std::string_view why) const;

  // Appends one IR node and infers its output shapes. Outputs with onnx_index >= 0 become the
  // values of those ONNX outputs. The default `outputs` maps IR output k to ONNX output k.
  Result<std::vector<TensorId>> emit(OpType op, std::vector<TensorId> inputs, Attributes attrs,
                                     std::vector<OutputSpec> outputs = {});
  // Like emit, but when every input is a constant and the op is shape/integer arithmetic or data
  // movement, evaluates it and binds the ONNX outputs to new constants instead.
  Status emit_or_fold(OpType op, std::vector<TensorId> inputs, Attributes attrs, size_t num_outputs = 1);
  // ONNX output i is the existing tensor `id` (Identity, Dropout, a no-op Cast).
  void alias_output(size_t i, TensorId id);
  // ONNX output i is a new constant (t.name is replaced by the output name).
  void constant_output(size_t i, Tensor t);
  // Attaches quantization parameters to a tensor; refuses when it already has different ones.
  Status set_quant(TensorId id, QuantParams q);
  // A tensor name not used anywhere in the model.
  std::string fresh_name(std::string_view base);
  // Adds a constant under a fresh name.
  TensorId add_constant(Tensor t);

  bool outputs_bound() const;

 private:
  Importer& imp_;
  const ::onnx::NodeProto& proto_;
  std::string name_;
  std::vector<TensorId> inputs_;
  int emitted_ = 0;
};

using Converter = std::function<Status(NodeContext&)>;
// The converter for an ONNX op type of the default domain, or nullptr.
const Converter* find_converter(std::string_view op_type);
// Sorted ONNX op types the importer handles.
std::vector<std::string> supported_onnx_ops();

struct Problem {
  std::string kind;  // "node", "initializer", "input", "output"
  std::string what;  // "node 'conv1' (Conv)", "initializer 'w'", "input 'x'"
  std::string reason;
};

class Importer {
 public:
  Importer(const ::onnx::ModelProto& model, const ImportOptions& options, std::string label, std::string stem);
  Result<Graph> run();

 private:
  friend class NodeContext;

  Status setup_inputs();
  void import_node(int index);
  // Resolves an ONNX value name; nullopt when it depends on something refused (already reported).
  Result<std::optional<TensorId>> resolve(const std::string& name);
  void poison_outputs(const ::onnx::NodeProto& node);
  void add_problem(std::string kind, std::string what, std::string reason) {
    problems_.push_back({std::move(kind), std::move(what), std::move(reason)});
  }
  Status finish_outputs();
  // Constant(double) and Cast(double constant): handled before the converters, as the IR has no
  // f64 tensors. Returns true when the node was handled (or refused).
  bool import_double_constant(const ::onnx::NodeProto& np, const std::string& what);
  // Sets `q` on `id` and on every tensor a quantized value reaches through data-movement ops
  // (docs/ops.md: their outputs carry their input's per-tensor parameters).
  Status propagate_quant(TensorId id, const QuantParams& q);
  void fold_batch_norms();
  void prune();
  Status fill_metadata();
  Error refusal() const;
  std::string unique_node_name(std::string base);

  const ::onnx::ModelProto& model_;
  const ImportOptions& options_;
  std::string label_;
  std::string stem_;
  int opset_ = 0;
  Graph g_;
  std::unordered_map<std::string, TensorId> values_;
  std::unordered_map<std::string, const ::onnx::TensorProto*> initializers_;
  std::unordered_set<std::string> sparse_initializers_;
  std::unordered_set<std::string> poisoned_;
  // Double constants (Constant nodes, initializers) that only a Cast may read (tensor.h).
  std::unordered_map<std::string, DoubleValues> doubles_;
  std::unordered_map<std::string, const TensorData*> bindable_;
  std::unordered_set<std::string> names_;       // every tensor name in the model or generated
  std::unordered_set<std::string> node_names_;  // IR node names
  std::unordered_set<std::string> output_names_;
  std::unordered_map<TensorId, std::string> producer_;  // tensor → ONNX node that computes it
  std::vector<std::pair<TensorId, QuantParams>> quant_journal_;  // undo log for a refused node
  // IR node indices producing / reading each tensor (entries past a rolled-back node are stale:
  // check the node before use).
  std::unordered_map<TensorId, size_t> ir_producer_;
  std::unordered_map<TensorId, std::vector<size_t>> ir_consumers_;
  std::vector<Problem> problems_;
  size_t skipped_ = 0;  // nodes not checked because they depend on refused ones
  bool unsupported_op_seen_ = false;
};

}  // namespace edgeloop::model::onnx_import
