#include "edgeloop/crypto/key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgeloop/base/hash.h"

namespace edgeloop::crypto {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("edgeloop_key_file_test_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path path(std::string_view name) const { return dir_ / name; }
  static std::string text_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path write_text(std::string_view name, std::string_view text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  // A copy of `from` with its JSON changed by `edit`.
  template <class Edit>
  fs::path edited(const fs::path& from, std::string_view name, Edit edit) const {
    Json j = Json::parse(text_of(from));
    edit(j);
    return write_text(name, j.dump(2));
  }
  static std::string hex_of(const SecretKey& k) { return edgeloop::to_hex(ByteSpan(k.bytes())); }

  fs::path dir_;
};

// The error of a failed Result, checked for its code and a piece of its message.
template <class T>
void expect_error(const Result<T>& r, ErrorCode code, std::string_view needle) {
  ASSERT_FALSE(r.has_value()) << "expected an error containing: " << needle;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(KeyFile, PlainRoundTripIsMode0600AndDocumentedFormat) {
  KeyPair kp = generate_key_pair();
  const auto p = path("root.key");
  ASSERT_TRUE(write_key_file(p, kp, "", "root key 1 of example-repo").has_value());
  EXPECT_EQ(mode_of(p), 0600u);

  Json j = Json::parse(text_of(p));
  EXPECT_EQ(j["type"], "edgeloop-key");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["algorithm"], "ed25519");
  EXPECT_EQ(j["keyid"], key_id(kp.public_key));
  EXPECT_EQ(j["public"], to_hex(kp.public_key));
  EXPECT_EQ(j["comment"], "root key 1 of example-repo");
  EXPECT_EQ(j["secret"], hex_of(kp.secret_key));
  EXPECT_FALSE(j.contains("encrypted"));

  auto info = read_key_file_info(p);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->key_id, key_id(kp.public_key));
  EXPECT_EQ(info->public_key, kp.public_key);
  EXPECT_FALSE(info->encrypted);
  EXPECT_EQ(info->comment, "root key 1 of example-repo");

  auto back = read_key_file(p);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->public_key, kp.public_key);
  EXPECT_EQ(back->secret_key.bytes(), kp.secret_key.bytes());
  // A passphrase given for an unencrypted file is not needed and does no harm.
  EXPECT_TRUE(read_key_file(p, "unused").has_value());
}

TEST_F(KeyFile, EncryptedRoundTripNeedsTheRightPassphrase) {
  KeyPair kp = generate_key_pair();
  const auto p = path("targets.key");
  ASSERT_TRUE(write_key_file(p, kp, "correct horse battery staple", "targets").has_value());
  EXPECT_EQ(mode_of(p), 0600u);

  const std::string text = text_of(p);
  EXPECT_EQ(text.find(hex_of(kp.secret_key).substr(0, 64)), std::string::npos) << "the seed is in the file in clear";
  Json j = Json::parse(text);
  EXPECT_FALSE(j.contains("secret"));
  ASSERT_TRUE(j.contains("encrypted"));
  const Json& e = j["encrypted"];
  EXPECT_EQ(e["kdf"], "argon2id13");
  EXPECT_EQ(e["opslimit"], 2);         // crypto_pwhash_OPSLIMIT_INTERACTIVE
  EXPECT_EQ(e["memlimit"], 67108864);  // crypto_pwhash_MEMLIMIT_INTERACTIVE
  EXPECT_EQ(e["salt"].get<std::string>().size(), 32u);
  EXPECT_EQ(e["nonce"].get<std::string>().size(), 48u);
  EXPECT_EQ(e["ciphertext"].get<std::string>().size(), 160u);  // 64 secret bytes + 16 MAC bytes

  auto info = read_key_file_info(p);  // no passphrase needed for the public part
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->public_key, kp.public_key);
  EXPECT_EQ(info->comment, "targets");

  expect_error(read_key_file(p), ErrorCode::kInvalidArgument, "is encrypted: a passphrase is needed");
  expect_error(read_key_file(p, "correct horse battery stapler"), ErrorCode::kInvalidArgument,
               "wrong passphrase for key file " + p.string());
  auto back = read_key_file(p, "correct horse battery staple");
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->public_key, kp.public_key);
  EXPECT_EQ(back->secret_key.bytes(), kp.secret_key.bytes());

  // Same key, same passphrase: a fresh salt and nonce each time.
  ASSERT_TRUE(write_key_file(path("again.key"), kp, "correct horse battery staple").has_value());
  Json again = Json::parse(text_of(path("again.key")));
  EXPECT_NE(again["encrypted"]["salt"], e["salt"]);
  EXPECT_NE(again["encrypted"]["nonce"], e["nonce"]);
}

