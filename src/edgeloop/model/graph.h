// The model IR: tensors, nodes in execution order, and metadata. Built by the importer and the
// compression tools, written to and read from .edge artifacts, executed by the runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/dtype.h"
#include "edgeloop/model/ops.h"

namespace edgeloop::model {

using TensorId = int32_t;
inline constexpr TensorId kNoTensor = -1;  // an absent optional input

struct Tensor {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  QuantParams quant;
  bool constant = false;  // weights: `data` holds storage_bytes() bytes
  SharedBytes data;

  int64_t elements() const { return num_elements(shape); }
  size_t byte_size() const { return storage_bytes(dtype, elements()); }
  template <class T>
  std::span<const T> values() const { return data.as<T>(); }
};

// A constant tensor (a weight) owning `bytes`, which must be storage_bytes(dtype, shape) long.
Tensor make_constant(std::string name, DType dtype, Shape shape, std::vector<std::byte> bytes);

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;

class Attributes {
 public:
  void set(std::string name, AttrValue value);
  bool has(std::string_view name) const { return find(name) != nullptr; }
  const AttrValue* find(std::string_view name) const;

  // Typed reads with defaults. A present attribute of the wrong type reads as the default;
  // shape inference validates types before kernels run.
  int64_t get_int(std::string_view name, int64_t fallback = 0) const;
  float get_float(std::string_view name, float fallback = 0.f) const;
  std::string get_string(std::string_view name, std::string fallback = {}) const;
  std::vector<int64_t> get_ints(std::string_view name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(std::string_view name, std::vector<float> fallback = {}) const;

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  bool operator==(const Attributes&) const = default;

 private:
  std::vector<std::pair<std::string, AttrValue>> items_;
};

struct Node {
  OpType op{};
  std::string name;
  std::vector<TensorId> inputs;  // kNoTensor for an absent optional input
  std::vector<TensorId> outputs;
  Attributes attrs;
};

// An owned tensor value: model inputs and outputs, golden vectors, .npy files.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<std::byte> bytes;

  int64_t elements() const { return num_elements(shape); }
  template <class T>
  std::span<const T> values() const {
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
  template <class T>
  std::span<T> values() {
    return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
  static TensorData zeros(std::string name, DType dtype, Shape shape);
};

// What a model input expects and how raw data is brought to it: x = (raw * scale - mean) / std,
// per channel when mean/std have more than one value.
struct IoSpec {
  std::string name;
  std::string layout;  // "NCHW", "NC", ... empty when unknown
  float scale = 1.f;
  std::vector<float> mean;
  std::vector<float> std;
};

// The smoke test: running `inputs` must give `outputs` within |a-b| <= atol + rtol*|b|.
struct GoldenVector {
  std::vector<TensorData> inputs;
  std::vector<TensorData> outputs;
  float rtol = 1e-4f;
  float atol = 1e-5f;
};

struct Metadata {
  std::string name;
  std::string version;  // model version, e.g. "3" or "2024.06.1"
  std::string variant;  // "fp32", "int8", "w4a8", ...
  std::string producer;
  std::vector<IoSpec> inputs;
  std::vector<std::string> labels;
  std::vector<std::string> required_ops;  // filled when written
  std::string min_runtime_version;
  std::optional<GoldenVector> golden;
  std::vector<std::pair<std::string, std::string>> properties;  // free-form, e.g. a quantization plan
};

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;  // in execution order: every input is produced before use
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  Metadata meta;

  TensorId add_tensor(Tensor t) {
    tensors.push_back(std::move(t));
    return static_cast<TensorId>(tensors.size() - 1);
  }
  std::optional<TensorId> find_tensor(std::string_view name) const;
  // Sorted, unique op names used by the nodes.
  std::vector<std::string> ops_used() const;
  // Bytes of the constant tensors' data plus their quantization scales and zero points.
  size_t weight_bytes() const;
};

}  // namespace edgeloop::model
