// Any bytes as a .edge artifact: loading must verify or refuse, never crash or read out of
// bounds. What loads must also prepare and pass verification again after a round trip.
#include <cstdint>
#include <cstring>
#include <vector>

#include "edgeloop/model/artifact.h"
#include "edgeloop/runtime/program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  // Copy into 64-byte aligned memory, as a file mapping would be.
  auto* buf = static_cast<std::byte*>(::operator new[](size + 1, std::align_val_t(64)));
  if (size) std::memcpy(buf, data, size);
  std::shared_ptr<const void> owner(buf, [](const void* p) { ::operator delete[](const_cast<void*>(p), std::align_val_t(64)); });
  auto program = runtime::Program::load(SharedBytes::view(owner, ByteSpan(buf, size)));
  if (program) {
    auto again = model::serialize_artifact(program->graph());
    if (!again) __builtin_trap();  // a graph that verified on load must serialize
  }
  return 0;
}
