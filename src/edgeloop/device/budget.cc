#include "edgeloop/device/budget.h"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/file.h"

namespace edgeloop::device {

using json = nlohmann::json;

namespace {

constexpr std::string_view kFormat = "edgeloop-budgets";
constexpr int64_t kFormatVersion = 1;
constexpr size_t kMaxFileBytes = size_t{1} << 20;
constexpr int kMaxDepth = 8;
constexpr size_t kMaxTiers = 256;

std::unexpected<Error> bad(std::string_view where, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "{} {}", where, what);
}

// A double in [lo, hi] (or (lo, hi] when lo_open): the range checks of every field.
Status check_range(double x, std::string_view where, double lo, bool lo_open, double hi, std::string_view unit = "") {
  if (!std::isfinite(x) || (lo_open ? x <= lo : x < lo) || x > hi)
    return bad(where, fmt::format("= {} is outside {}{}, {}]{}", x, lo_open ? "(" : "[", lo, hi, unit));
  return ok();
}

bool valid_tier_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

struct DuplicateKey {
  std::string message;
};

Result<json> parse_strict(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    if (depth > kMaxDepth) throw DuplicateKey{fmt::format("nested deeper than {} levels", kMaxDepth)};
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          throw DuplicateKey{fmt::format("duplicate key \"{}\"", parsed.get<std::string>())};
        break;
      default: break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const DuplicateKey& e) {
    return make_error(ErrorCode::kInvalidArgument, "budgets: {}", e.message);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "budgets: not valid JSON ({})", e.what());
  }
}

Result<double> number(const json& tier, std::string_view tier_path, std::string_view key, bool required, double fallback) {
  auto it = tier.find(key);
  auto where = fmt::format("{}.{}", tier_path, key);
  if (it == tier.end()) {
    if (required) return bad(where, "is missing (a required field)");
    return fallback;
  }
  if (!it->is_number()) return bad(where, fmt::format("must be a number, not {}", it->type_name()));
  return it->get<double>();
}

Result<Envelope> parse_envelope(const json& tier, const std::string& name) {
  auto path = fmt::format("budgets: tiers.{}", name);
  if (!tier.is_object()) return bad(path, "must be an object");
  static constexpr std::string_view known[] = {
      "latency_p95_ms", "memory_bytes", "energy_mj_per_inference", "thermal_throttle_c", "fps",
      "smaller_energy_ratio", "lower_rate_fps", "remote_energy_ratio"};
  for (auto& [key, value] : tier.items())
    if (std::find(std::begin(known), std::end(known), key) == std::end(known))
      return bad(fmt::format("{}.{}", path, key),
                 "is not a known field (known: latency_p95_ms, memory_bytes, energy_mj_per_inference, thermal_throttle_c, "
                 "fps, smaller_energy_ratio, lower_rate_fps, remote_energy_ratio)");
  Envelope e;
  EL_TRY(e.latency_p95_ms, number(tier, path, "latency_p95_ms", true, 0));
  {
    auto it = tier.find("memory_bytes");
    auto where = fmt::format("{}.memory_bytes", path);
    if (it == tier.end()) return bad(where, "is missing (a required field)");
    if (!it->is_number_integer()) return bad(where, fmt::format("must be an integer number of bytes, not {}", it->type_name()));
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0)
      return bad(where, fmt::format("= {} must be > 0", it->is_number_unsigned() ? 0 : it->get<int64_t>()));
    e.memory_bytes = it->get<uint64_t>();
  }
  EL_TRY(e.energy_mj_per_inference, number(tier, path, "energy_mj_per_inference", true, 0));
  EL_TRY(e.thermal_throttle_c, number(tier, path, "thermal_throttle_c", true, 0));
  EL_TRY(e.fps, number(tier, path, "fps", true, 0));
  EL_TRY(e.smaller_energy_ratio, number(tier, path, "smaller_energy_ratio", false, e.smaller_energy_ratio));
  EL_TRY(e.lower_rate_fps, number(tier, path, "lower_rate_fps", false, e.lower_rate_fps));
  EL_TRY(e.remote_energy_ratio, number(tier, path, "remote_energy_ratio", false, e.remote_energy_ratio));
  EL_CHECK(validate(e, path));
  return e;
}

}  // namespace

Result<FpsOverride> with_fps(Envelope envelope, double fps, std::string_view where) {
  FpsOverride out;
  envelope.fps = fps;
  if (envelope.lower_rate_fps > 0 && envelope.lower_rate_fps >= fps) {
    envelope.lower_rate_fps = 0;
    out.lower_rate_clamped = true;
  }
  EL_CHECK(validate(envelope, where));
  out.envelope = envelope;
  return out;
}

Status validate(const Envelope& e, std::string_view where) {
  auto at = [&](std::string_view field) { return fmt::format("{}.{}", where, field); };
  EL_CHECK(check_range(e.latency_p95_ms, at("latency_p95_ms"), 0, true, 60000, " ms"));
  if (e.memory_bytes == 0) return bad(at("memory_bytes"), "= 0 must be > 0");
  EL_CHECK(check_range(e.energy_mj_per_inference, at("energy_mj_per_inference"), 0, true, 100000, " mJ"));
  EL_CHECK(check_range(e.thermal_throttle_c, at("thermal_throttle_c"), 30, false, 150, " C"));
  EL_CHECK(check_range(e.fps, at("fps"), 0, true, 240));
  EL_CHECK(check_range(e.smaller_energy_ratio, at("smaller_energy_ratio"), 0, true, 1));
  EL_CHECK(check_range(e.remote_energy_ratio, at("remote_energy_ratio"), 0, true, 1));
  if (!std::isfinite(e.lower_rate_fps) || e.lower_rate_fps < 0 || (e.lower_rate_fps > 0 && e.lower_rate_fps >= e.fps))
    return bad(at("lower_rate_fps"),
               fmt::format("= {} must be 0 (= fps / 2) or in (0, fps = {}): L2 must run slower than L0", e.lower_rate_fps, e.fps));
  return ok();
}

