// The backends edgeloop knows, and which of them this CPU can use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/backend.h"

namespace edgeloop::runtime {

// Every backend name, in default priority order, "reference" last.
std::vector<std::string> known_backends();
// The backends this CPU supports (from its ISA features), in priority order, without
// "reference" (which always runs the rest).
std::vector<std::string> default_backends();
// kInvalidArgument for an unknown name, kUnsupported when this CPU cannot run it.
Result<std::unique_ptr<Backend>> make_backend(std::string_view name);

}  // namespace edgeloop::runtime
