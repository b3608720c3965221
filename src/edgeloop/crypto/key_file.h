// Key files: one Ed25519 key pair per JSON file, written 0600, optionally encrypted with a
// passphrase (Argon2id -> XSalsa20-Poly1305 secretbox). The format is in docs/keys.md.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "edgeloop/base/error.h"
#include "edgeloop/crypto/ed25519.h"

namespace edgeloop::crypto {

struct KeyFileInfo {
  std::string key_id;
  PublicKey public_key;
  bool encrypted = false;
  std::string comment;  // free text, e.g. "root key 1 of example-repo"
};

// Writes `key` durably with mode 0600; refuses to overwrite an existing file. A non-empty
// passphrase encrypts the secret half.
Status write_key_file(const std::filesystem::path& path, const KeyPair& key, const std::string& passphrase = {},
                      const std::string& comment = {});

// Reads the public part only; no passphrase needed.
Result<KeyFileInfo> read_key_file_info(const std::filesystem::path& path);

// Reads the key pair. An encrypted file without a passphrase, or a wrong passphrase, is an
// error that says so; the public key in the file must match the secret one.
Result<KeyPair> read_key_file(const std::filesystem::path& path, const std::string& passphrase = {});

}  // namespace edgeloop::crypto
