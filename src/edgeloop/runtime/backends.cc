#include "edgeloop/runtime/backends.h"

#include <fmt/format.h>

#include "edgeloop/runtime/x86/x86_backend.h"
#include "edgeloop/runtime/xnnpack/xnnpack_backend.h"

namespace edgeloop::runtime {

// edgeloop's own x86 kernels first: W4A8 (which XNNPACK lacks) and the toolchain's W8A8 dense
// layers, bit-identical to the reference (XNNPACK's are within 1 LSB, and slower on this XNNPACK);
// then XNNPACK for FP32 and every other op it has.
std::vector<std::string> known_backends() { return {"x86", "xnnpack", "reference"}; }

std::vector<std::string> default_backends() {
  std::vector<std::string> names;
#if defined(__x86_64__)
  names.push_back("x86");  // its portable kernels run on any x86-64; the fastest ISA is picked at load
#endif
  if (xnnpack::available()) names.push_back("xnnpack");
  return names;
}

Result<std::unique_ptr<Backend>> make_backend(std::string_view name) {
  if (name == "xnnpack") {
    if (!xnnpack::available()) return make_error(ErrorCode::kUnsupported, "XNNPACK does not support this CPU");
    return xnnpack::make_backend();
  }
  if (name == "x86") {
#if defined(__x86_64__)
    return x86::make_backend();
#else
    return make_error(ErrorCode::kUnsupported, "the x86 backend needs an x86-64 CPU");
#endif
  }
  const auto known = known_backends();
  return make_error(ErrorCode::kInvalidArgument, "unknown backend '{}' (known: {})", name, fmt::join(known, ", "));
}

}  // namespace edgeloop::runtime
