#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "edgeloop/base/bytes.h"

namespace edgeloop {

using Sha256 = std::array<std::byte, 32>;

Sha256 sha256(ByteSpan data);

// SHA-256 over data that arrives in pieces (a file written as a stream).
class Sha256Hasher {
 public:
  Sha256Hasher();
  void update(ByteSpan data);
  Sha256 finish();  // once; the hasher is spent afterwards

 private:
  alignas(16) unsigned char state_[128];  // crypto_hash_sha256_state (104 bytes in libsodium)
};
std::string to_hex(ByteSpan data);
inline std::string to_hex(const Sha256& h) { return to_hex(ByteSpan(h)); }
// Lowercase hex SHA-256 of `data`: how repository metadata names a file's hash.
inline std::string sha256_hex(ByteSpan data) { return to_hex(sha256(data)); }

}  // namespace edgeloop
