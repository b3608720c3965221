// Small graphs shared by tests.
#pragma once

#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "edgeloop/model/graph.h"

namespace edgeloop::testing {

// Attributes from a brace list: attrs({{"axis", int64_t{1}}, {"mode", "constant"}}).
inline model::Attributes attrs(std::initializer_list<std::pair<std::string, model::AttrValue>> items) {
  model::Attributes a;
  for (const auto& [name, value] : items) a.set(name, value);
  return a;
}

struct TensorSpec {
  model::DType dtype = model::DType::kF32;
  model::Shape shape;
  model::QuantParams quant = {};
};

// A graph with one node 'n' reading fresh tensors in0, in1, ... and writing fresh outputs out0,
// out1, ... whose dtype and shape are left for shape inference; each output carries out_quant.
inline model::Graph one_node_graph(model::OpType op, const std::vector<TensorSpec>& inputs, model::Attributes attributes,
                                   size_t outputs = 1, const model::QuantParams& out_quant = {}) {
  model::Graph g;
  model::Node n{op, "n", {}, {}, std::move(attributes)};
  for (size_t i = 0; i < inputs.size(); ++i)
    n.inputs.push_back(g.add_tensor({"in" + std::to_string(i), inputs[i].dtype, inputs[i].shape, inputs[i].quant, false, {}}));
  for (size_t i = 0; i < outputs; ++i)
    n.outputs.push_back(g.add_tensor({"out" + std::to_string(i), model::DType::kF32, {}, out_quant, false, {}}));
  g.nodes.push_back(std::move(n));
  return g;
}

inline model::Tensor constant_f32(std::string name, model::Shape shape, const std::vector<float>& values) {
  model::Tensor t{std::move(name), model::DType::kF32, std::move(shape), {}, true, {}};
  std::vector<std::byte> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  t.data = SharedBytes::adopt(std::move(bytes));
  return t;
}

inline model::TensorData tensor_f32(std::string name, model::Shape shape, const std::vector<float>& values) {
  model::TensorData t{std::move(name), model::DType::kF32, std::move(shape), {}};
  t.bytes.resize(values.size() * sizeof(float));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// x[1,4] → MatMul(W[4,3]) → Add(b[3]) → Relu → y[1,3], shapes filled in, with metadata.
inline model::Graph tiny_mlp() {
  using model::DType;
  model::Graph g;
  auto x = g.add_tensor({"x", DType::kF32, {1, 4}, {}, false, {}});
  auto w = g.add_tensor(constant_f32("w", {4, 3}, {1, 0, -1, 2, 1, 0, 0, 3, 1, -1, 0, 2}));
  auto b = g.add_tensor(constant_f32("b", {3}, {0.5f, -0.5f, 0.25f}));
  auto h = g.add_tensor({"h", DType::kF32, {1, 3}, {}, false, {}});
  auto hb = g.add_tensor({"hb", DType::kF32, {1, 3}, {}, false, {}});
  auto y = g.add_tensor({"y", DType::kF32, {1, 3}, {}, false, {}});
  g.nodes.push_back({model::OpType::kMatMul, "mm", {x, w}, {h}, {}});
  g.nodes.push_back({model::OpType::kAdd, "add", {h, b}, {hb}, {}});
  g.nodes.push_back({model::OpType::kRelu, "relu", {hb}, {y}, {}});
  g.inputs = {x};
  g.outputs = {y};
  g.meta.name = "tiny";
  g.meta.version = "3";
  g.meta.variant = "fp32";
  g.meta.producer = "test";
  g.meta.labels = {"a", "b", "c"};
  g.meta.inputs.push_back({"x", "NC", 0.5f, {0.1f}, {2.f}});
  g.meta.properties.emplace_back("plan", "all fp32");
  return g;
}

// The tiny MLP's output for input v, computed by hand-written loops.
inline std::vector<float> tiny_mlp_expected(const std::vector<float>& v) {
  const float w[4][3] = {{1, 0, -1}, {2, 1, 0}, {0, 3, 1}, {-1, 0, 2}};
  const float b[3] = {0.5f, -0.5f, 0.25f};
  std::vector<float> y(3);
  for (int j = 0; j < 3; ++j) {
    float acc = b[j];
    for (int i = 0; i < 4; ++i) acc += v[i] * w[i][j];
    y[j] = acc > 0 ? acc : 0;
  }
  return y;
}

}  // namespace edgeloop::testing
