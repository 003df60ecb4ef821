// CircuitBreaker: every transition, the sliding window, growing cool-off, stragglers and concurrency.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/routing/circuit_breaker.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

namespace {

// Window 10 s (buckets of 1 s), at least 4 requests, half failing, 5 s cool-off.
BreakerOptions options(int probes = 1) {
  BreakerOptions o;
  o.failure_rate = 0.5;
  o.min_requests = 4;
  o.window = 10s;
  o.cool_off = 5s;
  o.half_open_probes = probes;
  return o;
}

void fail(CircuitBreaker& breaker, ManualClock& clock, int times) {
  for (int i = 0; i < times; ++i) {
    REQUIRE(breaker.try_acquire(clock.now()));
    breaker.record(false, clock.now());
  }
}

void succeed(CircuitBreaker& breaker, ManualClock& clock, int times) {
  for (int i = 0; i < times; ++i) {
    REQUIRE(breaker.try_acquire(clock.now()));
    breaker.record(true, clock.now());
  }
}

// Opens a fresh breaker at the clock's current time.
void trip(CircuitBreaker& breaker, ManualClock& clock) {
  fail(breaker, clock, 4);
  REQUIRE(breaker.state(clock.now()) == CircuitState::kOpen);
}

}  // namespace

TEST_CASE("circuit states have stable names", "[breaker]") {
  CHECK(to_string(CircuitState::kClosed) == "closed");
  CHECK(to_string(CircuitState::kOpen) == "open");
  CHECK(to_string(CircuitState::kHalfOpen) == "half_open");
}

TEST_CASE("a new breaker is closed with an empty window", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  const auto snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == 0);
  CHECK(snap.failures == 0);
  CHECK(snap.failure_rate == 0.0);
  CHECK(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.reopens_at().has_value());
}

TEST_CASE("a closed circuit does not open below min_requests, even when every request fails", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  fail(breaker, clock, 3);
  const auto snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == 3);
  CHECK(snap.failures == 3);
  CHECK(snap.failure_rate == 1.0);
  CHECK(breaker.try_acquire(clock.now()));
}

TEST_CASE("a closed circuit opens when a failure brings the rate to the threshold", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  succeed(breaker, clock, 3);
  fail(breaker, clock, 1);  // 1/4 = 0.25
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
  fail(breaker, clock, 1);  // 2/5 = 0.4
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
  clock.advance(1500ms);
  fail(breaker, clock, 1);  // 3/6 = 0.5: opens
  const auto snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kOpen);
  CHECK(snap.requests == 6);
  CHECK(snap.failures == 3);
  CHECK(snap.failure_rate == 0.5);
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  REQUIRE(breaker.reopens_at().has_value());
  CHECK(*breaker.reopens_at() == clock.now() + 5s);
}

TEST_CASE("a success never opens the circuit, whatever the window holds", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  fail(breaker, clock, 3);
  succeed(breaker, clock, 1);  // 3/4 failed, but the outcome that arrived was a success
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
  fail(breaker, clock, 1);  // 4/5
  CHECK(breaker.state(clock.now()) == CircuitState::kOpen);
}

TEST_CASE("the sliding window forgets outcomes older than the window", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  fail(breaker, clock, 3);  // t = 0, bucket [0 s, 1 s)
  clock.advance(10s - 1ns);
  CHECK(breaker.snapshot(clock.now()).failures == 3);
  clock.advance(1ns);  // t = 10 s: the bucket of t = 0 has left the window
  auto snap = breaker.snapshot(clock.now());
  CHECK(snap.requests == 0);
  CHECK(snap.failures == 0);
  fail(breaker, clock, 3);  // would have been 6 failures without sliding
  snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == 3);
  CHECK(snap.failures == 3);
}

