// libsodium must be initialized once before use (it picks implementations, seeds its RNG).
#pragma once

namespace edgeloop::crypto {

// Calls sodium_init() once per process, thread-safely. Aborts if libsodium cannot start (no
// randomness source): nothing in this module can be used safely then.
void ensure_sodium();

}  // namespace edgeloop::crypto
