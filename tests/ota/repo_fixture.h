// A repository built directly from ota/metadata.h for the client tests and the attack suite:
// deterministic keys per role, every role's metadata as plain values the test edits, and
// signing/writing helpers that let a test publish exactly the (hostile) files it wants under
// public/metadata and public/artifacts. Deliberately independent of ota/repository.h: an attack
// test must be able to write what no honest repository tool would.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/ed25519.h"
#include "edgeloop/ota/client.h"
#include "edgeloop/ota/metadata.h"
#include "edgeloop/ota/transport.h"
#include "testing/temp_dir.h"

namespace edgeloop::ota::fixture {

namespace fs = std::filesystem;

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kStart = 1'800'000'000;  // 2027-01-15T08:00:00Z: "now" when a test begins

class FakeClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return std::chrono::seconds(seconds); }
  int64_t unix_seconds() const override { return seconds; }
  int64_t seconds = kStart;
};

inline std::string text(ByteSpan bytes) { return std::string(as_chars(bytes)); }
inline std::vector<std::byte> bytes_of(std::string_view s) {
  auto b = as_bytes(s);
  return {b.begin(), b.end()};
}
inline std::string sha256_hex(ByteSpan bytes) { return to_hex(sha256(bytes)); }

// Keys from fixed seeds: seed n is 32 bytes of (n, n+1, ...); the same n always gives the same key.
inline crypto::KeyPair seeded_key(int n) {
  std::array<std::byte, 32> seed{};
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::byte>((n * 37 + static_cast<int>(i)) & 0xff);
  return crypto::key_pair_from_seed(seed);
}

inline const std::string kModel = "fashion-cnn";
inline const std::string kRolloutId = "0123456789abcdef0123456789abcdef";

// The files one publish() wrote.
struct Published {
  std::vector<std::byte> targets, rollout, snapshot, timestamp;
};

class Repo {
 public:
  Repo() {
    for (Role role : kAllRoles) set_role_keys(role, {new_key()}, 1);
    root.version = 1;
    root.expires = kStart + 365 * kDay;
    targets.expires = snapshot.expires = timestamp.expires = rollout.expires = kStart + 30 * kDay;
  }

  fs::path public_dir() const { return dir_.path() / "public"; }
  fs::path dir() const { return dir_.path(); }

  // --- keys ----------------------------------------------------------------------------------
  std::shared_ptr<crypto::KeyPair> new_key() { return std::make_shared<crypto::KeyPair>(seeded_key(++seed_)); }
  static std::string id(const crypto::KeyPair& key) { return crypto::key_id(key.public_key); }

  // Makes `keys` (all of them) the keys of `role` in `root` with `threshold`, and the signers
  // used for the role from now on. Keys no role uses any more leave root.keys.
  void set_role_keys(Role role, std::vector<std::shared_ptr<crypto::KeyPair>> keys, int threshold) {
    RoleKeys rk;
    rk.threshold = threshold;
    for (const auto& k : keys) {
      rk.keyids.push_back(id(*k));
      root.keys[id(*k)] = k->public_key;
    }
    root.roles[role] = rk;
    signers[role] = std::move(keys);
    std::map<std::string, crypto::PublicKey> used;
    for (const auto& [r, role_keys] : root.roles)
      for (const auto& kid : role_keys.keyids) used[kid] = root.keys.at(kid);
    root.keys = std::move(used);
  }

  // --- signing -------------------------------------------------------------------------------
  static std::vector<std::byte> sign_with(std::string_view canonical_signed,
                                          const std::vector<std::shared_ptr<crypto::KeyPair>>& keys) {
    std::vector<const crypto::KeyPair*> raw;
    for (const auto& k : keys) raw.push_back(k.get());
    return sign_file(canonical_signed, raw);
  }
  template <class Meta>
  std::vector<std::byte> sign_as(Role role, const Meta& meta) const {
    return sign_with(canonical(meta), signers.at(role));
  }

  // --- files ---------------------------------------------------------------------------------
  void write(const std::string& relative, ByteSpan bytes) const {
    const fs::path path = public_dir() / relative;
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }
  void write(const std::string& relative, std::string_view s) const { write(relative, as_bytes(s)); }
  void remove(const std::string& relative) const { fs::remove(public_dir() / relative); }
  std::vector<std::byte> read(const std::string& relative) const {
    auto r = read_file(public_dir() / relative);
    EXPECT_TRUE(r.has_value()) << relative;
    return r ? *r : std::vector<std::byte>{};
  }

  // --- roles ---------------------------------------------------------------------------------
  // Writes metadata/<root.version>.root.json signed by the current root signers plus `extra`
  // (the previous root keys, when rotating).
  std::vector<std::byte> publish_root(const std::vector<std::shared_ptr<crypto::KeyPair>>& extra = {}) {
    auto keys = signers.at(Role::kRoot);
    keys.insert(keys.end(), extra.begin(), extra.end());
    auto file = sign_with(canonical(root), keys);
    write("metadata/" + std::to_string(root.version) + ".root.json", file);
    write("metadata/root.json", file);
    return file;
  }

