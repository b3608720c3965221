// Ed25519 signatures through libsodium: the keys that sign repository metadata (docs/repository.md).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"

namespace edgeloop::crypto {

struct PublicKey {
  std::array<std::byte, 32> bytes{};
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

using Signature = std::array<std::byte, 64>;

// The secret half; wiped from memory when destroyed. Move-only.
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(const std::array<std::byte, 64>& bytes) : bytes_(bytes) {}
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();
  // libsodium's 64-byte form: the 32-byte seed followed by the public key.
  const std::array<std::byte, 64>& bytes() const { return bytes_; }
  PublicKey public_key() const;

 private:
  std::array<std::byte, 64> bytes_{};
};

struct KeyPair {
  PublicKey public_key;
  SecretKey secret_key;
};

// A new key pair from the operating system's randomness.
KeyPair generate_key_pair();
// The key pair of a 32-byte seed (deterministic: for tests and test vectors).
KeyPair key_pair_from_seed(ByteSpan seed32);

Signature sign(const SecretKey& key, ByteSpan message);
// True only for a valid signature of `message` by `key` (libsodium's strict verification).
bool verify(const PublicKey& key, ByteSpan message, const Signature& signature);

// Key id: lowercase hex of SHA-256 over the 32 public key bytes.
std::string key_id(const PublicKey& key);

// Lowercase hex <-> fixed-size bytes; errors name `what` ("public key") and the expected length.
std::string to_hex(const PublicKey& key);
Result<PublicKey> public_key_from_hex(std::string_view hex);
std::string to_hex(const Signature& signature);
Result<Signature> signature_from_hex(std::string_view hex);

}  // namespace edgeloop::crypto
