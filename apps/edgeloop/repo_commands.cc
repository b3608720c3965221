// edgeloop repo init | add | rollout | pin | floor | publish | rotate-root | status
// (docs/repository.md, "Repository tool"). Parsing and printing only: ota/repository.h does the work.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include "cli.h"
#include "edgeloop/ota/metadata.h"
#include "edgeloop/ota/repository.h"

namespace edgeloop::cli {
namespace {

namespace fs = std::filesystem;
using ota::Repository;
using ota::Role;

// Flags every repo command shares.
struct RepoFlags {
  std::string dir, keys, passphrase_env;
  bool json = false;

  ota::RepositoryOptions options() const {
    ota::RepositoryOptions o;
    o.keys_dir = keys;
    if (!passphrase_env.empty()) {
      const char* value = std::getenv(passphrase_env.c_str());
      if (value == nullptr)
        throw CommandError{fmt::format("--passphrase-env: the environment variable {} is not set", passphrase_env)};
      if (*value == '\0') throw CommandError{fmt::format("--passphrase-env: the environment variable {} is empty", passphrase_env)};
      o.passphrase = value;
    }
    return o;
  }
  Repository open() const { return unwrap(Repository::open(dir, options())); }
};

void add_dir(CLI::App* c, RepoFlags& f) {
  c->add_option("dir", f.dir, "the repository folder (keys/ and public/)")->required();
}
void add_key_flags(CLI::App* c, RepoFlags& f) {
  c->add_option("--keys", f.keys,
                "folder with the key files (default DIR/keys); keep root.key and targets.key on offline media and point "
                "this at them when a command needs them");
  c->add_option("--passphrase-env", f.passphrase_env,
                "name of the environment variable holding the passphrase of encrypted key files (init: encrypts the new "
                "root and targets keys with it)");
}
void add_json(CLI::App* c, RepoFlags& f) { c->add_flag("--json", f.json, "print the result as JSON"); }

std::string short_id(const std::string& id) { return id.substr(0, 16); }

std::string percent_text(int basis_points) {
  return basis_points % 100 == 0 ? fmt::format("{}%", basis_points / 100) : fmt::format("{:.2f}%", basis_points / 100.0);
}

Json published_json(const ota::Published& p) {
  Json j = Json::object();
  for (auto [name, v] : {std::pair{"root", p.root}, {"targets", p.targets}, {"rollout", p.rollout}, {"snapshot", p.snapshot},
                         {"timestamp", p.timestamp}})
    if (v != 0) j[name] = v;
  return j;
}

std::string published_text(const ota::Published& p) {
  if (!p.changed()) return "nothing changed: no new metadata signed";
  std::vector<std::string> parts;
  for (auto [name, v] : {std::pair{"root", p.root}, {"targets", p.targets}, {"rollout", p.rollout}, {"snapshot", p.snapshot},
                         {"timestamp", p.timestamp}})
    if (v != 0) parts.push_back(fmt::format("{} v{}", name, v));
  return fmt::format("signed {}", fmt::join(parts, ", "));
}

// ------------------------------------------------------------------------- status

template <class Meta>
Json role_json(const ota::RootMeta& root, Role role, const Meta& meta, int64_t now) {
  const auto& keys = root.roles.at(role);
  return {{"version", meta.version}, {"expires", ota::format_time(meta.expires)}, {"expired", meta.expires <= now},
          {"keyids", keys.keyids}, {"threshold", keys.threshold}};
}

Json target_json(const std::string& path, const ota::TargetInfo& t) {
  Json deltas = Json::array();
  for (const auto& d : t.deltas)
    deltas.push_back({{"from", d.from_sha256}, {"path", d.path}, {"length", d.length}, {"sha256", d.sha256}});
  return {{"path", path}, {"model", t.model}, {"model_version", t.model_version}, {"variant", t.variant}, {"tiers", t.tiers},
          {"length", t.length}, {"sha256", t.sha256}, {"min_runtime_version", t.min_runtime_version},
          {"golden_sha256", t.golden_sha256}, {"deltas", deltas}};
}

Json tier_json(const ota::TargetsMeta& targets, const ota::TierRollout& r) {
  Json j{{"target", r.target}, {"baseline", r.baseline ? Json(*r.baseline) : Json(nullptr)}, {"basis_points", r.basis_points},
         {"percent", r.basis_points / 100.0}, {"rollout_id", r.rollout_id}};
  if (auto it = targets.targets.find(r.target); it != targets.targets.end()) j["target_version"] = it->second.model_version;
  if (r.baseline)
    if (auto it = targets.targets.find(*r.baseline); it != targets.targets.end()) j["baseline_version"] = it->second.model_version;
  return j;
}

Json status_json(const ota::RepositoryStatus& s) {
  const ota::RootMeta& root = s.root.meta;
  Json roles{{"root", role_json(root, Role::kRoot, root, s.now)},
             {"targets", role_json(root, Role::kTargets, s.targets.meta, s.now)},
             {"snapshot", role_json(root, Role::kSnapshot, s.snapshot.meta, s.now)},
             {"timestamp", role_json(root, Role::kTimestamp, s.timestamp.meta, s.now)},
             {"rollout", role_json(root, Role::kRollout, s.rollout.meta, s.now)}};
  Json stale = Json::array();
  for (Role r : s.stale) stale.push_back(ota::role_name(r));
  Json targets = Json::array();
  for (const auto& [path, t] : s.targets.meta.targets) targets.push_back(target_json(path, t));
  Json models = Json::object();
  for (const auto& [model, m] : s.rollout.meta.models) {
    Json tiers = Json::object();
    for (const auto& [tier, r] : m.tiers) tiers[tier] = tier_json(s.targets.meta, r);
    models[model] = {{"floor", m.floor}, {"pins", m.pins}, {"tiers", tiers}};
  }
  return {{"dir", s.dir}, {"now", ota::format_time(s.now)}, {"roles", roles}, {"stale", stale}, {"targets", targets},
          {"rollout", models}};
}

std::string target_label(const ota::TargetsMeta& targets, const std::string& path) {
  auto it = targets.targets.find(path);
  if (it == targets.targets.end()) return path;
  return fmt::format("{} ({} {})", path, it->second.model_version, it->second.variant);
}

void print_status(const ota::RepositoryStatus& s) {
  const ota::RootMeta& root = s.root.meta;
  fmt::print("repository {}\n", s.dir);
  fmt::print("  {:<10} {:>7}  {:<22} {}\n", "role", "version", "expires", "keys (threshold)");
  auto row = [&](Role role, const ota::Common& meta) {
    const auto& keys = root.roles.at(role);
    std::vector<std::string> ids;
    for (const auto& id : keys.keyids) ids.push_back(short_id(id) + "…");
    fmt::print("  {:<10} {:>7}  {:<22} {} ({} of {}){}\n", ota::role_name(role), meta.version,
               ota::format_time(meta.expires) + (meta.expires <= s.now ? " EXPIRED" : ""), fmt::join(ids, " "),
               keys.threshold, keys.keyids.size(),
               std::find(s.stale.begin(), s.stale.end(), role) != s.stale.end() ? "  (signed by the previous root's key: run publish)" : "");
  };
  row(Role::kRoot, root);
  row(Role::kTargets, s.targets.meta);
  row(Role::kSnapshot, s.snapshot.meta);
  row(Role::kTimestamp, s.timestamp.meta);
  row(Role::kRollout, s.rollout.meta);
  fmt::print("targets ({})\n", s.targets.meta.targets.size());
  for (const auto& [path, t] : s.targets.meta.targets)
    fmt::print("  {}  {} {} {}  tiers {}  {} bytes  {} delta{}\n", path, t.model, t.model_version, t.variant,
               t.tiers.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(t.tiers, ",")), t.length,
               t.deltas.size(), t.deltas.size() == 1 ? "" : "s");
  fmt::print("rollout{}\n", s.rollout.meta.models.empty() ? " (nothing rolled out)" : "");
  for (const auto& [model, m] : s.rollout.meta.models) {
    std::vector<std::string> pins;
    for (const auto& [tier, v] : m.pins) pins.push_back(fmt::format("{}={}", tier, v));
    fmt::print("  {}  floor {}  pins {}\n", model, m.floor.empty() ? std::string("none") : m.floor,
               pins.empty() ? std::string("none") : fmt::format("{}", fmt::join(pins, " ")));
    for (const auto& [tier, r] : m.tiers)
      fmt::print("    {:<10} {} at {}, baseline {}, rollout id {}\n", tier, target_label(s.targets.meta, r.target),
                 percent_text(r.basis_points), r.baseline ? target_label(s.targets.meta, *r.baseline) : std::string("none"),
                 r.rollout_id);
  }
}

// ------------------------------------------------------------------------- commands

void run_init(const RepoFlags& f) {
  const ota::RepositoryOptions o = f.options();
  Repository repo = unwrap(Repository::init(f.dir, o));
  const auto s = unwrap(repo.status());
  const bool encrypted = !o.passphrase.empty();
  if (f.json) {
    Json keys = Json::object();
    for (Role r : ota::kAllRoles) keys[ota::role_name(r)] = s.root.meta.roles.at(r).keyids.at(0);
    print_json({{"dir", f.dir}, {"keys_dir", repo.keys_dir().string()}, {"public", (fs::path(f.dir) / "public").string()},
                {"encrypted", encrypted}, {"keys", keys}, {"status", status_json(s)}});
    return;
  }
  fmt::print("created repository {}\n", f.dir);
  for (Role r : ota::kAllRoles)
    fmt::print("  {:<10} key {}  {}\n", ota::role_name(r), s.root.meta.roles.at(r).keyids.at(0),
               (repo.keys_dir() / fmt::format("{}.key", ota::role_name(r))).string());
  fmt::print("  serve {} (metadata/ and artifacts/)\n", (fs::path(f.dir) / "public").string());
  fmt::print("root.key and targets.key are {}; move them to offline media and pass --keys when adding or rotating.\n",
             encrypted ? "encrypted" : "NOT encrypted (no --passphrase-env)");
}

struct AddArgs {
  RepoFlags f;
  std::vector<std::string> artifacts, tiers;
  std::string variants;
  int deltas = ota::AddOptions{}.delta_bases;
  int delta_level = ota::DeltaOptions{}.level;
};

// "delta from v1 (3f2a9c…): 2817 bytes (1.9% of full)"; two significant digits below 1%.
std::string delta_text(const ota::GeneratedDelta& d, uint64_t target_bytes) {
  const double percent = 100.0 * static_cast<double>(d.patch_bytes) / static_cast<double>(target_bytes);
  return fmt::format("delta from v{} ({}…): {} bytes ({}% of full){}", d.from_version, short_id(d.from_sha256), d.patch_bytes,
                     percent >= 1 ? fmt::format("{:.1f}", percent) : fmt::format("{:.2g}", percent),
                     d.listed ? "" : ", not smaller than the artifact: not listed");
}

void run_add(const AddArgs& a) {
  if (!a.tiers.empty() && a.artifacts.size() != 1)
    throw CommandError{fmt::format("--tiers gives tiers to one artifact, and {} were given; add them one at a time or use --variants",
                                   a.artifacts.size())};
  Repository repo = a.f.open();
  ota::AddOptions o;
  o.tiers = a.tiers;
  o.delta_bases = a.deltas;
  o.delta.level = a.delta_level;
  if (!a.variants.empty()) o.variants = unwrap(ota::read_variant_tiers(a.variants));
  std::vector<fs::path> paths(a.artifacts.begin(), a.artifacts.end());
  const auto added = unwrap(repo.add(paths, o));
  const auto s = unwrap(repo.status());
  if (a.f.json) {
    Json list = Json::array();
    for (const auto& t : added) {
      Json j = target_json(t.path, t.info);
      j["already_present"] = t.already_present;
      Json made = Json::array();
      for (const auto& d : t.deltas)
        made.push_back({{"from_version", d.from_version}, {"from_sha256", d.from_sha256}, {"from_path", d.from_path},
                        {"patch_bytes", d.patch_bytes},
                        {"percent_of_full", 100.0 * static_cast<double>(d.patch_bytes) / static_cast<double>(t.info.length)},
                        {"listed", d.listed}, {"path", d.listed ? Json(d.path) : Json(nullptr)}});
      j["deltas_made"] = std::move(made);
      list.push_back(std::move(j));
    }
    print_json({{"added", list}, {"targets_version", s.targets.meta.version}, {"snapshot_version", s.snapshot.meta.version},
                {"timestamp_version", s.timestamp.meta.version}});
    return;
  }
  bool any = false;
  for (const auto& t : added) {
    any |= !t.already_present;
    fmt::print("{} {}  {} {} {}  tiers {}  {} bytes\n", t.already_present ? "already released" : "added", t.path, t.info.model,
               t.info.model_version, t.info.variant,
               t.info.tiers.empty() ? std::string("(none: add again with --tiers or --variants)") : fmt::format("{}", fmt::join(t.info.tiers, ",")),
               t.info.length);
    for (const auto& d : t.deltas) fmt::print("  {}\n", delta_text(d, t.info.length));
  }
  if (any)
    fmt::print("signed targets v{}, snapshot v{}, timestamp v{}\n", s.targets.meta.version, s.snapshot.meta.version,
               s.timestamp.meta.version);
  else
    fmt::print("nothing changed: no new metadata signed\n");
}

struct RolloutArgs {
  RepoFlags f;
  std::string model, tier, target;
  double percent = 0;
};

void run_rollout(const RolloutArgs& a) {
  Repository repo = a.f.open();
  const ota::Published p = unwrap(repo.rollout(a.model, a.tier, a.target, a.percent));
  const auto s = unwrap(repo.status());
  const ota::TierRollout& r = s.rollout.meta.models.at(a.model).tiers.at(a.tier);
  if (a.f.json) {
    Json j = tier_json(s.targets.meta, r);
    j["model"] = a.model;
    j["tier"] = a.tier;
    j["changed"] = p.changed();
    j["published"] = published_json(p);
    print_json(j);
    return;
  }
  fmt::print("{} / {}: {} at {}, baseline {}, rollout id {}\n{}\n", a.model, a.tier, target_label(s.targets.meta, r.target),
             percent_text(r.basis_points), r.baseline ? target_label(s.targets.meta, *r.baseline) : std::string("none"),
             r.rollout_id, published_text(p));
}

struct PinArgs {
  RepoFlags f;
  std::string model, tier, version;
  bool unpin = false;
};

void run_pin(const PinArgs& a) {
  if (a.unpin == !a.version.empty()) throw CommandError{"give either --version V (pin) or --unpin"};
  Repository repo = a.f.open();
  const ota::Published p = unwrap(repo.pin(a.model, a.tier, a.unpin ? std::string() : a.version));
  const auto s = unwrap(repo.status());
  std::map<std::string, std::string> pins;
  if (auto it = s.rollout.meta.models.find(a.model); it != s.rollout.meta.models.end()) pins = it->second.pins;
  const std::string who = a.tier.empty() ? "*" : a.tier;
  if (a.f.json) {
    print_json({{"model", a.model}, {"tier", who}, {"version", a.unpin ? Json(nullptr) : Json(pins.at(who))}, {"pins", pins},
                {"changed", p.changed()}, {"published", published_json(p)}});
    return;
  }
  if (a.unpin) fmt::print("{}: {} unpinned\n", a.model, a.tier.empty() ? "the whole fleet" : "tier " + a.tier);
  else fmt::print("{}: {} pinned to version {}\n", a.model, a.tier.empty() ? "the whole fleet" : "tier " + a.tier, pins.at(who));
  fmt::print("{}\n", published_text(p));
}

struct FloorArgs {
  RepoFlags f;
  std::string model, version;
};

void run_floor(const FloorArgs& a) {
  Repository repo = a.f.open();
  const ota::Published p = unwrap(repo.set_floor(a.model, a.version));
  if (a.f.json) {
    print_json({{"model", a.model}, {"floor", a.version}, {"changed", p.changed()}, {"published", published_json(p)}});
    return;
  }
  fmt::print("{}: anti-rollback floor {}\n{}\n", a.model, a.version, published_text(p));
}

struct PublishArgs {
  RepoFlags f;
  bool targets = false;
};

void run_publish(const PublishArgs& a) {
  Repository repo = a.f.open();
  const ota::Published p = unwrap(repo.publish(a.targets));
  const auto s = unwrap(repo.status());
  if (a.f.json) {
    print_json({{"published", published_json(p)}, {"status", status_json(s)}});
    return;
  }
  fmt::print("{}\n  timestamp expires {}\n  snapshot  expires {}\n  rollout   expires {}\n  targets   expires {}\n",
             published_text(p), ota::format_time(s.timestamp.meta.expires), ota::format_time(s.snapshot.meta.expires),
             ota::format_time(s.rollout.meta.expires), ota::format_time(s.targets.meta.expires));
}

struct RotateArgs {
  RepoFlags f;
  std::vector<std::string> roles;
};

void run_rotate(const RotateArgs& a) {
  std::vector<Role> roles;
  for (const std::string& name : a.roles) {
    auto role = ota::role_from_name(name);
    if (!role) throw CommandError{fmt::format("--rotate: unknown role '{}' (roles: root, targets, snapshot, timestamp, rollout)", name)};
    roles.push_back(*role);
  }
  Repository repo = a.f.open();
  const auto before = unwrap(repo.status());
  const ota::Published p = unwrap(repo.rotate_root(roles));
  const auto s = unwrap(repo.status());
  Json keys = Json::object(), retired = Json::array();
  for (Role r : ota::kAllRoles) {
    const std::string id = s.root.meta.roles.at(r).keyids.at(0);
    keys[ota::role_name(r)] = id;
    for (const auto& old : before.root.meta.roles.at(r).keyids)
      if (std::find(s.root.meta.roles.at(r).keyids.begin(), s.root.meta.roles.at(r).keyids.end(), old) ==
          s.root.meta.roles.at(r).keyids.end())
        retired.push_back({{"role", ota::role_name(r)}, {"keyid", old},
                           {"file", (repo.keys_dir() / "retired" / (old + ".key")).string()}});
  }
  if (a.f.json) {
    print_json({{"root_version", s.root.meta.version}, {"keys", keys}, {"retired", retired}, {"published", published_json(p)}});
    return;
  }
  fmt::print("root v{} signed by the old and the new root key\n", s.root.meta.version);
  for (const auto& r : retired)
    fmt::print("  {:<10} new key {}  (old key retired to {})\n", r["role"].get<std::string>(),
               keys[r["role"].get<std::string>()].get<std::string>(), r["file"].get<std::string>());
  fmt::print("{}\n", published_text(p));
}

void run_status(const RepoFlags& f) {
  Repository repo = f.open();
  const auto s = unwrap(repo.status());
  if (f.json) print_json(status_json(s));
  else print_status(s);
}

}  // namespace

