#include "edgeloop/crypto/sodium_init.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace edgeloop::crypto {

void ensure_sodium() {
  // A function-local static is initialized exactly once, even with concurrent first calls.
  [[maybe_unused]] static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fputs("edgeloop: libsodium failed to initialize (no randomness source?)\n", stderr);
      std::abort();
    }
    return true;
  }();
}

}  // namespace edgeloop::crypto