double declared_power_w(const Envelope& e, Level level, bool smaller_available) {
  double e0 = e.energy_mj_per_inference / 1000.0;  // joules
  double small = smaller_available ? e.smaller_energy_ratio : 1.0;
  switch (level) {
    case Level::kFull: return e0 * e.fps;
    case Level::kSmaller: return e0 * small * e.fps;
    case Level::kLowerRate: return e0 * small * e.effective_lower_rate_fps();
    case Level::kRemote: return e0 * e.remote_energy_ratio * e.effective_lower_rate_fps();
    case Level::kHeuristic: return 0;
  }
  return 0;
}

Result<Envelope> BudgetConfig::for_tier(std::string_view tier) const {
  auto it = tiers.find(std::string(tier));
  if (it == tiers.end()) {
    std::string names;
    for (auto& [name, envelope] : tiers) names += (names.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::kNotFound, "budgets: no envelope for tier \"{}\" (known tiers: {})", tier,
                      names.empty() ? std::string("none") : names);
  }
  return it->second;
}

Result<BudgetConfig> parse_budget_config(std::string_view json_text) {
  EL_TRY(json doc, parse_strict(json_text));
  if (!doc.is_object()) return bad("budgets:", "the document must be a JSON object");
  for (auto& [key, value] : doc.items())
    if (key != "format" && key != "format_version" && key != "tiers")
      return bad(fmt::format("budgets: {}", key), "is not a known field (known: format, format_version, tiers)");
  auto format = doc.find("format");
  if (format == doc.end() || !format->is_string() || format->get<std::string>() != kFormat)
    return bad("budgets: format",
               fmt::format("must be \"{}\"{}", kFormat,
                           format == doc.end() ? std::string(" (missing)")
                           : format->is_string() ? fmt::format(", not \"{}\"", format->get<std::string>())
                                                 : fmt::format(", not a {}", format->type_name())));
  auto version = doc.find("format_version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != kFormatVersion)
    return bad("budgets: format_version",
               fmt::format("must be {}{} (this build reads version {} only)", kFormatVersion,
                           version == doc.end() ? std::string(" (missing)")
                           : version->is_number_integer() ? fmt::format(", not {}", version->get<int64_t>())
                                                          : fmt::format(", not a {}", version->type_name()),
                           kFormatVersion));
  auto tiers = doc.find("tiers");
  if (tiers == doc.end() || !tiers->is_object() || tiers->empty())
    return bad("budgets: tiers", "must be a non-empty object of tier name -> envelope");
  if (tiers->size() > kMaxTiers) return bad("budgets: tiers", fmt::format("has more than {} tiers", kMaxTiers));
  BudgetConfig config;
  for (auto& [name, tier] : tiers->items()) {
    if (!valid_tier_name(name))
      return bad(fmt::format("budgets: tiers.\"{}\"", name), "is not a tier name (1-64 of A-Z a-z 0-9 - _ .)");
    EL_TRY(auto envelope, parse_envelope(tier, name));
    config.tiers.emplace(name, envelope);
  }
  return config;
}

Result<BudgetConfig> load_budget_config(const std::filesystem::path& file) {
  auto bytes = read_file(file, kMaxFileBytes);
  if (!bytes) return std::unexpected(bytes.error().context(fmt::format("budgets {}", file.string())));
  auto config = parse_budget_config(as_chars(*bytes));
  if (!config) return std::unexpected(config.error().context(file.string()));
  return config;
}

const BudgetConfig& default_budget_config() {
  // examples/budgets.json (BudgetConfig.DefaultIsTheExampleFile keeps the two equal).
  static const BudgetConfig config = [] {
    auto parsed = parse_budget_config(R"json({
  "format": "edgeloop-budgets",
  "format_version": 1,
  "tiers": {
    "flagship": {
      "latency_p95_ms": 33,
      "memory_bytes": 67108864,
      "energy_mj_per_inference": 20,
      "thermal_throttle_c": 85,
      "fps": 30,
      "smaller_energy_ratio": 0.35,
      "lower_rate_fps": 15,
      "remote_energy_ratio": 0.2
    },
    "mid": {
      "latency_p95_ms": 50,
      "memory_bytes": 33554432,
      "energy_mj_per_inference": 35,
      "thermal_throttle_c": 80,
      "fps": 30,
      "smaller_energy_ratio": 0.35,
      "lower_rate_fps": 15,
      "remote_energy_ratio": 0.25
    },
    "low": {
      "latency_p95_ms": 80,
      "memory_bytes": 16777216,
      "energy_mj_per_inference": 60,
      "thermal_throttle_c": 75,
      "fps": 15,
      "smaller_energy_ratio": 0.35,
      "lower_rate_fps": 7.5,
      "remote_energy_ratio": 0.3
    }
  }
})json");
    if (!parsed) std::abort();
    return std::move(*parsed);
  }();
  return config;
}

}  // namespace edgeloop::device
