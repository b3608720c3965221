// Time for download tests: a clock moved only by the downloader's sleeps (the device's network
// and power state is ota::FixedConditions, set by the test).
#pragma once

#include <chrono>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/ota/downloader.h"

namespace edgeloop::testing {

// A virtual clock that moves only when the downloader sleeps: what it asked for is recorded.
class FakeClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return now_; }
  int64_t unix_seconds() const override { return 1'700'000'000; }
  ota::SleepFunction sleeper() {
    return [this](std::chrono::nanoseconds d) {
      sleeps.push_back(d);
      now_ += d;
    };
  }
  std::chrono::nanoseconds total_sleep() const {
    std::chrono::nanoseconds total{0};
    for (auto d : sleeps) total += d;
    return total;
  }
  std::vector<std::chrono::nanoseconds> sleeps;

 private:
  std::chrono::nanoseconds now_{std::chrono::seconds(1000)};
};

}  // namespace edgeloop::testing
