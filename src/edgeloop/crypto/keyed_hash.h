// Keyed BLAKE2b (libsodium's crypto_generichash): a PRF for deterministic bucketing.
#pragma once

#include <cstdint>

#include "edgeloop/base/bytes.h"

namespace edgeloop::crypto {

// The first 8 bytes of BLAKE2b-64(key, message), read little-endian. `key` is 16 to 64 bytes.
uint64_t keyed_hash64(ByteSpan key, ByteSpan message);

}  // namespace edgeloop::crypto
