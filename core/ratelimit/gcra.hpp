// GCRA: the pure rate-limit policy (a token bucket kept as one timestamp).
#pragma once

#include <chrono>
#include <cstdint>

#include "core/clock.hpp"

namespace tollgate::core {

/// `limit` units per `period`, refilled evenly, with a burst of at most `limit`.
struct Rate {
  std::int64_t limit = 0;  // > 0
  std::chrono::nanoseconds period{std::chrono::minutes(1)};
};

/// `limit` units per minute (the rpm and tpm limits of keys and deployments).
constexpr Rate per_minute(std::int64_t limit) noexcept { return Rate{limit, std::chrono::minutes(1)}; }

/// The whole state of one bucket: its theoretical arrival time. A default state is a full bucket.
struct GcraState {
  Clock::Steady::time_point tat{};
};

struct Decision {
  bool allowed = false;
  std::chrono::nanoseconds retry_after{0};  // when denied: how long until `cost` would fit
  std::int64_t remaining = 0;               // units left after this decision (floor, >= 0)
  bool never = false;                       // denied because cost > limit: waiting cannot help
};

/// Takes `cost` units at `now` when they fit (updating `state`), else leaves `state` untouched and
/// says how long until they would. Pure: no clock, no locks.
Decision gcra_acquire(GcraState& state, Rate rate, std::int64_t cost, Clock::Steady::time_point now) noexcept;

/// Charges (delta > 0) or refunds (delta < 0) units after the fact, e.g. real tokens against the
/// estimate. A charge may push the bucket into debt that later acquires wait out; a refund never
/// makes the bucket fuller than full.
void gcra_adjust(GcraState& state, Rate rate, std::int64_t delta, Clock::Steady::time_point now) noexcept;

/// True when the bucket is full at `now` (its state can be forgotten).
bool gcra_idle(const GcraState& state, Clock::Steady::time_point now) noexcept;

}  // namespace tollgate::core
