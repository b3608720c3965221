#pragma once

#include <array>
#include <string>

#include "edgeloop/base/bytes.h"

namespace edgeloop {

using Sha256 = std::array<std::byte, 32>;

Sha256 sha256(ByteSpan data);
std::string to_hex(ByteSpan data);
inline std::string to_hex(const Sha256& h) { return to_hex(ByteSpan(h)); }

}  // namespace edgeloop
