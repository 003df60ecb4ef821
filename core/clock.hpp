// Clock: injected time, so every policy can be tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tollgate::core {

/// Source of time for policies and measurements. Implementations are thread-safe.
class Clock {
 public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;
  virtual ~Clock() = default;
  /// Monotonic time, for durations and deadlines.
  virtual Steady::time_point now() const noexcept = 0;
  /// Calendar time, for periods, expiry and records.
  virtual Wall::time_point wall_now() const noexcept = 0;
};

/// The real clocks.
class SystemClock final : public Clock {
 public:
  Steady::time_point now() const noexcept override { return Steady::now(); }
  Wall::time_point wall_now() const noexcept override { return Wall::now(); }
};

/// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Wall::time_point wall_start = Wall::time_point{std::chrono::seconds{1'700'000'000}})
      : wall_start_(wall_start) {}
  Steady::time_point now() const noexcept override { return Steady::time_point{std::chrono::nanoseconds{elapsed_.load()}}; }
  Wall::time_point wall_now() const noexcept override {
    return wall_start_ + std::chrono::duration_cast<Wall::duration>(std::chrono::nanoseconds{elapsed_.load()});
  }
  void advance(std::chrono::nanoseconds by) noexcept { elapsed_ += by.count(); }

 private:
  Wall::time_point wall_start_;
  std::atomic<std::int64_t> elapsed_{0};  // nanoseconds since the start
};

}  // namespace tollgate::core