TEST_F(KeyFile, AnExistingFileIsNeverOverwritten) {
  KeyPair kp = generate_key_pair();
  const auto p = write_text("precious.key", "an older key");
  expect_error(write_key_file(p, kp), ErrorCode::kFailedPrecondition, "already exists");
  EXPECT_EQ(text_of(p), "an older key");
  ASSERT_TRUE(write_key_file(path("k.key"), kp).has_value());
  expect_error(write_key_file(path("k.key"), generate_key_pair(), "pass"), ErrorCode::kFailedPrecondition, "already exists");
  EXPECT_EQ(read_key_file(path("k.key"))->public_key, kp.public_key);
  // Not through a dangling symlink either.
  fs::create_symlink(path("nowhere"), path("link.key"));
  expect_error(write_key_file(path("link.key"), kp), ErrorCode::kFailedPrecondition, "already exists");
  EXPECT_FALSE(fs::exists(path("nowhere")));
  // A refused or failed write leaves no temporary files.
  EXPECT_FALSE(write_key_file(dir_ / "no-such-dir" / "k.key", kp).has_value());
  int files = 0;
  for ([[maybe_unused]] auto& f : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 3);
}

TEST_F(KeyFile, AKeyPairThatDoesNotMatchIsNotWritten) {
  KeyPair a = generate_key_pair();
  KeyPair b = generate_key_pair();
  KeyPair mixed{b.public_key, std::move(a.secret_key)};
  expect_error(write_key_file(path("mixed.key"), mixed), ErrorCode::kInvalidArgument, "does not belong to the public key");
  EXPECT_FALSE(fs::exists(path("mixed.key")));
}

TEST_F(KeyFile, TamperedCiphertextSaltOrNonceFailsLikeAWrongPassphrase) {
  KeyPair kp = generate_key_pair();
  const auto p = path("enc.key");
  ASSERT_TRUE(write_key_file(p, kp, "pw").has_value());
  for (const char* field : {"ciphertext", "salt", "nonce"}) {
    auto bad = edited(p, std::string(field) + ".key", [&](Json& j) {
      std::string& s = j["encrypted"][field].get_ref<std::string&>();
      s[5] = s[5] == '0' ? '1' : '0';
    });
    auto info = read_key_file_info(bad);  // nothing to see without the passphrase
    EXPECT_TRUE(info.has_value()) << field;
    expect_error(read_key_file(bad, "pw"), ErrorCode::kInvalidArgument, "wrong passphrase for key file");
  }
}

TEST_F(KeyFile, KeyIdPublicKeyAndSecretMustAgree) {
  KeyPair kp = generate_key_pair();
  KeyPair other = generate_key_pair();
  const auto plain = path("plain.key");
  const auto enc = path("enc.key");
  ASSERT_TRUE(write_key_file(plain, kp).has_value());
  ASSERT_TRUE(write_key_file(enc, kp, "pw").has_value());

  auto wrong_id = edited(plain, "id.key", [&](Json& j) { j["keyid"] = key_id(other.public_key); });
  expect_error(read_key_file_info(wrong_id), ErrorCode::kCorrupt, "\"keyid\"");
  expect_error(read_key_file(wrong_id), ErrorCode::kCorrupt, "is not the id of the public key");

  // Another public key with its own, consistent id: the secret gives it away.
  auto swap = [&](Json& j) {
    j["public"] = to_hex(other.public_key);
    j["keyid"] = key_id(other.public_key);
  };
  auto swapped_plain = edited(plain, "swapped_plain.key", swap);
  expect_error(read_key_file_info(swapped_plain), ErrorCode::kCorrupt, "does not belong to the public key");
  auto swapped_enc = edited(enc, "swapped_enc.key", swap);
  EXPECT_TRUE(read_key_file_info(swapped_enc).has_value());  // cannot tell without decrypting
  expect_error(read_key_file(swapped_enc, "pw"), ErrorCode::kCorrupt, "does not belong to the public key");

  // The secret's public half edited to match, its seed still the old key's.
  auto half = edited(swapped_plain, "half.key", [&](Json& j) {
    std::string s = j["secret"];
    j["secret"] = s.substr(0, 64) + to_hex(other.public_key);
  });
  expect_error(read_key_file(half), ErrorCode::kCorrupt, "does not belong to the public key");
}

