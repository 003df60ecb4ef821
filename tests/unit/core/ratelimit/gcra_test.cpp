// GCRA: burst, refill, retry_after, costs, adjustments, exactness over many periods and overflow.
#include <catch2/catch.hpp>

#include <limits>

#include "core/clock.hpp"
#include "core/ratelimit/gcra.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// Moves `clock` to `ns` after its start.
void move_to(ManualClock& clock, std::int64_t ns) {
  clock.advance(std::chrono::nanoseconds{ns} - clock.now().time_since_epoch());
}

void drain(GcraState& state, Rate rate, ManualClock& clock) {
  for (std::int64_t i = 0; i < rate.limit; ++i) REQUIRE(gcra_acquire(state, rate, 1, clock.now()).allowed);
  REQUIRE_FALSE(gcra_acquire(state, rate, 1, clock.now()).allowed);
}
}  // namespace

TEST_CASE("a full bucket allows exactly limit acquisitions, then one per period/limit", "[ratelimit]") {
  ManualClock clock;
  // Also from a start that is not a multiple of the interval.
  const auto start = GENERATE(0ns, 123'456'789ns);
  clock.advance(start);
  GcraState state;
  const Rate rate{3, 1min};
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto decision = gcra_acquire(state, rate, 1, clock.now());
    CHECK(decision.allowed);
    CHECK(decision.remaining == 2 - i);
  }
  auto denied = gcra_acquire(state, rate, 1, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK_FALSE(denied.never);
  CHECK(denied.retry_after == 20s);
  CHECK(denied.remaining == 0);

  clock.advance(denied.retry_after - 1ns);
  denied = gcra_acquire(state, rate, 1, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after == 1ns);

  clock.advance(1ns);
  const auto allowed = gcra_acquire(state, rate, 1, clock.now());
  CHECK(allowed.allowed);
  CHECK(allowed.remaining == 0);
  CHECK(gcra_acquire(state, rate, 1, clock.now()).retry_after == 20s);
}

