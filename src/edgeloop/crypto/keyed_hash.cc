#include "edgeloop/crypto/keyed_hash.h"

#include <sodium.h>

#include <cassert>

namespace edgeloop::crypto {

uint64_t keyed_hash64(ByteSpan key, ByteSpan message) {
  assert(key.size() >= crypto_generichash_KEYBYTES_MIN && key.size() <= crypto_generichash_KEYBYTES_MAX);
  unsigned char out[8];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                     reinterpret_cast<const unsigned char*>(key.data()), key.size());
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | out[i];
  return v;
}

}  // namespace edgeloop::crypto
