#include "edgeloop/crypto/ed25519.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/hex.h"
#include "edgeloop/crypto/sodium_init.h"

namespace edgeloop::crypto {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == 32 && crypto_sign_SECRETKEYBYTES == 64 && crypto_sign_BYTES == 64 &&
              crypto_sign_SEEDBYTES == 32);

unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }

// libsodium hashes the message with memcpy-style calls; never hand it a null pointer.
const unsigned char* message_ptr(ByteSpan message) {
  static const unsigned char kEmpty = 0;
  return message.empty() ? &kEmpty : uc(message.data());
}

KeyPair adopt(const PublicKey& pk, std::array<std::byte, 64>& sk) {
  KeyPair kp{pk, SecretKey(sk)};
  sodium_memzero(sk.data(), sk.size());
  return kp;
}

}  // namespace

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

PublicKey SecretKey::public_key() const {
  PublicKey pk;
  std::memcpy(pk.bytes.data(), bytes_.data() + 32, 32);
  return pk;
}

KeyPair generate_key_pair() {
  ensure_sodium();
  PublicKey pk;
  std::array<std::byte, 64> sk;
  crypto_sign_keypair(uc(pk.bytes.data()), uc(sk.data()));
  return adopt(pk, sk);
}

KeyPair key_pair_from_seed(ByteSpan seed32) {
  if (seed32.size() != crypto_sign_SEEDBYTES) {  // a programmer bug: the size is fixed by the caller
    std::fprintf(stderr, "edgeloop: key_pair_from_seed needs 32 bytes, got %zu\n", seed32.size());
    std::abort();
  }
  ensure_sodium();
  PublicKey pk;
  std::array<std::byte, 64> sk;
  crypto_sign_seed_keypair(uc(pk.bytes.data()), uc(sk.data()), uc(seed32.data()));
  return adopt(pk, sk);
}

Signature sign(const SecretKey& key, ByteSpan message) {
  ensure_sodium();
  Signature sig;
  crypto_sign_detached(uc(sig.data()), nullptr, message_ptr(message), message.size(), uc(key.bytes().data()));
  return sig;
}

bool verify(const PublicKey& key, ByteSpan message, const Signature& signature) {
  ensure_sodium();
  return crypto_sign_verify_detached(uc(signature.data()), message_ptr(message), message.size(), uc(key.bytes.data())) == 0;
}

std::string key_id(const PublicKey& key) { return edgeloop::to_hex(sha256(ByteSpan(key.bytes))); }

std::string to_hex(const PublicKey& key) { return edgeloop::to_hex(ByteSpan(key.bytes)); }

Result<PublicKey> public_key_from_hex(std::string_view hex) {
  EL_TRY(auto bytes, fixed_from_hex<32>(hex, "public key"));
  return PublicKey{bytes};
}

std::string to_hex(const Signature& signature) { return edgeloop::to_hex(ByteSpan(signature)); }

Result<Signature> signature_from_hex(std::string_view hex) { return fixed_from_hex<64>(hex, "signature"); }

}  // namespace edgeloop::crypto
