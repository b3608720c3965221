// Hex text <-> bytes for the crypto module's formats (key files, signatures in metadata).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"

namespace edgeloop::crypto {

// Decodes exactly out.size() bytes (2 * out.size() hex digits) into `out`, which may be a
// secret's own buffer (no copies left behind). Lowercase hex only: every key, id and signature
// has one spelling, so two files that name the same key compare equal as text. A wrong length,
// an uppercase digit or any other character is ErrorCode::kInvalidArgument naming `what` and
// the expected length or the offending position. On error `out` may hold a partial result.
Status decode_hex(std::string_view hex, std::string_view what, MutableByteSpan out);

// The same, for exactly N bytes.
template <size_t N>
Result<std::array<std::byte, N>> fixed_from_hex(std::string_view hex, std::string_view what) {
  std::array<std::byte, N> out{};
  EL_CHECK(decode_hex(hex, what, out));
  return out;
}

// Any even number of hex digits.
Result<std::vector<std::byte>> bytes_from_hex(std::string_view hex, std::string_view what);

}  // namespace edgeloop::crypto