void add_repo_commands(CLI::App& app) {
  auto* repo = app.add_subcommand(
      "repo",
      "The signed model repository (docs/repository.md): keys, artifacts, staged rollouts, pins, floors.\n"
      "DIR/public/ is what a web server serves; DIR/keys/ holds one key per role (root and targets belong offline).");
  repo->require_subcommand(1);

  auto in = std::make_shared<RepoFlags>();
  auto* init = repo->add_subcommand("init", "Create a repository: keys for every role, root v1, empty targets and rollout");
  add_dir(init, *in);
  add_key_flags(init, *in);
  add_json(init, *in);
  init->footer("DIR must be new or empty. With --passphrase-env the root and targets keys are encrypted with that passphrase.");
  init->callback([in] { run_init(*in); });

  auto ad = std::make_shared<AddArgs>();
  auto* add = repo->add_subcommand(
      "add", "Release .edge artifacts: verify each, copy it to artifacts/<sha256>.edge and sign a new targets version");
  add_dir(add, ad->f);
  add->add_option("artifacts", ad->artifacts, ".edge files (each needs a golden test vector and a dotted model version)")
      ->required();
  auto* variants = add->add_option("--variants", ad->variants,
                                   "variants.json of `edgeloop model variants`: each artifact gets the tiers its variant is chosen for");
  add->add_option("--tiers", ad->tiers, "tiers for the one artifact given, comma-separated (e.g. mid,low)")
      ->delimiter(',')
      ->excludes(variants);
  add->add_option("--deltas", ad->deltas,
                  fmt::format("make a delta for each new artifact from up to K earlier versions of the same model and "
                              "variant, the highest first (default {}; 0: none; at most {})",
                              ad->deltas, ota::kMaxDeltasPerTarget))
      ->check(CLI::Range(0, static_cast<int>(ota::kMaxDeltasPerTarget)));
  add->add_option("--delta-level", ad->delta_level, "zstd level of the deltas, 1 to 22 (default 19: slow, smallest)")
      ->check(CLI::Range(1, 22));
  add_key_flags(add, ad->f);
  add_json(add, ad->f);
  add->footer("Needs the targets, snapshot and timestamp keys. An invalid artifact is refused and nothing is written.\n"
              "Adding a released artifact again only adds tiers (no new deltas).\n"
              "Deltas (docs/delta.md) go to public/deltas/<base sha256>-<target sha256>.delta and are listed in the\n"
              "target's signed metadata when smaller than the artifact; a device with the base downloads the patch\n"
              "instead of the whole artifact.");
  add->callback([ad] { run_add(*ad); });

  auto ro = std::make_shared<RolloutArgs>();
  auto* rollout = repo->add_subcommand("rollout", "Stage a released target to a percentage of a tier's devices");
  add_dir(rollout, ro->f);
  rollout->add_option("--model", ro->model, "model name")->required();
  rollout->add_option("--tier", ro->tier, "capability tier")->required();
  rollout->add_option("--target", ro->target, "artifacts/<sha256>.edge, a SHA-256, or a model version released for the tier")
      ->required();
  rollout->add_option("--percent", ro->percent, "share of the tier's devices, 0 to 100, at most 2 decimals")
      ->required()
      ->check(CLI::Range(0.0, 100.0));
  add_key_flags(rollout, ro->f);
  add_json(rollout, ro->f);
  rollout->footer(
      "Needs the rollout, snapshot and timestamp keys. A new target gets a new rollout id (a different cohort goes first) and\n"
      "the previous target becomes its baseline if it was at 100% (else the previous baseline stays); the same target only\n"
      "changes the percentage and keeps the rollout id, so the devices already in the cohort stay in it.");
  rollout->callback([ro] { run_rollout(*ro); });

  auto pa = std::make_shared<PinArgs>();
  auto* pin = repo->add_subcommand("pin", "Pin a tier, or the whole fleet, to a released model version (the kill switch)");
  add_dir(pin, pa->f);
  pin->add_option("--model", pa->model, "model name")->required();
  pin->add_option("--tier", pa->tier, "the tier to pin (default: the whole fleet, \"*\")");
  auto* version = pin->add_option("--version", pa->version, "the version every device of the tier runs");
  pin->add_flag("--unpin", pa->unpin, "remove the pin instead")->excludes(version);
  add_key_flags(pin, pa->f);
  add_json(pin, pa->f);
  pin->footer("Needs the rollout, snapshot and timestamp keys. A tier pin wins over \"*\", and both over the tier's rollout.");
  pin->callback([pa] { run_pin(*pa); });

  auto fa = std::make_shared<FloorArgs>();
  auto* floor = repo->add_subcommand("floor", "Raise a model's anti-rollback floor (it never goes down)");
  add_dir(floor, fa->f);
  floor->add_option("--model", fa->model, "model name")->required();
  floor->add_option("--version", fa->version, "the lowest model version devices may run")->required();
  add_key_flags(floor, fa->f);
  add_json(floor, fa->f);
  floor->footer("Needs the rollout, snapshot and timestamp keys. Refused while a target, baseline or pin is below it.");
  floor->callback([fa] { run_floor(*fa); });

  auto pu = std::make_shared<PublishArgs>();
  auto* publish = repo->add_subcommand("publish", "Re-sign rollout, snapshot and timestamp with fresh expiry (run it daily)");
  add_dir(publish, pu->f);
  publish->add_flag("--targets", pu->targets, "also re-sign targets (needs the offline targets key)");
  add_key_flags(publish, pu->f);
  add_json(publish, pu->f);
  publish->footer("Expiry: timestamp 1 day, snapshot and rollout 7 days, targets 90 days, root 365 days.");
  publish->callback([pu] { run_publish(*pu); });

  auto rr = std::make_shared<RotateArgs>();
  auto* rotate = repo->add_subcommand("rotate-root", "Sign root N+1 with a new root key (and new keys for --rotate roles)");
  add_dir(rotate, rr->f);
  rotate->add_option("--rotate", rr->roles, "also new keys for these roles, comma-separated (targets,snapshot,timestamp,rollout)")
      ->delimiter(',');
  add_key_flags(rotate, rr->f);
  add_json(rotate, rr->f);
  rotate->footer(
      "Root N+1 is signed by the old and the new root key, so devices follow the chain. Old keys move to keys/retired/.\n"
      "Then new versions of the rotated roles, snapshot and timestamp are signed with the new keys.");
  rotate->callback([rr] { run_rotate(*rr); });

  auto st = std::make_shared<RepoFlags>();
  auto* status = repo->add_subcommand("status", "Show versions, expiry, keys, targets and rollouts (verifies everything; needs no key)");
  add_dir(status, *st);
  add_json(status, *st);
  status->callback([st] { run_status(*st); });
}

}  // namespace edgeloop::cli
