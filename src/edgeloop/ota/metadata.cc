#include "edgeloop/ota/metadata.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "edgeloop/base/hash.h"

namespace edgeloop::ota {

using json = nlohmann::json;

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kRoot: return "root";
    case Role::kTargets: return "targets";
    case Role::kSnapshot: return "snapshot";
    case Role::kTimestamp: return "timestamp";
    case Role::kRollout: return "rollout";
  }
  return "?";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role r : kAllRoles)
    if (role_name(r) == name) return r;
  return std::nullopt;
}

// ---- time and versions ----

std::string format_time(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

Result<int64_t> parse_time(std::string_view text) {
  auto bad = [&] { return make_error(ErrorCode::kInvalidArgument, "'{}' is not a UTC time YYYY-MM-DDTHH:MM:SSZ", text); };
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z')
    return bad();
  auto num = [&](size_t pos, size_t len, int& out) {
    auto r = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == text.data() + pos + len && text[pos] != '-' && text[pos] != '+';
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s)) return bad();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t t = timegm(&tm);
  if (format_time(t) != text) return bad();  // 2026-02-31 and friends
  return t;
}

Result<std::vector<uint64_t>> parse_version(std::string_view text) {
  std::vector<uint64_t> parts;
  size_t begin = 0;
  while (true) {
    size_t end = text.find('.', begin);
    if (end == std::string_view::npos) end = text.size();
    uint64_t v = 0;
    auto r = std::from_chars(text.data() + begin, text.data() + end, v);
    if (end == begin || r.ec != std::errc() || r.ptr != text.data() + end || parts.size() >= 8)
      return make_error(ErrorCode::kInvalidArgument,
                        "'{}' is not a version: use dotted non-negative integers such as 3 or 1.2.0", text);
    parts.push_back(v);
    if (end == text.size()) break;
    begin = end + 1;
  }
  return parts;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto pa = parse_version(a), pb = parse_version(b);
  std::vector<uint64_t> x = pa ? *pa : std::vector<uint64_t>{}, y = pb ? *pb : std::vector<uint64_t>{};
  size_t n = std::max(x.size(), y.size());
  x.resize(n);
  y.resize(n);
  return x < y ? -1 : x > y ? 1 : 0;
}

std::string delta_path(std::string_view from_sha256, std::string_view target_sha256) {
  return fmt::format("deltas/{}-{}.delta", from_sha256, target_sha256);
}

// ---- JSON reading: strict, with the field's path in every error ----

namespace {

struct ParseLimitError {
  std::string message;
};

// Parses with a depth cap, no floats and no duplicate keys, before any value is built deeper.
Result<json> parse_json(ByteSpan file, size_t cap, std::string_view what) {
  if (file.size() > cap)
    return make_error(ErrorCode::kCorrupt, "{}: {} bytes is over the {} byte cap", what, file.size(), cap);
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    if (depth > kMaxJsonDepth) throw ParseLimitError{fmt::format("nested deeper than {} levels", kMaxJsonDepth)};
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end: if (!keys.empty()) keys.pop_back(); break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          throw ParseLimitError{fmt::format("duplicate key \"{}\"", parsed.get<std::string>())};
        break;
      case json::parse_event_t::value:
        if (parsed.is_number_float()) throw ParseLimitError{"floating-point numbers are not allowed"};
        break;
      default: break;
    }
    return true;
  };
  try {
    auto text = as_chars(file);
    return json::parse(text.begin(), text.end(), callback);
  } catch (const ParseLimitError& e) {
    return make_error(ErrorCode::kCorrupt, "{}: {}", what, e.message);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kCorrupt, "{}: not valid JSON ({})", what, e.what());
  }
}