TEST_F(KeyFile, EveryTruncationIsRefused) {
  KeyPair kp = generate_key_pair();
  const auto plain = path("plain.key");
  const auto enc = path("enc.key");
  ASSERT_TRUE(write_key_file(plain, kp, "", "c").has_value());
  ASSERT_TRUE(write_key_file(enc, kp, "pw", "c").has_value());
  for (const auto& p : {plain, enc}) {
    const std::string text = text_of(p);
    // The trailing newline and the whitespace before the closing brace are optional.
    const size_t last = text.rfind('}');
    for (size_t n = 0; n < last; ++n) {
      // A new name each time: rewriting one file through O_TRUNC makes ext4 flush it on close.
      auto cut = write_text(fmt::format("cut_{}_{}.key", p.stem().string(), n), text.substr(0, n));
      auto info = read_key_file_info(cut);
      EXPECT_FALSE(info.has_value()) << p << " cut to " << n << " bytes";
      auto key = read_key_file(cut, "pw");
      EXPECT_FALSE(key.has_value()) << p << " cut to " << n << " bytes";
      if (!key) {
        EXPECT_NE(key.error().message.find(cut.string()), std::string::npos) << key.error().message;
      }
    }
  }
}

TEST_F(KeyFile, GarbageAndMalformedFilesAreClearErrors) {
  KeyPair kp = generate_key_pair();
  const auto good = path("good.key");
  ASSERT_TRUE(write_key_file(good, kp).has_value());

  expect_error(read_key_file_info(path("missing.key")), ErrorCode::kIo, "missing.key");
  expect_error(read_key_file_info(write_text("empty.key", "")), ErrorCode::kCorrupt, "not an edgeloop key file (not JSON)");
  expect_error(read_key_file_info(write_text("garbage.key", "\x01\x02garbage\xff")), ErrorCode::kCorrupt, "not JSON");
  expect_error(read_key_file_info(write_text("array.key", "[1, 2]")), ErrorCode::kCorrupt, "not a JSON object");
  expect_error(read_key_file_info(write_text("empty_object.key", "{}")), ErrorCode::kCorrupt, "\"type\" is missing");
  expect_error(read_key_file_info(write_text("deep.key", std::string(30000, '[') + std::string(30000, ']'))),
               ErrorCode::kCorrupt, "not a JSON object");
  expect_error(read_key_file_info(fs::path(dir_)), ErrorCode::kInvalidArgument, "not a regular file");

  struct Case {
    const char* name;
    std::function<void(Json&)> edit;
    ErrorCode code;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"type", [](Json& j) { j["type"] = "ssh-key"; }, ErrorCode::kCorrupt, "\"type\" is \"ssh-key\""},
      {"version2", [](Json& j) { j["version"] = 2; }, ErrorCode::kUnsupported, "version 2 is not supported"},
      {"version_string", [](Json& j) { j["version"] = "1"; }, ErrorCode::kCorrupt, "\"version\" must be a whole number"},
      {"version_negative", [](Json& j) { j["version"] = -1; }, ErrorCode::kCorrupt, "\"version\" must be a whole number"},
      {"algorithm", [](Json& j) { j["algorithm"] = "rsa"; }, ErrorCode::kUnsupported, "algorithm \"rsa\" is not supported"},
      {"no_public", [](Json& j) { j.erase("public"); }, ErrorCode::kCorrupt, "\"public\" is missing"},
      {"public_number", [](Json& j) { j["public"] = 5; }, ErrorCode::kCorrupt, "\"public\" must be a string"},
      {"public_short", [](Json& j) { j["public"] = j["public"].get<std::string>().substr(2); }, ErrorCode::kInvalidArgument,
       "public key must be 64 hex digits"},
      {"public_upper", [](Json& j) { j["public"] = "A" + j["public"].get<std::string>().substr(1); },
       ErrorCode::kInvalidArgument, "uppercase hex digit"},
      {"comment_number", [](Json& j) { j["comment"] = 3; }, ErrorCode::kCorrupt, "\"comment\" must be a string"},
      {"no_secret", [](Json& j) { j.erase("secret"); }, ErrorCode::kCorrupt, "exactly one of \"secret\" and \"encrypted\""},
      {"both", [](Json& j) { j["encrypted"] = Json::object(); }, ErrorCode::kCorrupt, "exactly one of"},
      {"secret_short", [](Json& j) { j["secret"] = j["secret"].get<std::string>().substr(0, 64); },
       ErrorCode::kInvalidArgument, "\"secret\" must be 128 hex digits"},
      {"secret_not_hex", [](Json& j) { j["secret"] = std::string(127, '0') + "z"; }, ErrorCode::kInvalidArgument,
       "'z' at position 127 is not a hex digit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = edited(good, std::string(c.name) + ".key", c.edit);
    expect_error(read_key_file_info(p), c.code, c.needle);
    expect_error(read_key_file(p), c.code, c.needle);
    // Every message says which file.
    EXPECT_NE(read_key_file(p).error().message.find(p.string()), std::string::npos);
  }
  // Unknown members are ignored (documented in docs/keys.md).
  auto extra = edited(good, "extra.key", [](Json& j) { j["created"] = "2026-11-22"; });
  EXPECT_TRUE(read_key_file(extra).has_value());
}

