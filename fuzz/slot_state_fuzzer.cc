// Any bytes as the device's slot state record, state.json (docs/device-storage.md): it parses
// into a record that passes validate() or is refused; what parses serializes and parses back to
// the same record. The record is the device's own file, but flash rots and a torn write is
// exactly what the store must survive, so its parser is treated as untrusted input.
#include <cstdint>

#include "edgeloop/ota/slot_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  auto state = ota::parse_state(ByteSpan(reinterpret_cast<const std::byte*>(data), size));
  if (!state) return 0;
  if (!ota::validate(*state)) __builtin_trap();
  auto again = ota::parse_state(ota::serialize_state(*state));
  if (!again || !(*again == *state)) __builtin_trap();
  return 0;
}
