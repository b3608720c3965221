#include "edgeloop/model/graph.h"

#include <algorithm>
#include <set>

namespace edgeloop::model {

void Attributes::set(std::string name, AttrValue value) {
  for (auto& [n, v] : items_)
    if (n == name) {
      v = std::move(value);
      return;
    }
  items_.emplace_back(std::move(name), std::move(value));
}

const AttrValue* Attributes::find(std::string_view name) const {
  for (const auto& [n, v] : items_)
    if (n == name) return &v;
  return nullptr;
}

namespace {
template <class T>
T get_or(const Attributes& a, std::string_view name, T fallback) {
  const AttrValue* v = a.find(name);
  if (v == nullptr) return fallback;
  if (const T* t = std::get_if<T>(v)) return *t;
  return fallback;
}
}  // namespace

int64_t Attributes::get_int(std::string_view name, int64_t fallback) const { return get_or(*this, name, fallback); }
float Attributes::get_float(std::string_view name, float fallback) const { return get_or(*this, name, fallback); }
std::string Attributes::get_string(std::string_view name, std::string fallback) const {
  return get_or(*this, name, std::move(fallback));
}
std::vector<int64_t> Attributes::get_ints(std::string_view name, std::vector<int64_t> fallback) const {
  return get_or(*this, name, std::move(fallback));
}
std::vector<float> Attributes::get_floats(std::string_view name, std::vector<float> fallback) const {
  return get_or(*this, name, std::move(fallback));
}

Tensor make_constant(std::string name, DType dtype, Shape shape, std::vector<std::byte> bytes) {
  Tensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.constant = true;
  t.data = SharedBytes::adopt(std::move(bytes));
  return t;
}

TensorData TensorData::zeros(std::string name, DType dtype, Shape shape) {
  TensorData t{std::move(name), dtype, std::move(shape), {}};
  t.bytes.resize(storage_bytes(dtype, t.elements()));
  return t;
}

std::optional<TensorId> Graph::find_tensor(std::string_view name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return static_cast<TensorId>(i);
  return std::nullopt;
}

std::vector<std::string> Graph::ops_used() const {
  std::set<std::string> names;
  for (const Node& n : nodes) names.insert(std::string(op_name(n.op)));
  return {names.begin(), names.end()};
}

size_t Graph::weight_bytes() const {
  size_t total = 0;
  for (const Tensor& t : tensors) {
    if (!t.constant) continue;
    total += t.byte_size();
    // A quantized weight's scales and zero points are part of it (stored in the graph section).
    total += t.quant.scales.size() * (t.quant.scale_dtype == DType::kF16 ? 2 : 4) + t.quant.zero_points.size() * 4;
  }
  return total;
}

}  // namespace edgeloop::model
