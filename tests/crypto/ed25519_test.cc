#include "edgeloop/crypto/ed25519.h"

#include <gtest/gtest.h>

#include <string>

#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/hex.h"

namespace edgeloop::crypto {
namespace {

std::vector<std::byte> hex_bytes(std::string_view hex) { return bytes_from_hex(hex, "test vector").value(); }

// RFC 8032, section 7.1, TEST 1: the empty message.
constexpr std::string_view kRfcSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kRfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kRfcSignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

TEST(Ed25519, Rfc8032TestVector1) {
  auto seed = hex_bytes(kRfcSeed);
  KeyPair kp = key_pair_from_seed(seed);
  EXPECT_EQ(to_hex(kp.public_key), kRfcPublic);
  EXPECT_EQ(kp.secret_key.public_key(), kp.public_key);
  // libsodium's 64-byte secret form: the seed, then the public key.
  EXPECT_EQ(edgeloop::to_hex(ByteSpan(kp.secret_key.bytes())), std::string(kRfcSeed) + std::string(kRfcPublic));
  const Signature sig = sign(kp.secret_key, {});
  EXPECT_EQ(to_hex(sig), kRfcSignature);
  EXPECT_TRUE(verify(public_key_from_hex(kRfcPublic).value(), {}, signature_from_hex(kRfcSignature).value()));
}

TEST(Ed25519, SignVerifyRoundTripAndEveryTamperingFails) {
  KeyPair kp = generate_key_pair();
  KeyPair other = generate_key_pair();
  EXPECT_NE(kp.public_key, other.public_key);
  EXPECT_EQ(kp.secret_key.public_key(), kp.public_key);
  const std::string message = "targets.json version 7";
  const Signature sig = sign(kp.secret_key, as_bytes(message));
  EXPECT_TRUE(verify(kp.public_key, as_bytes(message), sig));

  std::string tampered = message;
  tampered.back() = '8';
  EXPECT_FALSE(verify(kp.public_key, as_bytes(tampered), sig));
  EXPECT_FALSE(verify(kp.public_key, as_bytes(message + " "), sig));
  EXPECT_FALSE(verify(kp.public_key, {}, sig));
  for (size_t i = 0; i < sig.size(); i += 7) {
    Signature bad = sig;
    bad[i] ^= std::byte{0x01};
    EXPECT_FALSE(verify(kp.public_key, as_bytes(message), bad)) << "flipped bit in signature byte " << i;
  }
  EXPECT_FALSE(verify(other.public_key, as_bytes(message), sig));
  EXPECT_FALSE(verify(PublicKey{}, as_bytes(message), sig));  // the all-zero (small-order) key
  EXPECT_FALSE(verify(kp.public_key, as_bytes(message), Signature{}));
}

TEST(Ed25519, SeedsAreDeterministicAndDistinct) {
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte{1};
  KeyPair a = key_pair_from_seed(seed);
  KeyPair b = key_pair_from_seed(seed);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_EQ(a.secret_key.bytes(), b.secret_key.bytes());
  // Ed25519 signatures are deterministic too.
  EXPECT_EQ(sign(a.secret_key, as_bytes("m")), sign(b.secret_key, as_bytes("m")));
  seed[0] = std::byte{2};
  EXPECT_NE(key_pair_from_seed(seed).public_key, a.public_key);
}

TEST(Ed25519, KeyIdIsSha256OfThePublicKeyInLowercaseHex) {
  KeyPair kp = key_pair_from_seed(hex_bytes(kRfcSeed));
  const std::string id = key_id(kp.public_key);
  EXPECT_EQ(id, edgeloop::to_hex(sha256(ByteSpan(kp.public_key.bytes))));
  EXPECT_EQ(id, edgeloop::to_hex(sha256(hex_bytes(kRfcPublic))));
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Ed25519, SecretKeyMovesLeaveTheSourceWiped) {
  KeyPair kp = generate_key_pair();
  const auto bytes = kp.secret_key.bytes();
  SecretKey moved(std::move(kp.secret_key));
  EXPECT_EQ(moved.bytes(), bytes);
  EXPECT_EQ(kp.secret_key.bytes(), (std::array<std::byte, 64>{}));  // NOLINT(bugprone-use-after-move): the point
  SecretKey assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.bytes(), bytes);
  EXPECT_EQ(moved.bytes(), (std::array<std::byte, 64>{}));  // NOLINT(bugprone-use-after-move)
}

TEST(Ed25519, HexRoundTripsAndBadHexIsAClearError) {
  KeyPair kp = generate_key_pair();
  EXPECT_EQ(public_key_from_hex(to_hex(kp.public_key)).value(), kp.public_key);
  const Signature sig = sign(kp.secret_key, as_bytes("x"));
  EXPECT_EQ(signature_from_hex(to_hex(sig)).value(), sig);

  auto error_of = [](auto r) {
    EXPECT_FALSE(r.has_value());
    if (r.has_value()) return Error{};
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    return r.error();
  };
  const std::string pk = std::string(kRfcPublic);
  auto short_key = error_of(public_key_from_hex(pk.substr(2)));
  EXPECT_NE(short_key.message.find("public key must be 64 hex digits (32 bytes), got 62"), std::string::npos) << short_key.message;
  auto long_key = error_of(public_key_from_hex(pk + "00"));
  EXPECT_NE(long_key.message.find("got 66"), std::string::npos) << long_key.message;
  auto odd = error_of(public_key_from_hex(pk.substr(1)));
  EXPECT_NE(odd.message.find("64 hex digits"), std::string::npos) << odd.message;
  EXPECT_FALSE(public_key_from_hex("").has_value());

  std::string bad = pk;
  bad[10] = 'g';
  auto not_hex = error_of(public_key_from_hex(bad));
  EXPECT_NE(not_hex.message.find("'g' at position 10 is not a hex digit"), std::string::npos) << not_hex.message;
  bad[10] = '\n';
  auto control = error_of(public_key_from_hex(bad));
  EXPECT_NE(control.message.find("byte 0x0a at position 10"), std::string::npos) << control.message;
  // Uppercase is refused on purpose: one spelling per key (docs/keys.md).
  std::string upper = pk;
  upper[0] = 'D';
  auto up = error_of(public_key_from_hex(upper));
  EXPECT_NE(up.message.find("uppercase hex digit 'D' at position 0"), std::string::npos) << up.message;

  auto sig_short = error_of(signature_from_hex(std::string(kRfcSignature).substr(0, 64)));
  EXPECT_NE(sig_short.message.find("signature must be 128 hex digits (64 bytes), got 64"), std::string::npos)
      << sig_short.message;
  auto odd_bytes = error_of(bytes_from_hex("abc", "salt"));
  EXPECT_NE(odd_bytes.message.find("salt must have an even number of hex digits"), std::string::npos) << odd_bytes.message;
  EXPECT_EQ(bytes_from_hex("", "empty").value().size(), 0u);
  EXPECT_EQ(bytes_from_hex("00ff7a", "x").value(), (std::vector<std::byte>{std::byte{0}, std::byte{0xff}, std::byte{0x7a}}));
}

}  // namespace
}  // namespace edgeloop::crypto
