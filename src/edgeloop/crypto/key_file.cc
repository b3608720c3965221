#include "edgeloop/crypto/key_file.h"

#include <sodium.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/hex.h"
#include "edgeloop/crypto/sodium_init.h"

namespace edgeloop::crypto {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr std::string_view kType = "edgeloop-key";
constexpr uint64_t kVersion = 1;
constexpr std::string_view kAlgorithm = "ed25519";
constexpr std::string_view kKdf = "argon2id13";

// A key file is a few hundred bytes; anything near this is not one.
constexpr size_t kMaxFileBytes = 64 * 1024;
// Argon2id costs read from a file are capped so a hostile file cannot make us allocate or
// compute without bound. We write libsodium's "interactive" costs (2 passes, 64 MiB); the caps
// leave room for its "moderate" ones (3, 256 MiB) and a little more work, not for gigabytes.
constexpr uint64_t kMaxOpslimit = 16;
constexpr uint64_t kMaxMemlimit = uint64_t{256} << 20;

constexpr size_t kSaltBytes = crypto_pwhash_SALTBYTES;
constexpr size_t kNonceBytes = crypto_secretbox_NONCEBYTES;
constexpr size_t kCiphertextBytes = crypto_secretbox_MACBYTES + 64;
static_assert(crypto_secretbox_KEYBYTES == 32);

unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }

void wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }
template <class Container>
void wipe(Container& c) {
  sodium_memzero(c.data(), c.size() * sizeof(c[0]));
}

// Wipes a buffer when the scope ends, whichever way it ends.
template <class Container>
struct Wipe {
  Container& c;
  ~Wipe() { wipe(c); }
};
template <class Container>
Wipe(Container&) -> Wipe<Container>;

// True when `secret` is the libsodium key pair of its own seed and its public half is `pk`.
bool belongs_to(const std::array<std::byte, 64>& secret, const PublicKey& pk) {
  std::array<std::byte, 32> derived_pk;
  std::array<std::byte, 64> derived_sk;
  Wipe w{derived_sk};
  crypto_sign_seed_keypair(uc(derived_pk.data()), uc(derived_sk.data()), uc(secret.data()));
  return sodium_memcmp(derived_sk.data(), secret.data(), 64) == 0 && derived_pk == pk.bytes;
}

struct KdfParams {
  uint64_t opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  uint64_t memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  std::array<std::byte, kSaltBytes> salt{};
};

