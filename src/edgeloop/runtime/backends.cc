#include "edgeloop/runtime/backends.h"

#include <fmt/format.h>

#include "edgeloop/runtime/xnnpack/xnnpack_backend.h"

namespace edgeloop::runtime {

std::vector<std::string> known_backends() { return {"xnnpack", "reference"}; }

std::vector<std::string> default_backends() {
  std::vector<std::string> names;
  if (xnnpack::available()) names.push_back("xnnpack");
  return names;
}

Result<std::unique_ptr<Backend>> make_backend(std::string_view name) {
  if (name == "xnnpack") {
    if (!xnnpack::available()) return make_error(ErrorCode::kUnsupported, "XNNPACK does not support this CPU");
    return xnnpack::make_backend();
  }
  const auto known = known_backends();
  return make_error(ErrorCode::kInvalidArgument, "unknown backend '{}' (known: {})", name, fmt::join(known, ", "));
}

}  // namespace edgeloop::runtime
