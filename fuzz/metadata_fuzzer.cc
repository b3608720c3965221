// Any bytes as repository metadata (docs/repository.md): each role's parser parses or refuses;
// what parses re-signs and re-parses to the same canonical bytes; signature checks against a
// fixed root and the rollout checks never crash.
#include <array>
#include <cstdint>

#include "edgeloop/ota/metadata.h"

namespace {

using namespace edgeloop;

const crypto::KeyPair& key() {
  static const crypto::KeyPair k = [] {
    std::array<std::byte, 32> seed{};
    return crypto::key_pair_from_seed(seed);
  }();
  return k;
}

const ota::RootMeta& fixed_root() {
  static const ota::RootMeta root = [] {
    ota::RootMeta r;
    auto id = crypto::key_id(key().public_key);
    r.keys[id] = key().public_key;
    for (ota::Role role : ota::kAllRoles) r.roles[role] = {{id}, 1};
    return r;
  }();
  return root;
}

template <class Meta>
void round_trip(const Result<ota::Signed<Meta>>& parsed, ota::Role role, Result<ota::Signed<Meta>> (*parse)(ByteSpan)) {
  if (!parsed) return;
  (void)ota::verify_threshold(fixed_root(), role, parsed->canonical, parsed->signatures);
  const crypto::KeyPair* keys[] = {&key()};
  auto file = ota::sign_file(parsed->canonical, keys);
  auto again = parse(file);
  if (!again || again->canonical != parsed->canonical) __builtin_trap();
  if (!ota::verify_threshold(fixed_root(), role, again->canonical, again->signatures)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  auto root = ota::parse_root(bytes);
  round_trip(root, ota::Role::kRoot, ota::parse_root);
  auto targets = ota::parse_targets(bytes);
  round_trip(targets, ota::Role::kTargets, ota::parse_targets);
  round_trip(ota::parse_snapshot(bytes), ota::Role::kSnapshot, ota::parse_snapshot);
  round_trip(ota::parse_timestamp(bytes), ota::Role::kTimestamp, ota::parse_timestamp);
  auto rollout = ota::parse_rollout(bytes);
  round_trip(rollout, ota::Role::kRollout, ota::parse_rollout);
  if (rollout) {
    static const ota::TargetsMeta empty;
    (void)ota::check_rollout(rollout->meta, empty, &rollout->meta);
  }
  return 0;
}
