// Any bytes as an .npz archive: parse or refuse, within small limits; what parses is a list of
// arrays with distinct names, each of which round-trips through .npy.
#include <cstdint>
#include <set>
#include <string>

#include "edgeloop/model/npy.h"
#include "edgeloop/model/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  model::NpzLimits limits;  // small, so that a deflate bomb costs little time
  limits.max_member_bytes = limits.max_total_bytes = 16 << 20;
  auto arrays = model::parse_npz(ByteSpan(reinterpret_cast<const std::byte*>(data), size), limits);
  if (!arrays) return 0;
  std::set<std::string> names;
  for (const model::TensorData& t : *arrays) {
    if (t.name.empty() || !names.insert(t.name).second) __builtin_trap();
    auto back = model::parse_npy(model::serialize_npy(t));
    if (!back || back->bytes != t.bytes || back->shape != t.shape || back->dtype != t.dtype) __builtin_trap();
  }
  return 0;
}
