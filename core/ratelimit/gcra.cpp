// GCRA: acquire, adjust and idle on one bucket's theoretical arrival time, in integer nanoseconds.
#include "core/ratelimit/gcra.hpp"

#include <algorithm>
#include <limits>

namespace tollgate::core {
namespace {

// Products of a time (< 2^63 ns) and a limit (< 2^63) need 126 bits.
__extension__ using Wide = __int128;

constexpr Wide kMaxNanos = std::numeric_limits<std::int64_t>::max();

Wide floor_div(Wide a, Wide b) {  // b > 0
  Wide q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

Wide ceil_div(Wide a, Wide b) {  // b > 0
  Wide q = a / b;
  if (a % b != 0 && a > 0) ++q;
  return q;
}

std::int64_t nanos(Clock::Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::Steady::time_point time_point(Wide ns) {
  const auto clamped = static_cast<std::int64_t>(std::clamp(ns, -kMaxNanos, kMaxNanos));
  return Clock::Steady::time_point{std::chrono::duration_cast<Clock::Steady::duration>(std::chrono::nanoseconds{clamped})};
}

bool valid(const Rate& rate) { return rate.limit > 0 && rate.period.count() > 0; }

// One unit lasts period/limit ns, rarely a whole number. Rounding each step on its own would
// drift (7 per minute is 8571428571.43 ns a unit), so every step is measured on one fixed grid of
// unit boundaries g(j) = ceil(j * period / limit): from the grid cell j holding `from`, `units`
// more span g(j + units) - g(j) ns. Consecutive steps then telescope, and a run of acquisitions
// lands where one acquisition of the same total would, to within 1 ns instead of n ns.
// With r = (j * period) mod limit that span is ceil((r + units * period) / limit) - ceil(r / limit).
// A unit shorter than 1 ns (limits above period-in-ns) still takes at least 1 ns a step: strict.
struct Grid {
  Wide period;
  Wide limit;
  Wide r;

  Grid(const Rate& rate, Wide from) : period(rate.period.count()), limit(rate.limit) {
    const Wide cell = floor_div(from * limit, period);
    const Wide offset = cell * period;
    r = offset - floor_div(offset, limit) * limit;
  }
  // ns that `units` (>= 0) add after `from`.
  Wide forward(Wide units) const { return ceil_div(r + units * period, limit) - (r > 0 ? 1 : 0); }
  // ns that `units` (>= 0) take back before `from`.
  Wide backward(Wide units) const { return (r > 0 ? 1 : 0) + floor_div(units * period - r, limit); }
};

// Units left when the bucket runs `ahead` ns ahead of now. The TAT is rounded up to a whole ns, so
// up to 1 ns of that rounding (but less than one unit) is given back before flooring; else 7/min
// would show 5 left after the first acquisition.
std::int64_t remaining_at(const Rate& rate, Wide ahead) {
  const Wide period = rate.period.count();
  if (ahead >= period) return 0;
  if (ahead < 0) ahead = 0;
  const Wide slack = std::min<Wide>(rate.limit, period) - 1;
  const Wide units = ((period - ahead) * rate.limit + slack) / period;
  return static_cast<std::int64_t>(std::min<Wide>(units, rate.limit));
}

}  // namespace

Decision gcra_acquire(GcraState& state, Rate rate, std::int64_t cost, Clock::Steady::time_point now) noexcept {
  Decision decision;
  if (!valid(rate)) {
    decision.never = true;
    return decision;
  }
  cost = std::max<std::int64_t>(cost, 0);
  const Wide now_ns = nanos(now);
  const Wide base = std::max<Wide>(nanos(state.tat), now_ns);
  if (cost > rate.limit) {
    decision.never = true;
    decision.remaining = remaining_at(rate, base - now_ns);
    return decision;
  }
  const Wide new_tat = base + Grid(rate, base).forward(cost);
  const Wide ahead = new_tat - now_ns;
  const Wide period = rate.period.count();
  if (ahead <= period) {
    state.tat = time_point(new_tat);
    decision.allowed = true;
    decision.remaining = remaining_at(rate, ahead);
  } else {
    decision.retry_after = std::chrono::nanoseconds{static_cast<std::int64_t>(std::min(ahead - period, kMaxNanos))};
    decision.remaining = remaining_at(rate, base - now_ns);
  }
  return decision;
}

void gcra_adjust(GcraState& state, Rate rate, std::int64_t delta, Clock::Steady::time_point now) noexcept {
  if (!valid(rate) || delta == 0) return;
  const Wide now_ns = nanos(now);
  const Wide tat = nanos(state.tat);
  if (delta > 0) {
    const Wide base = std::max(tat, now_ns);
    state.tat = time_point(base + Grid(rate, base).forward(delta));
    return;
  }
  if (tat <= now_ns) return;  // already full
  const Wide refunded = tat - Grid(rate, tat).backward(-static_cast<Wide>(delta));
  state.tat = time_point(std::max(refunded, now_ns));
}

bool gcra_idle(const GcraState& state, Clock::Steady::time_point now) noexcept { return state.tat <= now; }

}  // namespace tollgate::core
