// edgeloop keys generate | show
#include <sodium.h>

#include <cstdlib>
#include <string>

#include "cli.h"
#include "edgeloop/base/file.h"
#include "edgeloop/crypto/key_file.h"

namespace edgeloop::cli {
namespace {

// A passphrase file holds a line of text; anything near this size is the wrong file.
constexpr size_t kMaxPassphraseFileBytes = 4096;

// Holds a passphrase and wipes it when done.
struct Passphrase {
  std::string text;
  Passphrase() = default;
  Passphrase(const Passphrase&) = delete;
  Passphrase& operator=(const Passphrase&) = delete;
  ~Passphrase() { sodium_memzero(text.data(), text.size()); }
};

// The passphrase from --passphrase-env or --passphrase-file; empty when neither is given.
void read_passphrase(const std::string& env, const std::string& file, Passphrase& out) {
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) throw CommandError{fmt::format("--passphrase-env: the environment variable {} is not set", env)};
    out.text = value;
    if (out.text.empty()) throw CommandError{fmt::format("--passphrase-env: the environment variable {} is empty", env)};
  } else if (!file.empty()) {
    auto bytes = unwrap(read_file(file, kMaxPassphraseFileBytes), "--passphrase-file");
    out.text.assign(as_chars(bytes));
    sodium_memzero(bytes.data(), bytes.size());
    // One trailing line break is the end of the line, not part of the passphrase.
    if (out.text.ends_with('\n')) out.text.pop_back();
    if (out.text.ends_with('\r')) out.text.pop_back();
    if (out.text.empty()) throw CommandError{fmt::format("--passphrase-file: {} holds an empty passphrase", file)};
  }
}

// Comments come from files that may be hostile: no terminal control sequences on the screen.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// ------------------------------------------------------------------------- generate

struct GenerateArgs {
  std::string out, comment, passphrase_env, passphrase_file;
  bool json = false;
};

void run_generate(const GenerateArgs& a) {
  Passphrase passphrase;
  read_passphrase(a.passphrase_env, a.passphrase_file, passphrase);
  const crypto::KeyPair key = crypto::generate_key_pair();
  unwrap(crypto::write_key_file(a.out, key, passphrase.text, a.comment));
  const bool encrypted = !passphrase.text.empty();
  const std::string id = crypto::key_id(key.public_key), pub = crypto::to_hex(key.public_key);
  if (a.json) {
    print_json({{"keyid", id}, {"public", pub}, {"path", a.out}, {"encrypted", encrypted}});
    return;
  }
  fmt::print("wrote {} (mode 0600, {})\n  key id  {}\n  public  {}\n", a.out,
             encrypted ? "secret key encrypted with the passphrase" : "secret key NOT encrypted: keep the file offline",
             id, pub);
}

// ------------------------------------------------------------------------- show

struct ShowArgs {
  std::string path;
  bool json = false;
};

void run_show(const ShowArgs& a) {
  const crypto::KeyFileInfo info = unwrap(crypto::read_key_file_info(a.path));
  const std::string pub = crypto::to_hex(info.public_key);
  if (a.json) {
    print_json({{"path", a.path}, {"keyid", info.key_id}, {"public", pub}, {"encrypted", info.encrypted}, {"comment", info.comment}});
    return;
  }
  fmt::print("{}\n  key id     {}\n  public     {}\n  encrypted  {}\n", a.path, info.key_id, pub,
             info.encrypted ? "yes (Argon2id passphrase)" : "no (the secret key is in clear: keep the file offline)");
  if (!info.comment.empty()) fmt::print("  comment    {}\n", printable(info.comment));
}

}  // namespace

void add_keys_commands(CLI::App& app) {
  auto* keys = app.add_subcommand("keys",
                                  "Create and inspect Ed25519 signing key files (docs/keys.md). Root and targets keys "
                                  "belong on an offline machine");
  keys->require_subcommand(1);

  auto ga = std::make_shared<GenerateArgs>();
  auto* gen = keys->add_subcommand(
      "generate",
      "Create a new Ed25519 key pair and write it to a key file (mode 0600; an existing file is never overwritten). "
      "Prints the key id (SHA-256 of the public key) and the public key");
  gen->add_option("output", ga->out, "the key file to create, e.g. root-1.key")->required();
  gen->add_option("--comment", ga->comment, "free text stored in the file, e.g. \"root key 1 of example-repo\"");
  auto* env = gen->add_option("--passphrase-env", ga->passphrase_env,
                              "encrypt the secret key with the passphrase in this environment variable "
                              "(Argon2id + XSalsa20-Poly1305)");
  auto* file = gen->add_option("--passphrase-file", ga->passphrase_file,
                               "encrypt the secret key with the passphrase in this file (one trailing newline is ignored)");
  env->excludes(file);
  file->excludes(env);
  gen->add_flag("--json", ga->json, "print {keyid, public, path, encrypted} as JSON");
  gen->footer("Without a passphrase the secret key is stored in clear: keep such a file on an offline machine.");
  gen->callback([ga] { run_generate(*ga); });

  auto sa = std::make_shared<ShowArgs>();
  auto* show = keys->add_subcommand(
      "show", "Check a key file and show its key id, public key, whether it is encrypted, and its comment. Never "
              "prints the secret key; needs no passphrase");
  show->add_option("file", sa->path, "key file")->required();
  show->add_flag("--json", sa->json, "print {path, keyid, public, encrypted, comment} as JSON");
  show->callback([sa] { run_show(*sa); });
}

}  // namespace edgeloop::cli
