// Verification under fuzzing: a provisioned ota::Client updates from a repository in which one
// file is replaced by the fuzzer's bytes. The first byte picks the file (low 3 bits) and whether
// its "signed" part is re-signed with the right key and its parents (snapshot, timestamp)
// re-made to match it (bit 3), so mutations reach the semantic checks behind the signatures:
// versions, expiry, lengths, hashes, thresholds, check_rollout. The client must refuse or
// accept without crashing, and a refused update must leave its trusted files unchanged.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/ota/client.h"

namespace {

using namespace edgeloop;
using namespace edgeloop::ota;
namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kLater = kNow + 30 * 86400;

struct FixedClock final : Clock {
  std::chrono::nanoseconds now() const override { return std::chrono::seconds(kNow); }
  int64_t unix_seconds() const override { return kNow; }
};

using Files = std::map<std::string, std::vector<std::byte>>;

class MemoryTransport final : public Transport {
 public:
  explicit MemoryTransport(const Files& files) : files_(files) {}
  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return make_error(ErrorCode::kNotFound, "{}: not found", path);
    if (it->second.size() > max_bytes) return make_error(ErrorCode::kOutOfRange, "{}: over the cap", path);
    return it->second;
  }
  std::string describe() const override { return "memory"; }

 private:
  const Files& files_;
};

const crypto::KeyPair& key(Role role) {
  static const auto keys = [] {
    std::map<Role, crypto::KeyPair> k;
    for (Role r : kAllRoles) {
      std::array<std::byte, 32> seed{};
      seed[0] = std::byte(1 + static_cast<int>(r));
      k.emplace(r, crypto::key_pair_from_seed(seed));
    }
    return k;
  }();
  return keys.at(role);
}

std::vector<std::byte> sign(std::string_view canonical_signed, Role role) {
  const crypto::KeyPair* keys[] = {&key(role)};
  return sign_file(canonical_signed, keys);
}

MetaFile describe(const std::vector<std::byte>& file, int64_t version) {
  return {version, file.size(), to_hex(sha256(file))};
}

const std::vector<std::byte> kArtifact = [] {
  std::vector<std::byte> a(1000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::byte(i * 7);
  return a;
}();
const std::string kArtifactPath = "artifacts/" + to_hex(sha256(kArtifact)) + ".edge";

RootMeta root_meta() {
  RootMeta root;
  root.version = 1;
  root.expires = kLater;
  for (Role r : kAllRoles) {
    auto id = crypto::key_id(key(r).public_key);
    root.keys[id] = key(r).public_key;
    root.roles[r] = {{id}, 1};
  }
  return root;
}

// The honest repository: targets v2 and rollout v2 over a trusted v1 state. `override_role`
// (when set) replaces that role's canonical "signed" part before its parents are made.
Files repository(std::optional<Role> override_role, const std::string& override_signed) {
  Files f;
  f["metadata/1.root.json"] = sign(canonical(root_meta()), Role::kRoot);
  TargetsMeta targets;
  targets.version = 2;
  targets.expires = kLater;
  TargetInfo info;
  info.length = kArtifact.size();
  info.sha256 = to_hex(sha256(kArtifact));
  info.model = "cnn";
  info.model_version = "2";
  info.variant = "int8";
  info.tiers = {"mid"};
  info.min_runtime_version = "0.1.0";
  info.golden_sha256 = std::string(64, 'a');
  targets.targets[kArtifactPath] = info;
  RolloutMeta rollout;
  rollout.version = 2;
  rollout.expires = kLater;
  rollout.models["cnn"].floor = "1";
  rollout.models["cnn"].tiers["mid"] = TierRollout{kArtifactPath, std::nullopt, 5000, "r"};

  auto pick = [&](Role role, std::string honest) { return override_role == role ? override_signed : honest; };
  auto targets_file = sign(pick(Role::kTargets, canonical(targets)), Role::kTargets);
  auto rollout_file = sign(pick(Role::kRollout, canonical(rollout)), Role::kRollout);
  SnapshotMeta snapshot;
  snapshot.version = 2;
  snapshot.expires = kLater;
  snapshot.targets = describe(targets_file, 2);
  snapshot.rollout = describe(rollout_file, 2);
  auto snapshot_file = sign(pick(Role::kSnapshot, canonical(snapshot)), Role::kSnapshot);
  TimestampMeta timestamp;
  timestamp.version = 2;
  timestamp.expires = kLater;
  timestamp.snapshot = describe(snapshot_file, 2);
  f["metadata/2.targets.json"] = targets_file;
  f["metadata/2.rollout.json"] = rollout_file;
  f["metadata/2.snapshot.json"] = snapshot_file;
  f["metadata/timestamp.json"] = sign(pick(Role::kTimestamp, canonical(timestamp)), Role::kTimestamp);
  if (override_role == Role::kRoot) f["metadata/2.root.json"] = sign(override_signed, Role::kRoot);
  f[kArtifactPath] = kArtifact;
  return f;
}

const fs::path& data_dir() {
  static const fs::path dir = [] {
    // libFuzzer leaves through _Exit, so clean up after earlier runs whose process is gone.
    const std::string prefix = "edgeloop_client_fuzz_";
    for (auto& e : fs::directory_iterator("/dev/shm")) {
      auto name = e.path().filename().string();
      if (name.starts_with(prefix) && ::kill(std::atoi(name.c_str() + prefix.size()), 0) != 0) fs::remove_all(e.path());
    }
    fs::path d = fs::path("/dev/shm") / (prefix + std::to_string(::getpid()));
    fs::remove_all(d);
    auto root = repository(std::nullopt, {}).at("metadata/1.root.json");
    if (!Client::provision(d, root)) __builtin_trap();
    return d;
  }();
  return dir;
}

std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) {
      auto bytes = read_file(e.path());
      out[e.path().string()] = bytes ? std::string(as_chars(*bytes)) : "<unreadable>";
    }
  return out;
}