// A reader over one JSON object that knows where it is, so errors name the field.
class Fields {
 public:
  Fields(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  Status is_object() const {
    if (!object_.is_object()) return make_error(ErrorCode::kCorrupt, "{} must be an object", path_);
    return ok();
  }
  // Every key must be one of `allowed`.
  Status only(std::initializer_list<std::string_view> allowed) const {
    EL_CHECK(is_object());
    for (auto& [key, value] : object_.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        return make_error(ErrorCode::kCorrupt, "{}: unknown field \"{}\"", path_, key);
    return ok();
  }
  bool has(std::string_view key) const { return object_.contains(key); }
  Result<const json*> get(std::string_view key) const {
    EL_CHECK(is_object());
    auto it = object_.find(key);
    if (it == object_.end()) return make_error(ErrorCode::kCorrupt, "{}: missing field \"{}\"", path_, key);
    return &*it;
  }
  Result<std::string> string(std::string_view key, size_t max_len = 4096) const {
    EL_TRY(auto* v, get(key));
    if (!v->is_string()) return make_error(ErrorCode::kCorrupt, "{}.{} must be a string", path_, key);
    auto s = v->get<std::string>();
    if (s.size() > max_len) return make_error(ErrorCode::kCorrupt, "{}.{} is longer than {} bytes", path_, key, max_len);
    return s;
  }
  Result<int64_t> integer(std::string_view key, int64_t min, int64_t max) const {
    EL_TRY(auto* v, get(key));
    if (!v->is_number_integer()) return make_error(ErrorCode::kCorrupt, "{}.{} must be an integer", path_, key);
    int64_t x = 0;
    if (v->is_number_unsigned()) {
      auto u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return make_error(ErrorCode::kCorrupt, "{}.{} is out of range", path_, key);
      x = static_cast<int64_t>(u);
    } else {
      x = v->get<int64_t>();
    }
    if (x < min || x > max) return make_error(ErrorCode::kCorrupt, "{}.{} = {} is outside [{}, {}]", path_, key, x, min, max);
    return x;
  }
  Result<std::string> hex(std::string_view key, size_t bytes) const {
    EL_TRY(auto s, string(key));
    if (s.size() != 2 * bytes || !std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
      return make_error(ErrorCode::kCorrupt, "{}.{} must be {} lowercase hex digits", path_, key, 2 * bytes);
    return s;
  }
  Result<Fields> object(std::string_view key) const {
    EL_TRY(auto* v, get(key));
    Fields f(*v, fmt::format("{}.{}", path_, key));
    EL_CHECK(f.is_object());
    return f;
  }
  Result<std::vector<std::string>> strings(std::string_view key, size_t max_items = 1024) const {
    EL_TRY(auto* v, get(key));
    if (!v->is_array()) return make_error(ErrorCode::kCorrupt, "{}.{} must be an array", path_, key);
    if (v->size() > max_items) return make_error(ErrorCode::kCorrupt, "{}.{} has more than {} items", path_, key, max_items);
    std::vector<std::string> out;
    for (auto& item : *v) {
      if (!item.is_string()) return make_error(ErrorCode::kCorrupt, "{}.{} must hold strings", path_, key);
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  const json& value() const { return object_; }
  const std::string& path() const { return path_; }

 private:
  const json& object_;
  std::string path_;
};

Status check_version_string(std::string_view text, std::string_view where, bool allow_empty) {
  if (allow_empty && text.empty()) return ok();
  if (!parse_version(text)) return make_error(ErrorCode::kCorrupt, "{}: '{}' is not a dotted version", where, text);
  return ok();
}

template <class Meta>
Result<Signed<Meta>> parse_envelope(ByteSpan file, size_t cap, Role role,
                                    Status (*read_signed)(const Fields&, Meta&)) {
  auto what = fmt::format("{} metadata", role_name(role));
  EL_TRY(json doc, parse_json(file, cap, what));
  Fields top(doc, what);
  EL_CHECK(top.only({"signed", "signatures"}));
  EL_TRY(Fields signed_part, top.object("signed"));
  EL_TRY(auto type, signed_part.string("_type"));
  if (type != role_name(role))
    return make_error(ErrorCode::kCorrupt, "{}: _type is \"{}\", expected \"{}\"", what, type, role_name(role));
  EL_TRY(auto spec, signed_part.string("spec_version"));
  if (spec != "1.0") return make_error(ErrorCode::kCorrupt, "{}: spec_version \"{}\" is not supported (1.0 is)", what, spec);
  Signed<Meta> out;
  EL_TRY(out.meta.version, signed_part.integer("version", 1, INT64_MAX / 2));
  EL_TRY(auto expires, signed_part.string("expires"));
  auto t = parse_time(expires);
  if (!t) return make_error(ErrorCode::kCorrupt, "{}.expires: {}", what, t.error().message);
  out.meta.expires = *t;
  EL_CHECK(read_signed(signed_part, out.meta));
  out.canonical = signed_part.value().dump();
  // What we understood must be all there is: re-serializing the typed value gives the same bytes.
  if (canonical(out.meta) != out.canonical)
    return make_error(ErrorCode::kCorrupt, "{}: the signed part is not in the form edgeloop writes", what);

  EL_TRY(auto* sigs, top.get("signatures"));
  if (!sigs->is_array()) return make_error(ErrorCode::kCorrupt, "{}.signatures must be an array", what);
  if (sigs->size() > 256) return make_error(ErrorCode::kCorrupt, "{}: more than 256 signatures", what);
  for (size_t i = 0; i < sigs->size(); ++i) {
    Fields s((*sigs)[i], fmt::format("{}.signatures[{}]", what, i));
    EL_CHECK(s.only({"keyid", "sig"}));
    SignatureEntry e;
    EL_TRY(e.keyid, s.hex("keyid", 32));
    EL_TRY(auto sig_hex, s.hex("sig", 64));
    auto sig = crypto::signature_from_hex(sig_hex);
    if (!sig) return make_error(ErrorCode::kCorrupt, "{}: {}", s.path(), sig.error().message);
    e.signature = *sig;
    out.signatures.push_back(std::move(e));
  }
  return out;
}

Result<MetaFile> read_meta_file(const Fields& meta, std::string_view name) {
  EL_TRY(Fields f, meta.object(name));
  EL_CHECK(f.only({"version", "length", "hashes"}));
  MetaFile m;
  EL_TRY(m.version, f.integer("version", 1, INT64_MAX / 2));
  EL_TRY(auto length, f.integer("length", 1, INT64_MAX / 2));
  m.length = static_cast<uint64_t>(length);
  EL_TRY(Fields hashes, f.object("hashes"));
  EL_CHECK(hashes.only({"sha256"}));
  EL_TRY(m.sha256, hashes.hex("sha256", 32));
  return m;
}

json common_json(Role role, const Common& c) {
  return json{{"_type", role_name(role)}, {"spec_version", "1.0"}, {"version", c.version}, {"expires", format_time(c.expires)}};
}

json meta_file_json(const MetaFile& m) {
  return json{{"version", m.version}, {"length", m.length}, {"hashes", {{"sha256", m.sha256}}}};
}

Status read_root(const Fields& s, RootMeta& m) {
  EL_CHECK(s.only({"_type", "spec_version", "version", "expires", "keys", "roles"}));
  EL_TRY(Fields keys, s.object("keys"));
  if (keys.value().size() > 256) return make_error(ErrorCode::kCorrupt, "root: more than 256 keys");
  for (auto& [keyid, entry] : keys.value().items()) {
    Fields k(entry, fmt::format("root.keys.{}", keyid));
    EL_CHECK(k.only({"keytype", "scheme", "keyval"}));
    EL_TRY(auto keytype, k.string("keytype"));
    EL_TRY(auto scheme, k.string("scheme"));
    if (keytype != "ed25519" || scheme != "ed25519")
      return make_error(ErrorCode::kCorrupt, "{}: only ed25519 keys are supported", k.path());
    EL_TRY(Fields keyval, k.object("keyval"));
    EL_CHECK(keyval.only({"public"}));
    EL_TRY(auto pub_hex, keyval.hex("public", 32));
    EL_TRY(auto pub, crypto::public_key_from_hex(pub_hex));
    if (crypto::key_id(pub) != keyid)
      return make_error(ErrorCode::kCorrupt, "{}: the key id is not the SHA-256 of the key", k.path());
    m.keys.emplace(keyid, pub);
  }
  EL_TRY(Fields roles, s.object("roles"));
  EL_CHECK(roles.only({"root", "targets", "snapshot", "timestamp", "rollout"}));
  for (Role r : kAllRoles) {
    EL_TRY(Fields rf, roles.object(role_name(r)));
    EL_CHECK(rf.only({"keyids", "threshold"}));
    RoleKeys rk;
    EL_TRY(rk.keyids, rf.strings("keyids", 256));
    EL_TRY(auto threshold, rf.integer("threshold", 1, 256));
    rk.threshold = static_cast<int>(threshold);
    std::set<std::string> seen;
    for (auto& id : rk.keyids) {
      if (!seen.insert(id).second) return make_error(ErrorCode::kCorrupt, "{}: key id {} is listed twice", rf.path(), id);
      if (!m.keys.contains(id)) return make_error(ErrorCode::kCorrupt, "{}: key id {} is not in root.keys", rf.path(), id);
    }
    if (rk.threshold > static_cast<int>(rk.keyids.size()))
      return make_error(ErrorCode::kCorrupt, "{}: threshold {} is more than its {} keys", rf.path(), rk.threshold,
                        rk.keyids.size());
    m.roles[r] = std::move(rk);
  }
  return ok();
}

// custom.deltas of the target with SHA-256 `target_sha256`: present only when non-empty (the
// canonical form omits an empty list), in canonical order, each path exactly the one it must be.
Result<std::vector<DeltaInfo>> read_deltas(const Fields& custom, const std::string& target_sha256) {
  EL_TRY(const json* list, custom.get("deltas"));
  const std::string where = custom.path() + ".deltas";
  if (!list->is_array()) return make_error(ErrorCode::kCorrupt, "{} must be an array", where);
  if (list->empty())
    return make_error(ErrorCode::kCorrupt, "{} is empty: a target without deltas has no \"deltas\" field", where);
  if (list->size() > kMaxDeltasPerTarget)
    return make_error(ErrorCode::kCorrupt, "{} lists {} deltas, more than {}", where, list->size(), kMaxDeltasPerTarget);
  std::vector<DeltaInfo> deltas;
  for (size_t i = 0; i < list->size(); ++i) {
    Fields d((*list)[i], fmt::format("{}[{}]", where, i));
    EL_CHECK(d.only({"from", "length", "path", "sha256"}));
    DeltaInfo delta;
    EL_TRY(delta.from_sha256, d.hex("from", 32));
    EL_TRY(auto length, d.integer("length", 1, INT64_MAX / 2));
    delta.length = static_cast<uint64_t>(length);
    EL_TRY(delta.path, d.string("path", 512));
    EL_TRY(delta.sha256, d.hex("sha256", 32));
    if (delta.from_sha256 == target_sha256)
      return make_error(ErrorCode::kCorrupt, "{}.from is the target itself", d.path());
    if (const std::string expected = delta_path(delta.from_sha256, target_sha256); delta.path != expected)
      return make_error(ErrorCode::kCorrupt, "{}.path is '{}', but a delta from {} to this target must be '{}'", d.path(),
                        delta.path, delta.from_sha256, expected);
    if (!deltas.empty() && delta.from_sha256 == deltas.back().from_sha256)
      return make_error(ErrorCode::kCorrupt, "{}.from: base {} is listed twice", d.path(), delta.from_sha256);
    if (!deltas.empty() && delta.from_sha256 < deltas.back().from_sha256)
      return make_error(ErrorCode::kCorrupt, "{}: deltas must be sorted by \"from\"", where);
    deltas.push_back(std::move(delta));
  }
  return deltas;
}

Status read_targets(const Fields& s, TargetsMeta& m) {
  EL_CHECK(s.only({"_type", "spec_version", "version", "expires", "targets"}));
  EL_TRY(Fields targets, s.object("targets"));
  for (auto& [path, entry] : targets.value().items()) {
    if (path.empty() || path.size() > 512 || path.find("..") != std::string::npos || path.front() == '/' ||
        path.find('\\') != std::string::npos || path.find('\0') != std::string::npos)
      return make_error(ErrorCode::kCorrupt, "targets: '{}' is not a safe relative path", path);
    Fields t(entry, fmt::format("targets.{}", path));
    EL_CHECK(t.only({"length", "hashes", "custom"}));
    TargetInfo info;
    EL_TRY(auto length, t.integer("length", 1, INT64_MAX / 2));
    info.length = static_cast<uint64_t>(length);
    EL_TRY(Fields hashes, t.object("hashes"));
    EL_CHECK(hashes.only({"sha256"}));
    EL_TRY(info.sha256, hashes.hex("sha256", 32));
    EL_TRY(Fields c, t.object("custom"));
    EL_CHECK(c.only({"model", "model_version", "variant", "tiers", "min_runtime_version", "golden_sha256", "deltas"}));
    EL_TRY(info.model, c.string("model", 256));
    EL_TRY(info.model_version, c.string("model_version", 64));
    EL_TRY(info.variant, c.string("variant", 64));
    EL_TRY(info.tiers, c.strings("tiers", 64));
    EL_TRY(info.min_runtime_version, c.string("min_runtime_version", 64));
    EL_TRY(info.golden_sha256, c.hex("golden_sha256", 32));
    if (info.model.empty()) return make_error(ErrorCode::kCorrupt, "{}.model is empty", c.path());
    EL_CHECK(check_version_string(info.model_version, c.path() + ".model_version", false));
    EL_CHECK(check_version_string(info.min_runtime_version, c.path() + ".min_runtime_version", false));
    if (c.has("deltas")) {
      EL_TRY(info.deltas, read_deltas(c, info.sha256));
    }
    m.targets.emplace(path, std::move(info));
  }
  return ok();
}

Status read_snapshot(const Fields& s, SnapshotMeta& m) {
  EL_CHECK(s.only({"_type", "spec_version", "version", "expires", "meta"}));
  EL_TRY(Fields meta, s.object("meta"));
  EL_CHECK(meta.only({"targets.json", "rollout.json"}));
  EL_TRY(m.targets, read_meta_file(meta, "targets.json"));
  EL_TRY(m.rollout, read_meta_file(meta, "rollout.json"));
  return ok();
}

Status read_timestamp(const Fields& s, TimestampMeta& m) {
  EL_CHECK(s.only({"_type", "spec_version", "version", "expires", "meta"}));
  EL_TRY(Fields meta, s.object("meta"));
  EL_CHECK(meta.only({"snapshot.json"}));
  EL_TRY(m.snapshot, read_meta_file(meta, "snapshot.json"));
  return ok();
}

Status read_rollout(const Fields& s, RolloutMeta& m) {
  EL_CHECK(s.only({"_type", "spec_version", "version", "expires", "models"}));
  EL_TRY(Fields models, s.object("models"));
  for (auto& [name, entry] : models.value().items()) {
    Fields mf(entry, fmt::format("rollout.models.{}", name));
    EL_CHECK(mf.only({"floor", "pins", "tiers"}));
    ModelRollout mr;
    EL_TRY(mr.floor, mf.string("floor", 64));
    EL_CHECK(check_version_string(mr.floor, mf.path() + ".floor", true));
    EL_TRY(Fields pins, mf.object("pins"));
    for (auto& [tier, version] : pins.value().items()) {
      if (!version.is_string()) return make_error(ErrorCode::kCorrupt, "{}.{} must be a version string", pins.path(), tier);
      EL_CHECK(check_version_string(version.get<std::string>(), pins.path() + "." + tier, false));
      mr.pins.emplace(tier, version.get<std::string>());
    }
    EL_TRY(Fields tiers, mf.object("tiers"));
    for (auto& [tier, t] : tiers.value().items()) {
      Fields tf(t, fmt::format("{}.{}", tiers.path(), tier));
      EL_CHECK(tf.only({"target", "baseline", "basis_points", "rollout_id"}));
      TierRollout tr;
      EL_TRY(tr.target, tf.string("target", 512));
      if (tf.has("baseline")) {
        EL_TRY(auto baseline, tf.string("baseline", 512));
        tr.baseline = baseline;
      }
      EL_TRY(auto bp, tf.integer("basis_points", 0, 10000));
      tr.basis_points = static_cast<int>(bp);
      EL_TRY(tr.rollout_id, tf.string("rollout_id", 128));
      if (tr.rollout_id.empty()) return make_error(ErrorCode::kCorrupt, "{}.rollout_id is empty", tf.path());
      mr.tiers.emplace(tier, std::move(tr));
    }
    m.models.emplace(name, std::move(mr));
  }
  return ok();
}

}  // namespace

// ---- canonical forms ----

std::string canonical(const RootMeta& m) {
  json j = common_json(Role::kRoot, m);
  json keys = json::object();
  for (auto& [id, key] : m.keys)
    keys[id] = {{"keytype", "ed25519"}, {"scheme", "ed25519"}, {"keyval", {{"public", crypto::to_hex(key)}}}};
  j["keys"] = keys;
  json roles = json::object();
  for (auto& [role, rk] : m.roles) roles[std::string(role_name(role))] = {{"keyids", rk.keyids}, {"threshold", rk.threshold}};
  j["roles"] = roles;
  return j.dump();
}

std::string canonical(const TargetsMeta& m) {
  json j = common_json(Role::kTargets, m);
  json targets = json::object();
  for (auto& [path, t] : m.targets) {
    json custom = {{"model", t.model},
                   {"model_version", t.model_version},
                   {"variant", t.variant},
                   {"tiers", t.tiers},
                   {"min_runtime_version", t.min_runtime_version},
                   {"golden_sha256", t.golden_sha256}};
    if (!t.deltas.empty()) {
      json deltas = json::array();
      for (const DeltaInfo& d : t.deltas)
        deltas.push_back({{"from", d.from_sha256}, {"length", d.length}, {"path", d.path}, {"sha256", d.sha256}});
      custom["deltas"] = std::move(deltas);
    }
    targets[path] = {{"length", t.length}, {"hashes", {{"sha256", t.sha256}}}, {"custom", std::move(custom)}};
  }
  j["targets"] = targets;
  return j.dump();
}

std::string canonical(const SnapshotMeta& m) {
  json j = common_json(Role::kSnapshot, m);
  j["meta"] = {{"targets.json", meta_file_json(m.targets)}, {"rollout.json", meta_file_json(m.rollout)}};
  return j.dump();
}

std::string canonical(const TimestampMeta& m) {
  json j = common_json(Role::kTimestamp, m);
  j["meta"] = {{"snapshot.json", meta_file_json(m.snapshot)}};
  return j.dump();
}

std::string canonical(const RolloutMeta& m) {
  json j = common_json(Role::kRollout, m);
  json models = json::object();
  for (auto& [name, mr] : m.models) {
    json tiers = json::object();
    for (auto& [tier, t] : mr.tiers) {
      json tj = {{"target", t.target}, {"basis_points", t.basis_points}, {"rollout_id", t.rollout_id}};
      if (t.baseline) tj["baseline"] = *t.baseline;
      tiers[tier] = tj;
    }
    json pins = json::object();
    for (auto& [tier, v] : mr.pins) pins[tier] = v;
    models[name] = {{"floor", mr.floor}, {"pins", pins}, {"tiers", tiers}};
  }
  j["models"] = models;
  return j.dump();
}

// ---- parsing entry points ----

Result<Signed<RootMeta>> parse_root(ByteSpan file) { return parse_envelope<RootMeta>(file, kMaxRootBytes, Role::kRoot, read_root); }
Result<Signed<TargetsMeta>> parse_targets(ByteSpan file) {
  return parse_envelope<TargetsMeta>(file, kMaxTargetsBytes, Role::kTargets, read_targets);
}
Result<Signed<SnapshotMeta>> parse_snapshot(ByteSpan file) {
  return parse_envelope<SnapshotMeta>(file, kMaxSnapshotBytes, Role::kSnapshot, read_snapshot);
}
Result<Signed<TimestampMeta>> parse_timestamp(ByteSpan file) {
  return parse_envelope<TimestampMeta>(file, kMaxTimestampBytes, Role::kTimestamp, read_timestamp);
}
Result<Signed<RolloutMeta>> parse_rollout(ByteSpan file) {
  return parse_envelope<RolloutMeta>(file, kMaxRolloutBytes, Role::kRollout, read_rollout);
}

// ---- signatures ----

std::vector<std::byte> sign_file(std::string_view canonical_signed, std::span<const crypto::KeyPair* const> keys) {
  json sigs = json::array();
  for (const crypto::KeyPair* k : keys) {
    auto sig = crypto::sign(k->secret_key, as_bytes(canonical_signed));
    sigs.push_back({{"keyid", crypto::key_id(k->public_key)}, {"sig", crypto::to_hex(sig)}});
  }
  json doc = {{"signatures", sigs}, {"signed", json::parse(canonical_signed)}};
  std::string text = doc.dump(1) + "\n";
  auto bytes = as_bytes(text);
  return {bytes.begin(), bytes.end()};
}

Status verify_threshold(const RootMeta& root, Role role, std::string_view canonical_signed,
                        std::span<const SignatureEntry> signatures) {
  auto it = root.roles.find(role);
  if (it == root.roles.end()) return make_error(ErrorCode::kCorrupt, "root v{} has no {} role", root.version, role_name(role));
  const RoleKeys& rk = it->second;
  std::set<std::string> valid;
  for (const auto& s : signatures) {
    if (valid.contains(s.keyid)) continue;  // a key counts once
    if (std::find(rk.keyids.begin(), rk.keyids.end(), s.keyid) == rk.keyids.end()) continue;
    auto key = root.keys.find(s.keyid);
    if (key == root.keys.end()) continue;
    if (crypto::verify(key->second, as_bytes(canonical_signed), s.signature)) valid.insert(s.keyid);
  }
  if (static_cast<int>(valid.size()) < rk.threshold)
    return make_error(ErrorCode::kFailedPrecondition,
                      "{} metadata: threshold not met: {} valid signature(s) from {}'s {} key(s) of root v{}, {} needed",
                      role_name(role), valid.size(), role_name(role), rk.keyids.size(), root.version, rk.threshold);
  return ok();
}

Status check_meta_file(std::string_view file, Role role, ByteSpan bytes, const MetaFile& meta, std::string_view described_by) {
  if (bytes.size() != meta.length)
    return make_error(ErrorCode::kCorrupt, "{}: {} is {} bytes but {} says {} (mix-and-match or a tampered file)", file,
                      role_name(role), bytes.size(), described_by, meta.length);
  std::string hash = sha256_hex(bytes);
  if (hash != meta.sha256)
    return make_error(ErrorCode::kCorrupt, "{}: {} has SHA-256 {} but {} says {} (mix-and-match or a tampered file)", file,
                      role_name(role), hash, described_by, meta.sha256);
  return ok();
}

// ---- rollout against targets ----

Status check_rollout(const RolloutMeta& rollout, const TargetsMeta& targets, const RolloutMeta* previous) {
  for (auto& [model, mr] : rollout.models) {
    auto check_target = [&](const std::string& path, const std::string& tier, std::string_view what) -> Status {
      auto t = targets.targets.find(path);
      if (t == targets.targets.end())
        return make_error(ErrorCode::kFailedPrecondition, "rollout: {} {} of {} for tier {} is not a released target", what,
                          path, model, tier);
      if (t->second.model != model)
        return make_error(ErrorCode::kFailedPrecondition, "rollout: {} {} for {} tier {} is a target of model {}", what, path,
                          model, tier, t->second.model);
      if (std::find(t->second.tiers.begin(), t->second.tiers.end(), tier) == t->second.tiers.end())
        return make_error(ErrorCode::kFailedPrecondition,
                          "rollout: {} {} of {} is variant {} for tiers [{}], not for tier {}", what, path, model,
                          t->second.variant, fmt::join(t->second.tiers, ", "), tier);
      if (!mr.floor.empty() && compare_versions(t->second.model_version, mr.floor) < 0)
        return make_error(ErrorCode::kFailedPrecondition, "rollout: {} {} of {} tier {} is version {}, below the floor {}",
                          what, path, model, tier, t->second.model_version, mr.floor);
      return ok();
    };
    for (auto& [tier, tr] : mr.tiers) {
      EL_CHECK(check_target(tr.target, tier, "target"));
      if (tr.baseline) EL_CHECK(check_target(*tr.baseline, tier, "baseline"));
    }
    for (auto& [tier, version] : mr.pins) {
      if (!mr.floor.empty() && compare_versions(version, mr.floor) < 0)
        return make_error(ErrorCode::kFailedPrecondition, "rollout: pin of {} {} to version {} is below the floor {}", model,
                          tier == "*" ? "fleet" : "tier " + tier, version, mr.floor);
      bool released = std::any_of(targets.targets.begin(), targets.targets.end(), [&](const auto& kv) {
        const TargetInfo& t = kv.second;
        return t.model == model && compare_versions(t.model_version, version) == 0 &&
               (tier == "*" || std::find(t.tiers.begin(), t.tiers.end(), tier) != t.tiers.end());
      });
      if (!released)
        return make_error(ErrorCode::kFailedPrecondition, "rollout: pin of {} {} to version {}: no such released target", model,
                          tier == "*" ? "fleet" : "tier " + tier, version);
    }
    if (previous) {
      auto old = previous->models.find(model);
      if (old != previous->models.end() && !old->second.floor.empty() &&
          (mr.floor.empty() || compare_versions(mr.floor, old->second.floor) < 0))
        return make_error(ErrorCode::kFailedPrecondition, "rollout: the floor of {} would go down from {} to {}", model,
                          old->second.floor, mr.floor.empty() ? "none" : mr.floor);
    }
  }
  if (previous)
    for (auto& [model, old] : previous->models)
      if (!old.floor.empty() && !rollout.models.contains(model))
        return make_error(ErrorCode::kFailedPrecondition, "rollout: model {} with floor {} was dropped", model, old.floor);
  return ok();
}

}  // namespace edgeloop::ota
