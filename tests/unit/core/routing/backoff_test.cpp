// Backoff and Random: exact jittered delays from a scripted source, bounds from the system one, overflow.
#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/random.hpp"
#include "core/routing/backoff.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

namespace {
const double kAlmostOne = std::nextafter(1.0, 0.0);
}  // namespace

TEST_CASE("SequenceRandom returns its values cyclically and rejects values outside [0, 1)", "[backoff]") {
  SequenceRandom random{0.25, 0.5, 0.0};
  CHECK(random.uniform() == 0.25);
  CHECK(random.uniform() == 0.5);
  CHECK(random.uniform() == 0.0);
  CHECK(random.uniform() == 0.25);
  CHECK(random.draws() == 4);
  CHECK_THROWS_AS(SequenceRandom(std::vector<double>{}), std::invalid_argument);
  CHECK_THROWS_AS(SequenceRandom({0.5, 1.0}), std::invalid_argument);
  CHECK_THROWS_AS(SequenceRandom({-0.1}), std::invalid_argument);
}

TEST_CASE("SystemRandom draws lie in [0, 1) and spread over it", "[backoff]") {
  SystemRandom random;
  double low = 1.0;
  double high = 0.0;
  double sum = 0.0;
  constexpr int kDraws = 20'000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = random.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    low = std::min(low, u);
    high = std::max(high, u);
    sum += u;
  }
  CHECK(low < 0.01);
  CHECK(high > 0.99);
  // The mean of 20 000 uniform draws has a standard deviation of about 0.002.
  CHECK(sum / kDraws == Approx(0.5).margin(0.02));
}

TEST_CASE("backoff draws whole milliseconds in [0, base * 2^(retry-1)], bounds included", "[backoff]") {
  SequenceRandom random{0.0, 0.5, kAlmostOne};
  // retry 1: cap 100 ms; the draw scales over the 101 values 0..100.
  CHECK(backoff_delay(1, 100ms, 10s, random) == 0ms);
  CHECK(backoff_delay(1, 100ms, 10s, random) == 50ms);
  CHECK(backoff_delay(1, 100ms, 10s, random) == 100ms);
  // retry 3: cap 400 ms.
  CHECK(backoff_delay(3, 100ms, 10s, random) == 0ms);
  CHECK(backoff_delay(3, 100ms, 10s, random) == 200ms);
  CHECK(backoff_delay(3, 100ms, 10s, random) == 400ms);
  CHECK(random.draws() == 6);

  SequenceRandom quarter{0.25};
  CHECK(backoff_delay(2, 200ms, 10s, quarter) == 100ms);  // floor(0.25 * 401)
  CHECK(backoff_delay(4, 200ms, 10s, quarter) == 400ms);  // floor(0.25 * 1601)
}

TEST_CASE("backoff caps at max", "[backoff]") {
  SequenceRandom random{kAlmostOne, 0.5};
  // 200 ms * 2^6 = 12.8 s > 10 s.
  CHECK(backoff_delay(7, 200ms, 10s, random) == 10s);
  CHECK(backoff_delay(7, 200ms, 10s, random) == 5000ms);
  // max below base: max wins from the first retry.
  CHECK(backoff_delay(1, 500ms, 300ms, random) == 300ms);
  // 200 ms * 2^5 = 6.4 s is still under the cap: half of 6401 values.
  CHECK(backoff_delay(6, 200ms, 10s, random) == 3200ms);
}

TEST_CASE("backoff before the first retry or with a zero cap waits 0 and draws nothing", "[backoff]") {
  SequenceRandom random{kAlmostOne};
  CHECK(backoff_delay(0, 200ms, 10s, random) == 0ms);
  CHECK(backoff_delay(-3, 200ms, 10s, random) == 0ms);
  CHECK(backoff_delay(2, 0ms, 10s, random) == 0ms);
  CHECK(backoff_delay(2, 200ms, 0ms, random) == 0ms);
  CHECK(random.draws() == 0);
}

TEST_CASE("backoff with huge retry numbers and durations does not overflow", "[backoff]") {
  SequenceRandom random{kAlmostOne};
  for (const int retry : {32, 62, 63, 64, 65, 1000, INT_MAX}) {
    CAPTURE(retry);
    CHECK(backoff_delay(retry, 200ms, 10s, random) == 10s);
    CHECK(backoff_delay(retry, 1ms, 10s, random) == 10s);
  }
  const std::chrono::milliseconds huge{std::numeric_limits<std::int64_t>::max()};
  // Beyond 2^53 ms a double cannot name every millisecond: the top draw lands within 2^10 ms of the
  // cap (of 2^63 - 1), never above it and never wrapping negative.
  for (const int retry : {2, INT_MAX}) {
    const auto delay = backoff_delay(retry, huge, huge, random);
    CHECK(delay <= huge);
    CHECK(delay >= huge - 1024ms);
  }
  // 2^62 ms fits exactly: base 1 ms at retry 63.
  CHECK(backoff_delay(63, 1ms, huge, random).count() > 0);
  SequenceRandom zero{0.0};
  CHECK(backoff_delay(INT_MAX, huge, huge, zero) == 0ms);
}

TEST_CASE("backoff with SystemRandom stays within its bounds and covers them", "[backoff]") {
  SystemRandom random;
  constexpr int kDraws = 20'000;
  std::int64_t low = INT64_MAX;
  std::int64_t high = -1;
  double sum = 0;
  for (int i = 0; i < kDraws; ++i) {
    const auto delay = backoff_delay(3, 100ms, 10s, random).count();
    REQUIRE(delay >= 0);
    REQUIRE(delay <= 400);
    low = std::min(low, delay);
    high = std::max(high, delay);
    sum += static_cast<double>(delay);
  }
  CHECK(low <= 5);
  CHECK(high >= 395);
  // Mean of uniform 0..400 is 200; its standard error here is under 1 ms.
  CHECK(sum / kDraws == Approx(200.0).margin(10.0));
  for (int i = 0; i < 1000; ++i) {
    const auto delay = backoff_delay(40, 200ms, 10s, random);
    REQUIRE(delay >= 0ms);
    REQUIRE(delay <= 10s);
  }
}
