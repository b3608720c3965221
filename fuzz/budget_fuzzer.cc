// Any bytes as a budgets file (device/budget.h): parse or refuse with kInvalidArgument; every
// envelope that parses must pass validate() and give a finite, non-negative declared power at
// every ladder level.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "edgeloop/device/budget.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  auto config = device::parse_budget_config(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!config) {
    if (config.error().code != ErrorCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  for (const auto& [tier, envelope] : config->tiers) {
    if (!device::validate(envelope, tier)) __builtin_trap();
    for (device::Level level : device::kAllLevels)
      for (bool smaller : {false, true}) {
        const double w = device::declared_power_w(envelope, level, smaller);
        if (!std::isfinite(w) || w < 0) __builtin_trap();
      }
    if (!config->for_tier(tier)) __builtin_trap();
  }
  return 0;
}
