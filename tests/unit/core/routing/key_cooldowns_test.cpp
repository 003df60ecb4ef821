// Key cooldowns: never shortened, per key, predicted exhaustion across the reset, soonest for a 503.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "core/routing/key_cooldowns.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

namespace {
const KeyCooldowns::TimePoint kT0{std::chrono::seconds{1000}};
}  // namespace

TEST_CASE("a cooldown lasts until its deadline and only for its key", "[cooldowns]") {
  KeyCooldowns cooldowns;
  CHECK_FALSE(cooldowns.cooling("k1", kT0));
  CHECK_FALSE(cooldowns.until("k1", kT0).has_value());

  cooldowns.cool_down("k1", kT0 + 30s);
  CHECK(cooldowns.cooling("k1", kT0));
  CHECK(cooldowns.cooling("k1", kT0 + 30s - 1ns));
  CHECK(cooldowns.until("k1", kT0 + 10s) == kT0 + 30s);
  CHECK_FALSE(cooldowns.cooling("k1", kT0 + 30s));
  CHECK_FALSE(cooldowns.until("k1", kT0 + 30s).has_value());
  CHECK_FALSE(cooldowns.cooling("k2", kT0));
}

TEST_CASE("a new cooldown never shortens an existing one", "[cooldowns]") {
  KeyCooldowns cooldowns;
  cooldowns.cool_down("k1", kT0 + 60s);
  cooldowns.cool_down("k1", kT0 + 5s);
  CHECK(cooldowns.until("k1", kT0) == kT0 + 60s);
  cooldowns.cool_down("k1", kT0 + 90s);
  CHECK(cooldowns.until("k1", kT0) == kT0 + 90s);
  // After it ended, a new one starts afresh.
  cooldowns.cool_down("k1", kT0 + 95s);
  CHECK(cooldowns.until("k1", kT0 + 91s) == kT0 + 95s);
}

TEST_CASE("a window with 0 requests remaining predicts exhaustion until its reset", "[cooldowns]") {
  KeyCooldowns cooldowns;
  RateWindow window;
  window.requests_remaining = 0;
  window.requests_reset = 2s;
  cooldowns.note_window("k1", window, kT0);
  CHECK(cooldowns.predicted_exhausted("k1", 1, kT0));
  CHECK(cooldowns.predicted_exhausted("k1", 1, kT0 + 2s - 1ms));
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 1, kT0 + 2s));
  CHECK_FALSE(cooldowns.predicted_exhausted("k2", 1, kT0));
  // Prediction is not a cooldown.
  CHECK_FALSE(cooldowns.cooling("k1", kT0));
}

TEST_CASE("a window with fewer tokens than needed predicts exhaustion until the tokens reset", "[cooldowns]") {
  KeyCooldowns cooldowns;
  RateWindow window;
  window.requests_remaining = 10;
  window.requests_reset = 1s;
  window.tokens_remaining = 500;
  window.tokens_reset = 30s;
  cooldowns.note_window("k1", window, kT0);
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 500, kT0));
  CHECK(cooldowns.predicted_exhausted("k1", 501, kT0));
  CHECK(cooldowns.predicted_exhausted("k1", 501, kT0 + 29s));
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 501, kT0 + 30s));

  window.tokens_remaining = 0;
  cooldowns.note_window("k1", window, kT0);
  CHECK(cooldowns.predicted_exhausted("k1", 0, kT0));  // every request needs at least one token
}

TEST_CASE("the latest window replaces the previous one", "[cooldowns]") {
  KeyCooldowns cooldowns;
  RateWindow out;
  out.requests_remaining = 0;
  out.requests_reset = 60s;
  cooldowns.note_window("k1", out, kT0);
  REQUIRE(cooldowns.predicted_exhausted("k1", 1, kT0 + 1s));
  RateWindow refilled;
  refilled.requests_remaining = 100;
  refilled.requests_reset = 60s;
  cooldowns.note_window("k1", refilled, kT0 + 1s);
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 1, kT0 + 1s));
}

TEST_CASE("a window without a reset predicts nothing", "[cooldowns]") {
  KeyCooldowns cooldowns;
  RateWindow window;
  window.requests_remaining = 0;
  window.tokens_remaining = 0;
  cooldowns.note_window("k1", window, kT0);
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 1, kT0));
  window.requests_reset = 0ms;  // the reset is already here
  cooldowns.note_window("k1", window, kT0);
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 1, kT0));
}

TEST_CASE("headers feed the table end to end", "[cooldowns]") {
  KeyCooldowns cooldowns;
  const Headers headers{{"x-ratelimit-remaining-requests", "0"}, {"x-ratelimit-reset-requests", "6m0s"},
                        {"retry-after", "20"}};
  constexpr std::int64_t wall_now = 1'700'000'000'000;
  cooldowns.note_window("k1", read_rate_window(headers, wall_now), kT0);
  const auto delay = retry_delay(headers, wall_now);
  REQUIRE(delay.has_value());
  cooldowns.cool_down("k1", kT0 + *delay);
  CHECK(cooldowns.until("k1", kT0) == kT0 + 20s);
  CHECK(cooldowns.predicted_exhausted("k1", 1, kT0 + 5min));
  CHECK_FALSE(cooldowns.predicted_exhausted("k1", 1, kT0 + 6min));
}

TEST_CASE("soonest is the earliest moment one of the keys is free", "[cooldowns]") {
  KeyCooldowns cooldowns;
  cooldowns.cool_down("a", kT0 + 40s);
  cooldowns.cool_down("b", kT0 + 15s);
  cooldowns.cool_down("c", kT0 + 90s);
  const std::vector<std::string> keys{"a", "b", "c"};
  CHECK(cooldowns.soonest(keys, kT0) == kT0 + 15s);
  // Once b is free, it is free now.
  CHECK(cooldowns.soonest(keys, kT0 + 20s) == kT0 + 20s);
  const std::vector<std::string> slow{"a", "c"};
  CHECK(cooldowns.soonest(slow, kT0 + 20s) == kT0 + 40s);
  const std::vector<std::string> with_free{"c", "unknown"};
  CHECK(cooldowns.soonest(with_free, kT0) == kT0);
  CHECK_FALSE(cooldowns.soonest(std::span<const std::string>{}, kT0).has_value());
}

TEST_CASE("concurrent cool_down calls keep the longest deadline", "[cooldowns]") {
  KeyCooldowns cooldowns;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cooldowns, t] {
      for (int i = 0; i < 1000; ++i) cooldowns.cool_down("k", kT0 + std::chrono::milliseconds{t * 1000 + i});
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(cooldowns.until("k", kT0) == kT0 + 3999ms);
}