// Back to "provisioned with root v1, nothing else trusted".
void reset(const fs::path& dir, const std::vector<std::byte>& root_file) {
  for (auto& e : fs::directory_iterator(dir / "metadata")) fs::remove_all(e.path());
  if (!write_file_durable(dir / "metadata" / "root.json", root_file)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const FixedClock clock;
  const fs::path& dir = data_dir();
  static const Files honest = repository(std::nullopt, {});
  static const std::string files[] = {"metadata/timestamp.json", "metadata/2.snapshot.json", "metadata/2.targets.json",
                                      "metadata/2.rollout.json", "metadata/2.root.json",     kArtifactPath};
  static const Role roles[] = {Role::kTimestamp, Role::kSnapshot, Role::kTargets, Role::kRollout, Role::kRoot};
  const unsigned which = data[0] & 7u;
  const bool resign = data[0] & 8u;
  ByteSpan body(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  Files repo = honest;
  if (which >= 6) return 0;
  if (resign && which < 5) {
    // Re-sign whatever JSON object the fuzzer wrote as the role's "signed" part.
    auto text = as_chars(body);
    auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || j.dump().size() > 100000) return 0;
    repo = repository(roles[which], j.dump());
  } else {
    repo[files[which]] = std::vector<std::byte>(body.begin(), body.end());
  }

  reset(dir, honest.at("metadata/1.root.json"));
  auto before = tree(dir);
  auto client = Client::open(dir, clock);
  if (!client) __builtin_trap();
  MemoryTransport transport(repo);
  auto report = client->update(transport);
  if (!report) {
    // A refused update changes no trusted state (a verified new root is kept, as TUF says).
    if (which != 4 && tree(dir) != before) __builtin_trap();
    return 0;
  }
  auto reopened = Client::open(dir, clock);  // what was persisted verifies on load
  if (!reopened) __builtin_trap();
  if (client->trusted().targets)
    for (auto& [path, info] : client->trusted().targets->meta.targets) {
      auto bytes = client->fetch_target(transport, path);
      if (bytes && (bytes->size() != info.length || to_hex(sha256(*bytes)) != info.sha256)) __builtin_trap();
    }
  return 0;
}