TEST_CASE("the window slides bucket by bucket", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  fail(breaker, clock, 1);   // bucket 0
  clock.advance(4s);
  succeed(breaker, clock, 2);  // bucket 4
  clock.advance(4s);
  fail(breaker, clock, 1);   // bucket 8: 2/4 = 0.5 opens
  CHECK(breaker.state(clock.now()) == CircuitState::kOpen);

  CircuitBreaker other(options());
  ManualClock late;
  fail(other, late, 1);    // bucket 0
  late.advance(4s);
  succeed(other, late, 2);   // bucket 4
  late.advance(6s);          // t = 10 s: bucket 0 gone
  CHECK(other.snapshot(late.now()).requests == 2);
  fail(other, late, 1);      // 1/3: below min_requests
  CHECK(other.state(late.now()) == CircuitState::kClosed);
  // The bucket recycled for t = 10 s counts only the new outcome, not the old one in its slot.
  CHECK(other.snapshot(late.now()).failures == 1);
  late.advance(4s);  // t = 14 s: bucket 4 gone too
  CHECK(other.snapshot(late.now()).requests == 1);
}

TEST_CASE("an open circuit refuses until the cool-off has passed, then lets one probe through", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  trip(breaker, clock);
  const auto opened = clock.now();
  clock.advance(5s - 1ns);
  CHECK(breaker.state(clock.now()) == CircuitState::kOpen);
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  CHECK(*breaker.reopens_at() == opened + 5s);
  clock.advance(1ns);
  // Reads as half-open before anyone asks, and reopens_at says "now or earlier".
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
  CHECK(*breaker.reopens_at() <= clock.now());
  CHECK(breaker.try_acquire(clock.now()));
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
  CHECK_FALSE(breaker.reopens_at().has_value());
  CHECK_FALSE(breaker.try_acquire(clock.now()));
}

TEST_CASE("a half-open circuit admits exactly half_open_probes probes", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options(3));
  trip(breaker, clock);
  clock.advance(5s);
  CHECK(breaker.try_acquire(clock.now()));
  CHECK(breaker.try_acquire(clock.now()));
  CHECK(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  clock.advance(1h);  // time alone does not admit more
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
}

TEST_CASE("the probes' successes close the circuit with a clear window", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options(2));
  trip(breaker, clock);
  clock.advance(5s);
  REQUIRE(breaker.try_acquire(clock.now()));
  REQUIRE(breaker.try_acquire(clock.now()));
  breaker.record(true, clock.now());
  // One success of two: still half-open, and the succeeded probe's slot is not handed out again.
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  breaker.record(true, clock.now());
  const auto snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == 0);
  CHECK(snap.failures == 0);
  CHECK(breaker.try_acquire(clock.now()));
  // The old failures are gone: three new failures stay below min_requests.
  breaker.record(false, clock.now());
  fail(breaker, clock, 2);
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
}

TEST_CASE("a failed probe re-opens with a cool-off that doubles up to 8x and resets on close", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  trip(breaker, clock);
  auto cool_off = 5s;
  for (const auto expected : {10s, 20s, 40s, 40s, 40s}) {
    clock.advance(cool_off);
    REQUIRE(breaker.try_acquire(clock.now()));
    breaker.record(false, clock.now());
    CHECK(breaker.state(clock.now()) == CircuitState::kOpen);
    REQUIRE(breaker.reopens_at().has_value());
    CHECK(*breaker.reopens_at() - clock.now() == expected);
    clock.advance(expected - 1ns);
    CHECK_FALSE(breaker.try_acquire(clock.now()));
    clock.advance(1ns);
    cool_off = 0s;
  }
  REQUIRE(breaker.try_acquire(clock.now()));
  breaker.record(true, clock.now());
  REQUIRE(breaker.state(clock.now()) == CircuitState::kClosed);
  trip(breaker, clock);
  CHECK(*breaker.reopens_at() - clock.now() == 5s);
}

