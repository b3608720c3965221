// Element types and tensor shapes of the model IR.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"

namespace edgeloop::model {

// Values are stored in .edge files: append only, never renumber.
enum class DType : uint8_t {
  kF32 = 0,
  kF16 = 1,   // storage only: kernels widen to f32
  kI8 = 2,
  kU8 = 3,
  kI32 = 4,
  kI64 = 5,   // indices and shapes
  kBool = 6,  // one byte per element
  kI4 = 7,    // packed two per byte, low nibble first, signed [-8, 7]
};
inline constexpr int kNumDTypes = 8;

std::string_view dtype_name(DType t);  // "f32", "f16", "i8", ...
std::optional<DType> parse_dtype(std::string_view name);
bool is_valid_dtype(uint8_t raw);
// Bytes of one element; 0 for kI4, which packs two elements per byte.
size_t element_size(DType t);
// Bytes to store `elements` elements of type t.
size_t storage_bytes(DType t, int64_t elements);

using Shape = std::vector<int64_t>;
// At most 2^59 elements per tensor, so that byte sizes (≤ 8 bytes each) never wrap.
inline constexpr int64_t kMaxElements = int64_t{1} << 59;
// Product of dims (1 for a scalar); -1 if any dim is negative or the product exceeds kMaxElements.
int64_t num_elements(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1,3,224,224]"

// Quantization of a tensor: real = scale * (q - zero_point).
//   per tensor:   scales.size() == 1, axis == -1
//   per channel:  scales.size() == shape[axis]
//   per group:    block_size > 0, axis == 0, block_axis == 1: the tensor is read as rows
//                 [shape[0]] x [product of the other dims] (a weight's output channels by its
//                 reduction), each row cut into groups of block_size consecutive elements (the last
//                 group may be shorter); scales laid out [shape[0]][groups_per_row]
// zero_points is empty (all zero) or has the same length as scales. scale_dtype is how the
// scales are stored: f32, or f16 (then every scale is exactly an f16 value).
struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int32_t axis = -1;
  int32_t block_axis = -1;
  int32_t block_size = 0;
  DType scale_dtype = DType::kF32;

  bool empty() const { return scales.empty(); }
  bool per_tensor() const { return scales.size() == 1 && block_size == 0; }
  bool per_group() const { return block_size > 0; }
  int32_t zero_point(size_t i) const { return zero_points.empty() ? 0 : zero_points[i]; }
  bool operator==(const QuantParams&) const = default;
};

// Per-group layout of a tensor of `shape` quantized with `block_size` (QuantParams above).
struct GroupLayout {
  int64_t rows = 0;        // shape[0]
  int64_t row_length = 0;  // product of the other dims
  int64_t groups = 0;      // per row: ceil(row_length / block_size)
  int64_t block_size = 0;
  // Scale index of flat element i.
  size_t scale_index(int64_t i) const {
    return static_cast<size_t>((i / row_length) * groups + (i % row_length) / block_size);
  }
};
GroupLayout group_layout(const Shape& shape, int32_t block_size);

// Packed int4 (DType::kI4): element i is the low nibble of byte i/2 when i is even, the high
// nibble when odd; two's complement, [-8, 7].
inline int8_t load_i4(const std::byte* data, int64_t i) {
  const auto byte = static_cast<uint8_t>(data[i / 2]);
  const int nibble = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
  return static_cast<int8_t>(nibble >= 8 ? nibble - 16 : nibble);
}
inline void store_i4(std::byte* data, int64_t i, int8_t value) {
  const auto nibble = static_cast<uint8_t>(value & 0x0F);
  auto& byte = reinterpret_cast<uint8_t&>(data[i / 2]);
  byte = (i % 2 == 0) ? static_cast<uint8_t>((byte & 0xF0) | nibble) : static_cast<uint8_t>((byte & 0x0F) | (nibble << 4));
}

// Checks that `q` fits a tensor of this dtype and shape (counts, axes, zero points in range).
Status validate_quant(const QuantParams& q, DType dtype, const Shape& shape);

}  // namespace edgeloop::model
