// Any bytes as a .npy file: parse or refuse; what parses must round-trip.
#include <cstdint>

#include "edgeloop/model/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  auto t = model::parse_npy(ByteSpan(reinterpret_cast<const std::byte*>(data), size));
  if (t) {
    auto back = model::parse_npy(model::serialize_npy(*t));
    if (!back || back->bytes != t->bytes || back->shape != t->shape || back->dtype != t->dtype) __builtin_trap();
  }
  return 0;
}