TEST_F(KeyFile, HugeFilesAreRefusedBeforeParsing) {
  KeyPair kp = generate_key_pair();
  ASSERT_TRUE(write_key_file(path("good.key"), kp).has_value());
  // A valid key file padded with whitespace past 64 KiB.
  auto huge = write_text("huge.key", text_of(path("good.key")) + std::string(64 * 1024, ' '));
  expect_error(read_key_file_info(huge), ErrorCode::kOutOfRange, "more than the limit of 65536");
  expect_error(read_key_file(huge), ErrorCode::kOutOfRange, "huge.key");
}

TEST_F(KeyFile, HostileKdfCostsAreRefusedWithoutDoingTheWork) {
  KeyPair kp = generate_key_pair();
  const auto enc = path("enc.key");
  ASSERT_TRUE(write_key_file(enc, kp, "pw").has_value());
  struct Case {
    const char* name;
    const char* field;
    Json value;
    ErrorCode code;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"mem_1TiB", "memlimit", Json(uint64_t{1} << 40), ErrorCode::kOutOfRange, "\"memlimit\" is 1099511627776, outside"},
      {"mem_512MiB", "memlimit", Json(uint64_t{512} << 20), ErrorCode::kOutOfRange, "outside the accepted 8192..268435456"},
      {"mem_max", "memlimit", Json(UINT64_MAX), ErrorCode::kOutOfRange, "\"memlimit\""},
      {"mem_tiny", "memlimit", Json(1024), ErrorCode::kOutOfRange, "\"memlimit\" is 1024"},
      {"mem_float", "memlimit", Json(6.7e7), ErrorCode::kCorrupt, "\"memlimit\" must be a whole number"},
      {"mem_negative", "memlimit", Json(-1), ErrorCode::kCorrupt, "\"memlimit\" must be a whole number"},
      {"mem_string", "memlimit", Json("67108864"), ErrorCode::kCorrupt, "\"memlimit\" must be a whole number"},
      {"ops_huge", "opslimit", Json(4294967295u), ErrorCode::kOutOfRange, "\"opslimit\" is 4294967295, outside the accepted 1..16"},
      {"ops_zero", "opslimit", Json(0), ErrorCode::kOutOfRange, "\"opslimit\" is 0"},
      {"kdf", "kdf", Json("scrypt"), ErrorCode::kUnsupported, "key derivation \"scrypt\" is not supported"},
      {"salt_short", "salt", Json("00"), ErrorCode::kInvalidArgument, "\"salt\" must be 32 hex digits"},
      {"nonce_long", "nonce", Json(std::string(50, '0')), ErrorCode::kInvalidArgument, "\"nonce\" must be 48 hex digits"},
      {"ciphertext_short", "ciphertext", Json(std::string(128, '0')), ErrorCode::kInvalidArgument,
       "\"ciphertext\" must be 160 hex digits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = edited(enc, std::string(c.name) + ".key", [&](Json& j) { j["encrypted"][c.field] = c.value; });
    const auto start = std::chrono::steady_clock::now();
    expect_error(read_key_file_info(p), c.code, c.needle);
    expect_error(read_key_file(p, "pw"), c.code, c.needle);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "refused only after deriving a key";
  }
  auto missing = edited(enc, "missing.key", [](Json& j) { j["encrypted"].erase("salt"); });
  expect_error(read_key_file(missing, "pw"), ErrorCode::kCorrupt, "\"salt\" is missing");
  auto not_object = edited(enc, "not_object.key", [](Json& j) { j["encrypted"] = "yes"; });
  expect_error(read_key_file_info(not_object), ErrorCode::kCorrupt, "\"encrypted\" must be an object");
  // Costs inside the caps are honoured: a file written with other (cheaper) costs still opens.
  // (The ciphertext depends on the costs, so changing them in place is a wrong passphrase.)
  auto cheaper = edited(enc, "cheaper.key", [](Json& j) { j["encrypted"]["opslimit"] = 1; });
  expect_error(read_key_file(cheaper, "pw"), ErrorCode::kInvalidArgument, "wrong passphrase");
}

}  // namespace
}  // namespace edgeloop::crypto
