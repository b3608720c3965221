#include "edgeloop/base/hash.h"

#include <sodium.h>

namespace edgeloop {

Sha256 sha256(ByteSpan data) {
  Sha256 out;
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return out;
}

static_assert(sizeof(crypto_hash_sha256_state) <= 128, "Sha256Hasher::state_ is too small");

Sha256Hasher::Sha256Hasher() { crypto_hash_sha256_init(reinterpret_cast<crypto_hash_sha256_state*>(state_)); }

void Sha256Hasher::update(ByteSpan data) {
  crypto_hash_sha256_update(reinterpret_cast<crypto_hash_sha256_state*>(state_),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

Sha256 Sha256Hasher::finish() {
  Sha256 out;
  crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string to_hex(ByteSpan data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(data.size() * 2);
  for (std::byte b : data) {
    s.push_back(kDigits[static_cast<unsigned>(b) >> 4]);
    s.push_back(kDigits[static_cast<unsigned>(b) & 15]);
  }
  return s;
}

}  // namespace edgeloop
