// Budgets (docs/governor.md, "Budgets"): the envelope each capability tier declares for a
// feature — latency, memory, energy, the thermal threshold and the frame rate — read from a
// strict JSON file. The engine runs inside it; the governor de-rates before its thermal line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "edgeloop/base/error.h"
#include "edgeloop/device/ladder.h"

namespace edgeloop::device {

// One tier's declared budget.
struct Envelope {
  double latency_p95_ms = 0;           // > 0 (and <= 60000)
  uint64_t memory_bytes = 0;           // > 0: arena + weights the engine may hold
  double energy_mj_per_inference = 0;  // > 0 (and <= 100000): of the main (L0) variant on this tier's hardware
  double thermal_throttle_c = 0;       // the die temperature at which the platform throttles, 30..150
  double fps = 0;                      // frame rate of the feature, > 0 and <= 240
  // What the lower levels cost, as fractions of L0's energy per inference (declared, e.g. from the variant matrix):
  double smaller_energy_ratio = 0.35;  // L1, in (0, 1]
  double lower_rate_fps = 0;           // L2's frame rate; 0 = fps / 2; must be < fps
  double remote_energy_ratio = 0.25;   // L3: the head up to the cut plus the radio, in (0, 1]

  // L2's (and L3's) frame rate: lower_rate_fps, or fps / 2 when that is 0.
  double effective_lower_rate_fps() const { return lower_rate_fps > 0 ? lower_rate_fps : fps / 2; }
};

// Every field in range (the same checks the parser makes); `where` prefixes the message.
Status validate(const Envelope& envelope, std::string_view where = "envelope");

// The envelope at another frame rate (a feature that runs slower or faster than its tier
// declares; `edgeloop device simulate-camera --fps`). L2's declared lower rate stays when it is
// still below `fps`; otherwise it is clamped to the default rule, fps / 2 (lower_rate_fps = 0),
// so L2 keeps dropping frames, and `lower_rate_clamped` says so. The result is validated like a
// budget file (kInvalidArgument naming the field).
struct FpsOverride {
  Envelope envelope;
  bool lower_rate_clamped = false;
};
Result<FpsOverride> with_fps(Envelope envelope, double fps, std::string_view where = "envelope");

// The declared average power of the inference work at `level`, in watts (mJ per inference x
// inferences per second / 1000): L0 energy x fps; L1 x smaller_energy_ratio; L2 at the lower
// rate (with the smaller variant when one is installed, else the main one); L3 the remote
// ratio at the lower rate; L4 0. Without a smaller variant L1 costs what L0 does (the governor
// skips it). What a simulated thermal model is driven with when nothing is measured.
double declared_power_w(const Envelope& envelope, Level level, bool smaller_available);

struct BudgetConfig {
  std::map<std::string, Envelope> tiers;
  Result<Envelope> for_tier(std::string_view tier) const;  // kNotFound naming the known tiers
};

// {"format": "edgeloop-budgets", "format_version": 1, "tiers": {"mid": {...}, ...}}: unknown
// fields, duplicate keys, wrong types and values out of range are refused (kInvalidArgument)
// with the tier and the field named.
Result<BudgetConfig> parse_budget_config(std::string_view json_text);
Result<BudgetConfig> load_budget_config(const std::filesystem::path& file);  // + kNotFound/kIo; 1 MiB cap
// The budgets a device uses when it was given none: examples/budgets.json, built in.
const BudgetConfig& default_budget_config();

}  // namespace edgeloop::device
