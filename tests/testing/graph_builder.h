// Builds small graphs node by node for backend tests: random weights, shapes from shape inference.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/model/graph.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::testing {

using model::DType;
using model::OpType;
using model::QuantParams;
using model::Shape;
using model::TensorId;

inline QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}}; }

// Builds a graph node by node; each node's output shape comes from shape inference.
class GraphBuilder {
 public:
  explicit GraphBuilder(uint32_t seed = 7) : rng_(seed) {}
  TensorId input(DType dtype, Shape shape, QuantParams quant = {}) {
    const TensorId id = g_.add_tensor({"x" + std::to_string(g_.inputs.size()), dtype, std::move(shape), std::move(quant), false, {}});
    g_.inputs.push_back(id);
    return id;
  }
  TensorId weights_f32(Shape shape) {
    std::vector<float> v(static_cast<size_t>(model::num_elements(shape)));
    for (float& x : v) x = dist_(rng_);
    return constant(DType::kF32, std::move(shape), v.data(), v.size() * 4, {});
  }
  // Symmetric int8 weights, per channel along `axis` with scales around `scale`.
  TensorId weights_i8(Shape shape, int32_t axis, float scale) {
    const auto n = static_cast<size_t>(model::num_elements(shape));
    std::vector<int8_t> v(n);
    for (int8_t& x : v) x = static_cast<int8_t>(static_cast<int>(rng_() % 255) - 127);
    QuantParams q;
    q.axis = axis;
    for (int64_t c = 0; c < shape[static_cast<size_t>(axis)]; ++c) q.scales.push_back(scale * (0.5f + static_cast<float>(c % 7) / 7.f));
    return constant(DType::kI8, std::move(shape), v.data(), n, std::move(q));
  }
  // Symmetric int4 weights per group of `block` along each row (rows = shape[0]), f32 scales.
  TensorId weights_i4(Shape shape, int32_t block, float scale) {
    const model::GroupLayout layout = model::group_layout(shape, block);
    const auto n = static_cast<size_t>(model::num_elements(shape));
    std::vector<std::byte> bytes((n + 1) / 2);
    for (size_t i = 0; i < n; ++i) model::store_i4(bytes.data(), static_cast<int64_t>(i), static_cast<int8_t>(static_cast<int>(rng_() % 16) - 8));
    QuantParams q;
    q.axis = 0;
    q.block_axis = 1;
    q.block_size = block;
    for (int64_t i = 0; i < layout.rows * layout.groups; ++i) q.scales.push_back(scale * (0.5f + static_cast<float>(i % 5) / 5.f));
    model::Tensor t = model::make_constant("w" + std::to_string(g_.tensors.size()), DType::kI4, std::move(shape), std::move(bytes));
    t.quant = std::move(q);
    return g_.add_tensor(std::move(t));
  }
  TensorId bias_f32(int64_t n) { return weights_f32({n}); }
  TensorId bias_i32(int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int32_t& x : v) x = static_cast<int32_t>(rng_() % 2001) - 1000;
    return constant(DType::kI32, {n}, v.data(), v.size() * 4, {});
  }
  TensorId node(OpType op, std::vector<TensorId> inputs, model::Attributes a = {}, DType out = DType::kF32, QuantParams out_quant = {}) {
    const TensorId y = g_.add_tensor({"t" + std::to_string(g_.tensors.size()), out, {}, std::move(out_quant), false, {}});
    g_.nodes.push_back({op, "n" + std::to_string(g_.nodes.size()), std::move(inputs), {y}, std::move(a)});
    auto inferred = model::infer_node(g_, g_.nodes.size() - 1);
    EXPECT_TRUE(inferred) << (inferred ? "" : inferred.error().message);
    return y;
  }
  model::Graph finish(std::vector<TensorId> outputs) {
    g_.outputs = std::move(outputs);
    return std::move(g_);
  }

 private:
  TensorId constant(DType dtype, Shape shape, const void* data, size_t bytes, QuantParams q) {
    std::vector<std::byte> b(bytes);
    std::memcpy(b.data(), data, bytes);
    model::Tensor t = model::make_constant("w" + std::to_string(g_.tensors.size()), dtype, std::move(shape), std::move(b));
    t.quant = std::move(q);
    return g_.add_tensor(std::move(t));
  }
  model::Graph g_;
  std::mt19937 rng_;
  std::uniform_real_distribution<float> dist_{-0.5f, 0.5f};
};

}  // namespace edgeloop::testing
