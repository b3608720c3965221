#include "edgeloop/runtime/backends.h"

#include <fmt/format.h>

#include "edgeloop/runtime/x86/x86_backend.h"
#include "edgeloop/runtime/xnnpack/xnnpack_backend.h"

namespace edgeloop::runtime {

// XNNPACK first (FP32 and W8A8), then edgeloop's own int4 kernels (W4A8, which XNNPACK lacks).
std::vector<std::string> known_backends() { return {"xnnpack", "x86", "reference"}; }

std::vector<std::string> default_backends() {
  std::vector<std::string> names;
  if (xnnpack::available()) names.push_back("xnnpack");
#if defined(__x86_64__)
  names.push_back("x86");  // its portable kernels run on any x86-64; the fastest ISA is picked at load
#endif
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