// The secretbox key of `passphrase`.
Result<std::array<std::byte, crypto_secretbox_KEYBYTES>> derive_key(const std::string& passphrase, const KdfParams& kdf) {
  std::array<std::byte, crypto_secretbox_KEYBYTES> key;
  if (crypto_pwhash(uc(key.data()), key.size(), passphrase.data(), passphrase.size(), uc(kdf.salt.data()), kdf.opslimit,
                    static_cast<size_t>(kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(ErrorCode::kIo, "Argon2id key derivation failed: not enough memory for {} MiB", kdf.memlimit >> 20);
  return key;
}

struct Encrypted {
  KdfParams kdf;
  std::array<std::byte, kNonceBytes> nonce{};
  std::array<std::byte, kCiphertextBytes> ciphertext{};
};

// Everything a key file says, checked as far as it can be without a passphrase.
struct Parsed {
  KeyFileInfo info;
  std::optional<SecretKey> secret;     // unencrypted files
  std::optional<Encrypted> encrypted;  // encrypted files
};

Result<std::string_view> string_member(const Json& j, std::string_view name) {
  auto it = j.find(name);
  if (it == j.end()) return make_error(ErrorCode::kCorrupt, "\"{}\" is missing", name);
  if (!it->is_string()) return make_error(ErrorCode::kCorrupt, "\"{}\" must be a string", name);
  return std::string_view(it->get_ref<const std::string&>());
}

Result<uint64_t> bounded_member(const Json& j, std::string_view name, uint64_t min, uint64_t max) {
  auto it = j.find(name);
  if (it == j.end()) return make_error(ErrorCode::kCorrupt, "\"{}\" is missing", name);
  if (!it->is_number_unsigned()) return make_error(ErrorCode::kCorrupt, "\"{}\" must be a whole number", name);
  const uint64_t v = it->get<uint64_t>();
  if (v < min || v > max)
    return make_error(ErrorCode::kOutOfRange, "\"{}\" is {}, outside the accepted {}..{}", name, v, min, max);
  return v;
}

template <size_t N>
Status hex_member(const Json& j, std::string_view name, std::array<std::byte, N>& out) {
  EL_TRY(auto hex, string_member(j, name));
  return decode_hex(hex, fmt::format("\"{}\"", name), out);
}

Result<Encrypted> parse_encrypted(const Json& e) {
  if (!e.is_object()) return make_error(ErrorCode::kCorrupt, "\"encrypted\" must be an object");
  EL_TRY(auto kdf, string_member(e, "kdf"));
  if (kdf != kKdf)
    return make_error(ErrorCode::kUnsupported, "key derivation \"{}\" is not supported (only \"{}\")", kdf, kKdf);
  Encrypted out;
  EL_TRY(out.kdf.opslimit, bounded_member(e, "opslimit", crypto_pwhash_argon2id_OPSLIMIT_MIN, kMaxOpslimit));
  EL_TRY(out.kdf.memlimit, bounded_member(e, "memlimit", crypto_pwhash_argon2id_MEMLIMIT_MIN, kMaxMemlimit));
  EL_CHECK(hex_member(e, "salt", out.kdf.salt));
  EL_CHECK(hex_member(e, "nonce", out.nonce));
  EL_CHECK(hex_member(e, "ciphertext", out.ciphertext));
  return out;
}

Result<Parsed> parse(const Json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, "not a JSON object");
  EL_TRY(auto type, string_member(j, "type"));
  if (type != kType) return make_error(ErrorCode::kCorrupt, "\"type\" is \"{}\", not \"{}\"", type, kType);
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_unsigned())
    return make_error(ErrorCode::kCorrupt, "\"version\" must be a whole number");
  if (version->get<uint64_t>() != kVersion)
    return make_error(ErrorCode::kUnsupported, "version {} is not supported (this edgeloop reads version {})",
                      version->get<uint64_t>(), kVersion);
  EL_TRY(auto algorithm, string_member(j, "algorithm"));
  if (algorithm != kAlgorithm)
    return make_error(ErrorCode::kUnsupported, "algorithm \"{}\" is not supported (only \"{}\")", algorithm, kAlgorithm);

  Parsed p;
  EL_TRY(auto public_hex, string_member(j, "public"));
  EL_TRY(p.info.public_key, public_key_from_hex(public_hex));
  EL_TRY(auto keyid, string_member(j, "keyid"));
  p.info.key_id = key_id(p.info.public_key);
  if (keyid != p.info.key_id)
    return make_error(ErrorCode::kCorrupt, "\"keyid\" {} is not the id of the public key (SHA-256 of it is {})", keyid,
                      p.info.key_id);
  if (j.contains("comment")) {
    EL_TRY(auto comment, string_member(j, "comment"));
    p.info.comment = comment;
  }

  const bool has_secret = j.contains("secret"), has_encrypted = j.contains("encrypted");
  if (has_secret == has_encrypted)
    return make_error(ErrorCode::kCorrupt, "a key file holds exactly one of \"secret\" and \"encrypted\"");
  if (has_encrypted) {
    p.info.encrypted = true;
    EL_TRY(p.encrypted, parse_encrypted(j["encrypted"]));
    return p;
  }
  std::array<std::byte, 64> secret;
  Wipe w{secret};
  EL_TRY(auto secret_hex, string_member(j, "secret"));
  if (auto s = decode_hex(secret_hex, "\"secret\"", secret); !s) return std::unexpected(s.error());
  if (!belongs_to(secret, p.info.public_key))
    return make_error(ErrorCode::kCorrupt, "the secret key does not belong to the public key in the file");
  p.secret.emplace(secret);
  return p;
}

Result<Parsed> read_and_parse(const fs::path& path) {
  ensure_sodium();
  EL_TRY(auto bytes, read_file(path, kMaxFileBytes));
  Wipe wb{bytes};
  Json j = Json::parse(bytes.begin(), bytes.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  // The DOM holds the secret's hex in unencrypted files: wipe it whatever parse() decides.
  struct WipeSecret {
    Json& j;
    ~WipeSecret() {
      if (!j.is_object()) return;
      auto it = j.find("secret");
      if (it != j.end() && it->is_string()) wipe(it->get_ref<std::string&>());
    }
  } ws{j};
  const std::string where = fmt::format("key file {}", path.string());
  if (j.is_discarded()) return make_error(ErrorCode::kCorrupt, "{}: not an edgeloop key file (not JSON)", where);
  auto parsed = parse(j);
  if (!parsed) return std::unexpected(std::move(parsed).error().context(where));
  return parsed;
}

}  // namespace

Status write_key_file(const fs::path& path, const KeyPair& key, const std::string& passphrase, const std::string& comment) {
  ensure_sodium();
  if (!belongs_to(key.secret_key.bytes(), key.public_key))
    return make_error(ErrorCode::kInvalidArgument, "writing key file {}: the secret key does not belong to the public key",
                      path.string());
  // Checked here too so the refusal comes before the (slow) key derivation; the write itself
  // refuses atomically if the file appears meanwhile.
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec)
    return make_error(ErrorCode::kFailedPrecondition,
                      "{} already exists; a key file is never overwritten (move it away or choose another name)",
                      path.string());

  Json j{{"type", kType},
         {"version", kVersion},
         {"algorithm", kAlgorithm},
         {"keyid", key_id(key.public_key)},
         {"public", to_hex(key.public_key)},
         {"comment", comment}};
  if (passphrase.empty()) {
    j["secret"] = edgeloop::to_hex(ByteSpan(key.secret_key.bytes()));
  } else {
    Encrypted e;
    randombytes_buf(e.kdf.salt.data(), e.kdf.salt.size());
    randombytes_buf(e.nonce.data(), e.nonce.size());
    EL_TRY(auto box_key, derive_key(passphrase, e.kdf));
    Wipe wk{box_key};
    crypto_secretbox_easy(uc(e.ciphertext.data()), uc(key.secret_key.bytes().data()), key.secret_key.bytes().size(),
                          uc(e.nonce.data()), uc(box_key.data()));
    j["encrypted"] = {{"kdf", kKdf},
                      {"opslimit", e.kdf.opslimit},
                      {"memlimit", e.kdf.memlimit},
                      {"salt", edgeloop::to_hex(ByteSpan(e.kdf.salt))},
                      {"nonce", edgeloop::to_hex(ByteSpan(e.nonce))},
                      {"ciphertext", edgeloop::to_hex(ByteSpan(e.ciphertext))}};
  }
  std::string text = j.dump(2) + "\n";
  Wipe wt{text};
  if (auto it = j.find("secret"); it != j.end()) wipe(it->get_ref<std::string&>());
  if (auto s = write_file_durable(path, as_bytes(text), 0600, IfExists::kFail); !s)
    return std::unexpected(std::move(s).error().context(fmt::format("writing key file {}", path.string())));
  return ok();
}