  // Root version + 1 with new keys for `roles` (Role::kRoot included or not), signed by the old
  // and the new root keys, written as metadata/<N+1>.root.json.
  std::vector<std::byte> rotate_root(std::vector<Role> roles = {}) {
    auto old_root_keys = signers.at(Role::kRoot);
    for (Role role : roles) set_role_keys(role, {new_key()}, 1);
    ++root.version;
    std::vector<std::shared_ptr<crypto::KeyPair>> extra;
    for (const auto& k : old_root_keys)
      if (std::find(signers[Role::kRoot].begin(), signers[Role::kRoot].end(), k) == signers[Role::kRoot].end())
        extra.push_back(k);
    return publish_root(extra);
  }

  MetaFile meta_of(ByteSpan file, int64_t version) const { return MetaFile{version, file.size(), sha256_hex(file)}; }

  // Signs and writes the current targets, rollout, snapshot (naming those two files) and
  // timestamp (naming that snapshot), in that order.
  Published publish() {
    Published p;
    p.targets = sign_as(Role::kTargets, targets);
    write("metadata/" + std::to_string(targets.version) + ".targets.json", p.targets);
    p.rollout = sign_as(Role::kRollout, rollout);
    write("metadata/" + std::to_string(rollout.version) + ".rollout.json", p.rollout);
    snapshot.targets = meta_of(p.targets, targets.version);
    snapshot.rollout = meta_of(p.rollout, rollout.version);
    p.snapshot = publish_snapshot();
    p.timestamp = publish_timestamp_for(p.snapshot);
    return p;
  }
  // Signs and writes `snapshot` as it is (its meta entries untouched).
  std::vector<std::byte> publish_snapshot() {
    auto file = sign_as(Role::kSnapshot, snapshot);
    write("metadata/" + std::to_string(snapshot.version) + ".snapshot.json", file);
    return file;
  }
  // A timestamp naming `snapshot_file` (version snapshot.version), written as timestamp.json.
  std::vector<std::byte> publish_timestamp_for(ByteSpan snapshot_file) {
    timestamp.snapshot = meta_of(snapshot_file, snapshot.version);
    auto file = sign_as(Role::kTimestamp, timestamp);
    write("metadata/timestamp.json", file);
    return file;
  }
  // Every version + 1, then publish(): the next consistent state of an honest repository.
  Published release() {
    ++targets.version;
    ++rollout.version;
    ++snapshot.version;
    ++timestamp.version;
    return publish();
  }

  // What a holder of the online keys (rollout, snapshot, timestamp) can publish: the same
  // targets, a new rollout, snapshot and timestamp.
  Published release_online() {
    ++rollout.version;
    ++snapshot.version;
    ++timestamp.version;
    return publish();
  }

  // An artifact with `content` in artifacts/<sha256>.edge, listed in targets. Returns its path.
  std::string add_artifact(const std::string& content, const std::string& model_version, const std::string& variant,
                           std::vector<std::string> tiers) {
    const std::string hash = sha256_hex(as_bytes(content));
    const std::string path = "artifacts/" + hash + ".edge";
    write(path, content);
    TargetInfo info;
    info.length = content.size();
    info.sha256 = hash;
    info.model = kModel;
    info.model_version = model_version;
    info.variant = variant;
    info.tiers = std::move(tiers);
    info.min_runtime_version = "0.1.0";
    info.golden_sha256 = sha256_hex(as_bytes("golden " + content));
    targets.targets[path] = info;
    return path;
  }

  RootMeta root;
  TargetsMeta targets;
  SnapshotMeta snapshot;
  TimestampMeta timestamp;
  RolloutMeta rollout;
  std::map<Role, std::vector<std::shared_ptr<crypto::KeyPair>>> signers;

 private:
  testing::TempDir dir_;
  int seed_ = 0;
};

// The usual world of a test: a repository with model fashion-cnn versions 1..3 for tier "mid"
// (int8) and version 3 for tier "low" (w4a8), a rollout of v3 to 10% of "mid" over baseline v2
// with floor "2", and a device provisioned with root v1 that has updated once.
class World {
 public:
  World() {
    v1 = repo.add_artifact("model v1 int8 bytes", "1", "int8", {"mid"});
    v2 = repo.add_artifact("model v2 int8 bytes, a little longer", "2", "int8", {"mid"});
    v3 = repo.add_artifact("model v3 int8 bytes, longer still ...", "3", "int8", {"mid"});
    low3 = repo.add_artifact("model v3 w4a8 bytes for low tier", "3", "w4a8", {"low"});
    ModelRollout m;
    m.floor = "2";
    m.tiers["mid"] = TierRollout{v3, v2, 1000, kRolloutId};
    repo.rollout.models[kModel] = m;
    root_v1 = repo.publish_root();
    first = repo.publish();
    transport = make_directory_transport(repo.public_dir().string());
    EXPECT_TRUE(Client::provision(data_dir(), root_v1).has_value());
    auto c = Client::open(data_dir(), clock);
    EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
    if (c) client = std::make_unique<Client>(std::move(*c));
    auto r = update();
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  }

  fs::path data_dir() const { return device_.path() / "data"; }
  Result<UpdateReport> update() { return client->update(*transport); }
  Result<UpdateReport> update(Transport& t) { return client->update(t); }
  std::map<std::string, std::string> state() const { return testing::file_tree(data_dir()); }
  // A client opened afresh from the data directory (what a reboot sees).
  Result<Client> reopen() const { return Client::open(data_dir(), clock); }

  Repo repo;
  FakeClock clock;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Client> client;
  std::vector<std::byte> root_v1;
  Published first;
  std::string v1, v2, v3, low3;

 private:
  testing::TempDir device_;
};

}  // namespace edgeloop::ota::fixture
