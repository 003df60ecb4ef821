// CircuitBreaker: stops sending traffic to a deployment whose recent failure rate is too high.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/clock.hpp"

namespace tollgate::core {

struct BreakerOptions {
  double failure_rate = 0.5;                   // open when failures / requests in the window >= this
  int min_requests = 10;                       // ... and the window holds at least this many (< 1 counts as 1)
  std::chrono::milliseconds window{30'000};    // sliding window, in kBreakerBuckets buckets
  std::chrono::milliseconds cool_off{15'000};  // open → half-open after this (see kMaxCoolOffFactor)
  int half_open_probes = 1;                    // requests let through while half-open (< 1 counts as 1)
};

/// The window is kept as this many buckets of window / kBreakerBuckets each; an outcome is
/// forgotten when its bucket leaves the window, i.e. between 0.9 and 1.0 window after it.
inline constexpr int kBreakerBuckets = 10;
/// A probe that fails re-opens for twice the previous cool-off, up to this factor of `cool_off`
/// (15 s, 30 s, 60 s, 120 s, 120 s, … with the defaults); closing resets it to 1.
inline constexpr int kMaxCoolOffFactor = 8;

enum class CircuitState { kClosed, kOpen, kHalfOpen };

/// "closed", "open", "half_open" (the spelling in metrics labels and the providers API).
std::string_view to_string(CircuitState state) noexcept;

/// The breaker of one deployment. Thread-safe (one small mutex held for a few dozen instructions),
/// no allocation after construction, time only from arguments: a pure function of (state, now).
///
/// Closed: every request may start; each outcome goes into the sliding window, and a failure that
/// leaves the window with >= min_requests requests and failures / requests >= failure_rate opens
/// the circuit. Open: nothing starts until the cool-off has passed; then the next try_acquire
/// moves to half-open. Half-open: at most half_open_probes probes run at a time; once that many
/// have succeeded the circuit closes with an empty window, and the first failed probe re-opens it
/// with a longer cool-off. Outcomes that reach an open circuit, or a half-open one with no probe
/// in flight, come from requests admitted earlier and are ignored.
class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerOptions options = {});

  /// May a request start now? Closed: yes. Open: no until the cool-off has passed, then the
  /// circuit turns half-open and this request is its first probe. Half-open: yes while fewer than
  /// half_open_probes probes are in flight (and not yet enough have succeeded); each admitted
  /// probe must be followed by exactly one record() or, if it never ran, release().
  bool try_acquire(Clock::Steady::time_point now);
  /// The outcome of an admitted request. A success closes a half-open circuit once
  /// half_open_probes probes have succeeded; a failure re-opens it.
  void record(bool success, Clock::Steady::time_point now);
  /// An admitted request that did not run (e.g. the budget refused it): frees its probe slot
  /// without counting an outcome. No effect when no probe is in flight.
  void release(Clock::Steady::time_point now);

  /// The state at `now`: an open circuit whose cool-off has passed reads as half-open.
  CircuitState state(Clock::Steady::time_point now) const;
  /// When an open circuit lets a probe through (for Retry-After); nullopt unless open. A time in
  /// the past means the next try_acquire is admitted as a probe.
  std::optional<Clock::Steady::time_point> reopens_at() const;

  struct Snapshot {
    CircuitState state;
    int requests;         // in the window at `now`
    int failures;         // in the window at `now`
    double failure_rate;  // failures / requests, 0 with no requests
  };
  /// For metrics and /api/v1/providers.
  Snapshot snapshot(Clock::Steady::time_point now) const;

 private:
  struct Bucket {
    std::int64_t index = 0;  // which window / kBreakerBuckets slice of time it counts
    int requests = 0;
    int failures = 0;
  };
  struct Counts {
    int requests = 0;
    int failures = 0;
  };

  std::int64_t bucket_index(Clock::Steady::time_point now) const noexcept;
  Counts counts(Clock::Steady::time_point now) const noexcept;
  CircuitState state_at(Clock::Steady::time_point now) const noexcept;
  void open(Clock::Steady::time_point now) noexcept;
  void close() noexcept;

  const BreakerOptions options_;
  const std::int64_t bucket_nanos_;

  mutable std::mutex mutex_;
  CircuitState state_ = CircuitState::kClosed;
  std::array<Bucket, kBreakerBuckets> buckets_{};
  Clock::Steady::time_point reopens_at_{};
  int cool_off_factor_ = 1;    // of the current (or next) open period
  int probes_in_flight_ = 0;   // half-open only
  int probes_succeeded_ = 0;   // half-open only
};

}  // namespace tollgate::core
