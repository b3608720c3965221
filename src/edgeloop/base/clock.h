// Time is injected: production code reads a Clock, tests and the simulator substitute their own.
#pragma once

#include <chrono>
#include <cstdint>

namespace edgeloop {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for durations and deadlines.
  virtual std::chrono::nanoseconds now() const = 0;
  // Wall time, seconds since the Unix epoch, for expiry checks.
  virtual int64_t unix_seconds() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
  }
  int64_t unix_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace edgeloop