TEST_CASE("release frees a probe slot without counting an outcome", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  trip(breaker, clock);
  clock.advance(5s);
  REQUIRE(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  breaker.release(clock.now());
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
  CHECK(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  // A second release with the one probe already released is a no-op: still one slot.
  breaker.release(clock.now());
  breaker.release(clock.now());
  CHECK(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  breaker.record(true, clock.now());
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
}

TEST_CASE("release on a closed circuit changes nothing", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  fail(breaker, clock, 2);
  REQUIRE(breaker.try_acquire(clock.now()));
  breaker.release(clock.now());
  const auto snap = breaker.snapshot(clock.now());
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == 2);
  CHECK(snap.failures == 2);
}

TEST_CASE("outcomes of requests admitted before the circuit opened are ignored", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options());
  // Two requests start while closed and finish after the circuit has opened.
  REQUIRE(breaker.try_acquire(clock.now()));
  REQUIRE(breaker.try_acquire(clock.now()));
  trip(breaker, clock);
  const auto reopens = *breaker.reopens_at();
  clock.advance(1s);
  breaker.record(true, clock.now());  // open: ignored, no early close
  CHECK(breaker.state(clock.now()) == CircuitState::kOpen);
  CHECK(*breaker.reopens_at() == reopens);
  clock.advance(4s);
  // Cool-off over but no probe admitted yet: a late failure neither re-opens nor extends.
  breaker.record(false, clock.now());
  CHECK(breaker.state(clock.now()) == CircuitState::kHalfOpen);
  CHECK(*breaker.reopens_at() == reopens);
  CHECK(breaker.try_acquire(clock.now()));
}

TEST_CASE("out-of-range options are clamped to something usable", "[breaker]") {
  ManualClock clock;
  BreakerOptions o = options(0);
  o.min_requests = 0;
  o.window = 0ms;
  CircuitBreaker breaker(o);
  fail(breaker, clock, 1);  // min_requests 0 counts as 1
  CHECK(breaker.state(clock.now()) == CircuitState::kOpen);
  clock.advance(5s);
  CHECK(breaker.try_acquire(clock.now()));  // half_open_probes 0 counts as 1
  CHECK_FALSE(breaker.try_acquire(clock.now()));
}

TEST_CASE("concurrent outcomes are all counted", "[breaker]") {
  ManualClock clock;
  BreakerOptions o = options();
  o.min_requests = 1'000'000;  // never opens: every outcome must land in the window
  CircuitBreaker breaker(o);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5'000;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&breaker, &clock, &admitted] {
      for (int i = 0; i < kPerThread; ++i) {
        if (breaker.try_acquire(clock.now())) ++admitted;
        breaker.record(i % 4 != 0, clock.now());  // one in four fails
        (void)breaker.snapshot(clock.now());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto snap = breaker.snapshot(clock.now());
  CHECK(admitted.load() == kThreads * kPerThread);
  CHECK(snap.state == CircuitState::kClosed);
  CHECK(snap.requests == kThreads * kPerThread);
  CHECK(snap.failures == kThreads * kPerThread / 4);
  CHECK(snap.failure_rate == 0.25);
}

TEST_CASE("concurrent acquirers on a half-open circuit get exactly the probe slots", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options(3));
  trip(breaker, clock);
  clock.advance(5s);
  constexpr int kThreads = 4;
  std::atomic<int> admitted{0};
  std::atomic<int> released{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2'000; ++i) {
        if (breaker.try_acquire(clock.now())) {
          ++admitted;
          // Every admitted probe gives its slot back, so acquiring keeps working.
          breaker.release(clock.now());
          ++released;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(admitted.load() > 0);
  CHECK(admitted.load() == released.load());
  // All slots are free again: exactly three probes fit, and their successes close the circuit.
  CHECK(breaker.try_acquire(clock.now()));
  CHECK(breaker.try_acquire(clock.now()));
  CHECK(breaker.try_acquire(clock.now()));
  CHECK_FALSE(breaker.try_acquire(clock.now()));
  for (int i = 0; i < 3; ++i) breaker.record(true, clock.now());
  CHECK(breaker.state(clock.now()) == CircuitState::kClosed);
}

TEST_CASE("concurrent probes never exceed the slots in flight", "[breaker]") {
  ManualClock clock;
  CircuitBreaker breaker(options(2));
  trip(breaker, clock);
  clock.advance(5s);
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2'000; ++i) {
        if (!breaker.try_acquire(clock.now())) continue;
        const int now_in_flight = ++in_flight;
        int seen = peak.load();
        while (now_in_flight > seen && !peak.compare_exchange_weak(seen, now_in_flight)) {
        }
        --in_flight;
        breaker.release(clock.now());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(peak.load() >= 1);
  CHECK(peak.load() <= 2);
}