Result<KeyFileInfo> read_key_file_info(const fs::path& path) {
  EL_TRY(auto parsed, read_and_parse(path));
  return std::move(parsed.info);
}

Result<KeyPair> read_key_file(const fs::path& path, const std::string& passphrase) {
  EL_TRY(auto parsed, read_and_parse(path));
  if (parsed.secret) return KeyPair{parsed.info.public_key, std::move(*parsed.secret)};
  if (passphrase.empty())
    return make_error(ErrorCode::kInvalidArgument, "key file {} is encrypted: a passphrase is needed to read its secret key",
                      path.string());
  const Encrypted& e = *parsed.encrypted;
  EL_TRY(auto box_key, derive_key(passphrase, e.kdf));
  Wipe wk{box_key};
  std::array<std::byte, 64> secret;
  Wipe ws{secret};
  if (crypto_secretbox_open_easy(uc(secret.data()), uc(e.ciphertext.data()), e.ciphertext.size(), uc(e.nonce.data()),
                                 uc(box_key.data())) != 0)
    return make_error(ErrorCode::kInvalidArgument, "wrong passphrase for key file {} (or its ciphertext was altered)",
                      path.string());
  if (!belongs_to(secret, parsed.info.public_key))
    return make_error(ErrorCode::kCorrupt, "key file {}: the secret key does not belong to the public key in the file",
                      path.string());
  return KeyPair{parsed.info.public_key, SecretKey(secret)};
}

}  // namespace edgeloop::crypto
