// Any bytes as a tensor wire message (device/tensor_wire.h): decode or refuse; what decodes must
// encode back to exactly the same bytes (the format has no slack: one encoding per message).
#include <cstdint>
#include <cstring>

#include "edgeloop/device/tensor_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  const ByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  device::TensorWireLimits limits;
  limits.max_tensor_bytes = 1 << 20;
  auto tensors = device::decode_tensors(in, limits);
  if (tensors) {
    auto back = device::encode_tensors(*tensors);
    if (!back || back->size() != size || (size > 0 && std::memcmp(back->data(), data, size) != 0)) __builtin_trap();
  }
  return 0;
}
