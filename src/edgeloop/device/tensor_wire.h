// The tensor wire format (docs/split-inference.md, "Wire format"): how a cut tensor travels to a
// stage server and how the model's outputs come back. Little-endian, versioned, decoded strictly:
// every field is checked against the bytes that remain and against caps before anything is
// allocated, and nothing may follow the last tensor.
//
//   message := "ELTW" version:u8(=1) flags:u8(=0) count:u16  tensor*count
//   tensor  := name_len:u16 name[name_len] dtype:u8 rank:u8 dims:i64[rank] data_len:u64 data[data_len]
//
// dtype is model::DType's value; data_len must equal storage_bytes(dtype, product of dims).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::device {

inline constexpr char kTensorWireMagic[4] = {'E', 'L', 'T', 'W'};
inline constexpr uint8_t kTensorWireVersion = 1;
inline constexpr const char* kTensorWireContentType = "application/x-edgeloop-tensors";
inline constexpr size_t kTensorWireHeaderBytes = 8;

// Caps on what a decoder accepts (the sender is untrusted).
struct TensorWireLimits {
  size_t max_tensors = 64;
  size_t max_name_bytes = 256;
  size_t max_rank = 8;
  uint64_t max_tensor_bytes = uint64_t{256} << 20;  // per tensor's data
};

// Fails (kInvalidArgument) for a tensor whose bytes do not match its dtype and shape, a name
// longer than 65535 bytes, a rank above 255 or more than 65535 tensors.
Result<std::vector<std::byte>> encode_tensors(std::span<const model::TensorData> tensors);
// kCorrupt for anything but a well-formed message within `limits`; the message says which field.
Result<std::vector<model::TensorData>> decode_tensors(ByteSpan bytes, const TensorWireLimits& limits = {});

}  // namespace edgeloop::device