TEST_CASE("a rate whose interval is not a whole number of ns bursts exactly limit", "[ratelimit]") {
  ManualClock clock;
  clock.advance(GENERATE(0ns, 5s, 1234567ns));
  GcraState state;
  const Rate rate{7, 1min};  // 8571428571.43 ns a unit
  for (std::int64_t i = 0; i < 7; ++i) {
    const auto decision = gcra_acquire(state, rate, 1, clock.now());
    REQUIRE(decision.allowed);
    CHECK(decision.remaining == 6 - i);
  }
  const auto denied = gcra_acquire(state, rate, 1, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after >= 8'571'428'571ns);
  CHECK(denied.retry_after <= 8'571'428'572ns);
}

TEST_CASE("a cost above the limit is never allowed and leaves the bucket alone", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{10, 1min};
  const auto decision = gcra_acquire(state, rate, 11, clock.now());
  CHECK_FALSE(decision.allowed);
  CHECK(decision.never);
  CHECK(decision.remaining == 10);
  CHECK(state.tat == GcraState{}.tat);
  const auto whole = gcra_acquire(state, rate, 10, clock.now());
  CHECK(whole.allowed);
  CHECK(whole.remaining == 0);
  CHECK_FALSE(gcra_acquire(state, rate, 1, clock.now()).never);
}

TEST_CASE("remaining counts down and a denied cost says when it will fit", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{10, 1s};
  CHECK(gcra_acquire(state, rate, 3, clock.now()).remaining == 7);
  CHECK(gcra_acquire(state, rate, 5, clock.now()).remaining == 2);
  const auto tat_before = state.tat;
  const auto denied = gcra_acquire(state, rate, 3, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after == 100ms);
  CHECK(denied.remaining == 2);
  CHECK(state.tat == tat_before);
  const auto rest = gcra_acquire(state, rate, 2, clock.now());
  CHECK(rest.allowed);
  CHECK(rest.remaining == 0);

  clock.advance(350ms);
  const auto probe = gcra_acquire(state, rate, 0, clock.now());
  CHECK(probe.allowed);
  CHECK(probe.remaining == 3);
}

TEST_CASE("a bucket refills completely after one period", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{5, 1h};
  drain(state, rate, clock);
  CHECK_FALSE(gcra_idle(state, clock.now()));
  clock.advance(1h - 1ns);
  CHECK_FALSE(gcra_idle(state, clock.now()));
  clock.advance(1ns);
  CHECK(gcra_idle(state, clock.now()));
  CHECK(gcra_acquire(state, rate, 5, clock.now()).allowed);
}

TEST_CASE("adjust charges into debt and refunds at most to full", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{10, 1s};
  REQUIRE(gcra_acquire(state, rate, 5, clock.now()).allowed);

  gcra_adjust(state, rate, 10, clock.now());  // 15 used of 10: 5 units of debt
  auto denied = gcra_acquire(state, rate, 1, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after == 600ms);
  CHECK(denied.remaining == 0);

  gcra_adjust(state, rate, -3, clock.now());
  CHECK(gcra_acquire(state, rate, 1, clock.now()).retry_after == 300ms);

  gcra_adjust(state, rate, 0, clock.now());
  CHECK(gcra_acquire(state, rate, 1, clock.now()).retry_after == 300ms);

  gcra_adjust(state, rate, -100, clock.now());
  CHECK(gcra_idle(state, clock.now()));
  const auto full = gcra_acquire(state, rate, 10, clock.now());
  CHECK(full.allowed);
  CHECK(full.remaining == 0);
  CHECK(gcra_acquire(state, rate, 1, clock.now()).retry_after == 100ms);

  // A refund to a bucket that is already full changes nothing.
  clock.advance(10s);
  gcra_adjust(state, rate, -50, clock.now());
  CHECK(gcra_acquire(state, rate, 10, clock.now()).allowed);
  CHECK_FALSE(gcra_acquire(state, rate, 1, clock.now()).allowed);
}

TEST_CASE("a charge on a full bucket counts from now", "[ratelimit]") {
  ManualClock clock;
  clock.advance(1h);
  GcraState state;
  const Rate rate{10, 1s};
  gcra_adjust(state, rate, 4, clock.now());
  CHECK(gcra_acquire(state, rate, 0, clock.now()).remaining == 6);
}

TEST_CASE("3 per minute stays exact over 3000 periods", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{3, 1min};
  drain(state, rate, clock);

  SECTION("one every 20 s is always allowed") {
    int allowed = 0;
    for (int i = 0; i < 3000; ++i) {
      clock.advance(20s);
      allowed += gcra_acquire(state, rate, 1, clock.now()).allowed;
    }
    CHECK(allowed == 3000);
    CHECK(gcra_acquire(state, rate, 1, clock.now()).retry_after == 20s);
  }
  SECTION("one every 20 s minus 1 ns: 3001 tries in under 3001 intervals get exactly 3000") {
    int allowed = 0;
    for (int i = 0; i < 3001; ++i) {
      clock.advance(20s - 1ns);
      allowed += gcra_acquire(state, rate, 1, clock.now()).allowed;
    }
    CHECK(allowed == 3000);
  }
}

TEST_CASE("7 per minute (a fractional ns interval) does not drift over 3000 periods", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  const Rate rate{7, 1min};
  drain(state, rate, clock);
  // The k-th unit refills at k * 60e9 / 7 ns exactly; the first whole ns at or after it is on time,
  // the ns before it is early.
  const auto refill = [](std::int64_t k) { return (k * 60'000'000'000 + 6) / 7; };

  SECTION("on time: always allowed") {
    int allowed = 0;
    for (std::int64_t k = 1; k <= 3000; ++k) {
      move_to(clock, refill(k));
      allowed += gcra_acquire(state, rate, 1, clock.now()).allowed;
    }
    CHECK(allowed == 3000);
    CHECK_FALSE(gcra_acquire(state, rate, 1, clock.now()).allowed);
  }
  SECTION("1 ns early every time: the first try is refused, and never a unit more than refilled") {
    int allowed = 0;
    for (std::int64_t k = 1; k <= 3001; ++k) {
      move_to(clock, refill(k) - 1);
      const bool ok = gcra_acquire(state, rate, 1, clock.now()).allowed;
      if (k == 1) CHECK_FALSE(ok);
      allowed += ok;
    }
    CHECK(allowed == 3000);
  }
}

TEST_CASE("huge limits, costs and charges neither overflow nor wrap", "[ratelimit]") {
  ManualClock clock;
  clock.advance(std::chrono::hours(24 * 365 * 100));  // a steady clock a century in
  GcraState state;

  SECTION("10^12 per minute") {
    const Rate rate{1'000'000'000'000, 1min};
    const auto whole = gcra_acquire(state, rate, 1'000'000'000'000, clock.now());
    CHECK(whole.allowed);
    CHECK(whole.remaining == 0);
    const auto more = gcra_acquire(state, rate, 1, clock.now());
    CHECK_FALSE(more.allowed);
    CHECK(more.retry_after == 1ns);
    clock.advance(30s);
    const auto half = gcra_acquire(state, rate, 0, clock.now());
    CHECK(half.remaining >= 499'999'999'000);
    CHECK(half.remaining <= 500'000'000'000);
    CHECK(gcra_acquire(state, rate, 499'999'999'000, clock.now()).allowed);
  }
  SECTION("the largest limit and cost") {
    const Rate rate{kMax, 1min};
    CHECK(gcra_acquire(state, rate, kMax, clock.now()).allowed);
    const auto more = gcra_acquire(state, rate, kMax, clock.now());
    CHECK_FALSE(more.allowed);
    CHECK(more.retry_after == 1min);
  }
  SECTION("the largest period, from the clock's origin") {
    ManualClock origin;
    const Rate rate{kMax, std::chrono::nanoseconds{kMax}};
    CHECK(gcra_acquire(state, rate, kMax, origin.now()).allowed);
    const auto more = gcra_acquire(state, rate, 1, origin.now());
    CHECK_FALSE(more.allowed);
    CHECK(more.retry_after == 1ns);
  }
  SECTION("a cost far above a small limit") {
    const auto decision = gcra_acquire(state, Rate{3, 1min}, kMax, clock.now());
    CHECK(decision.never);
    CHECK(decision.remaining == 3);
  }
  SECTION("a huge charge saturates, a huge refund empties the debt") {
    const Rate rate{1, 1min};
    gcra_adjust(state, rate, kMax, clock.now());
    const auto denied = gcra_acquire(state, rate, 1, clock.now());
    CHECK_FALSE(denied.allowed);
    CHECK(denied.retry_after > std::chrono::hours(24 * 365 * 100));
    gcra_adjust(state, rate, std::numeric_limits<std::int64_t>::min(), clock.now());
    CHECK(gcra_idle(state, clock.now()));
    CHECK(gcra_acquire(state, rate, 1, clock.now()).allowed);
  }
}

TEST_CASE("a changed rate applies from the next call", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  drain(state, Rate{10, 1min}, clock);
  clock.advance(3s);
  // At 10/min 3 s refill half a unit; at 20/min a whole one.
  const auto slow = gcra_acquire(state, Rate{10, 1min}, 1, clock.now());
  CHECK_FALSE(slow.allowed);
  CHECK(slow.retry_after == 3s);
  CHECK(gcra_acquire(state, Rate{20, 1min}, 1, clock.now()).allowed);
}

TEST_CASE("a rate without a positive limit or period allows nothing", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  CHECK(gcra_acquire(state, Rate{0, 1min}, 1, clock.now()).never);
  CHECK(gcra_acquire(state, Rate{5, 0s}, 1, clock.now()).never);
  gcra_adjust(state, Rate{0, 1min}, 5, clock.now());
  CHECK(gcra_idle(state, clock.now()));
}

TEST_CASE("a default state is an idle, full bucket", "[ratelimit]") {
  ManualClock clock;
  GcraState state;
  CHECK(gcra_idle(state, clock.now()));
  REQUIRE(gcra_acquire(state, Rate{2, 1s}, 1, clock.now()).allowed);
  CHECK_FALSE(gcra_idle(state, clock.now()));
  clock.advance(500ms);
  CHECK(gcra_idle(state, clock.now()));
}
