#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "edgeloop/base/bytes.h"

namespace edgeloop {

using Sha256 = std::array<std::byte, 32>;

// SHA-256 (OpenSSL's libcrypto: the CPU's SHA instructions where there are any).
Sha256 sha256(ByteSpan data);

// SHA-256 over data that arrives in pieces (a file written as a stream).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void update(ByteSpan data);
  Sha256 finish();  // once; the hasher is spent afterwards

 private:
  void* state_;  // EVP_MD_CTX (libcrypto)
};
std::string to_hex(ByteSpan data);
inline std::string to_hex(const Sha256& h) { return to_hex(ByteSpan(h)); }
// Lowercase hex SHA-256 of `data`: how repository metadata names a file's hash.
inline std::string sha256_hex(ByteSpan data) { return to_hex(sha256(data)); }

}  // namespace edgeloop
