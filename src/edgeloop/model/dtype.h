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
//   per group:    block_size > 0: groups of block_size consecutive elements along block_axis,
//                 scales laid out [shape[axis]][shape[block_axis] / block_size]
// zero_points is empty (all zero) or has the same length as scales.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int32_t axis = -1;
  int32_t block_axis = -1;
  int32_t block_size = 0;

  bool empty() const { return scales.empty(); }
  bool per_tensor() const { return scales.size() == 1 && block_size == 0; }
  int32_t zero_point(size_t i) const { return zero_points.empty() ? 0 : zero_points[i]; }
  bool operator==(const QuantParams&) const = default;
};

// Checks that `q` fits a tensor of this dtype and shape (counts, axes, zero points in range).
Status validate_quant(const QuantParams& q, DType dtype, const Shape& shape);

}  // namespace edgeloop::model
