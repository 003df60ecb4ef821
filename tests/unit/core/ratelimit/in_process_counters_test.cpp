// In-process counters: independent keys, one bucket shared by threads, changed rates, sweeping.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/ratelimit/in_process_counters.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

TEST_CASE("separate keys have separate buckets", "[ratelimit]") {
  ManualClock clock;
  auto counters = make_in_process_counters();
  const Rate rate{2, 1min};
  CHECK(counters->acquire("vk:a", rate, 1, clock.now()).allowed);
  CHECK(counters->acquire("vk:a", rate, 1, clock.now()).allowed);
  const auto denied = counters->acquire("vk:a", rate, 1, clock.now());
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after == 30s);
  const auto other = counters->acquire("vk:b", rate, 1, clock.now());
  CHECK(other.allowed);
  CHECK(other.remaining == 1);
}

TEST_CASE("threads acquiring one key share its bucket exactly", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters;
  const Rate rate{5000, 1h};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) allowed += counters.acquire("vk:shared", rate, 1, clock.now()).allowed;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(allowed.load() == 5000);
  CHECK(counters.size() == 1);
}

TEST_CASE("adjust reaches the same bucket, and refunds to a missing one change nothing", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters;
  const Rate rate{10, 1s};
  REQUIRE(counters.acquire("tpm:a", rate, 10, clock.now()).allowed);
  counters.adjust("tpm:a", rate, -4, clock.now());
  CHECK(counters.acquire("tpm:a", rate, 4, clock.now()).allowed);
  CHECK_FALSE(counters.acquire("tpm:a", rate, 1, clock.now()).allowed);
  counters.adjust("tpm:b", rate, -4, clock.now());
  CHECK(counters.size() == 1);
  counters.adjust("tpm:c", rate, 15, clock.now());
  CHECK(counters.size() == 2);
  CHECK(counters.acquire("tpm:c", rate, 0, clock.now()).retry_after == 500ms);
}

TEST_CASE("a bucket's rate may change between calls", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters;
  for (int i = 0; i < 10; ++i) REQUIRE(counters.acquire("vk:a", Rate{10, 1min}, 1, clock.now()).allowed);
  clock.advance(3s);
  CHECK(counters.acquire("vk:a", Rate{10, 1min}, 1, clock.now()).retry_after == 3s);
  CHECK(counters.acquire("vk:a", Rate{20, 1min}, 1, clock.now()).allowed);
}

TEST_CASE("denied and empty requests on new keys store no bucket", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters;
  CHECK(counters.acquire("vk:never", Rate{1, 1min}, 5, clock.now()).never);
  CHECK(counters.acquire("vk:probe", Rate{1, 1min}, 0, clock.now()).allowed);
  CHECK(counters.size() == 0);
}

TEST_CASE("idle buckets are swept, busy ones kept", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters(1, 8);
  const Rate per_second{1, 1s};
  for (int i = 0; i < 5; ++i) REQUIRE(counters.acquire("vk:" + std::to_string(i), per_second, 1, clock.now()).allowed);
  CHECK(counters.size() == 5);
  clock.advance(2s);
  REQUIRE(counters.acquire("vk:busy", Rate{1, 1h}, 1, clock.now()).allowed);  // operation 6
  counters.acquire("vk:probe", per_second, 0, clock.now());                    // operation 7
  CHECK(counters.size() == 6);
  counters.acquire("vk:probe", per_second, 0, clock.now());  // operation 8: the sweep
  CHECK(counters.size() == 1);
  // The swept keys start over full.
  CHECK(counters.acquire("vk:0", per_second, 1, clock.now()).allowed);
  CHECK_FALSE(counters.acquire("vk:busy", Rate{1, 1h}, 1, clock.now()).allowed);
}

TEST_CASE("sweeps come less often while a shard holds many busy buckets", "[ratelimit]") {
  ManualClock clock;
  InProcessCounters counters(1, 4);
  const Rate hourly{1, 1h};
  // 12 busy keys: sweeps at operations 4 and 8 find nothing idle; the one at 8 (8 buckets) sets
  // the next sweep 8 operations later, at operation 16.
  for (int i = 0; i < 12; ++i) REQUIRE(counters.acquire("busy:" + std::to_string(i), hourly, 1, clock.now()).allowed);
  clock.advance(2h);
  for (int i = 12; i < 15; ++i) counters.acquire("probe", hourly, 0, clock.now());
  CHECK(counters.size() == 12);
  counters.acquire("probe", hourly, 0, clock.now());  // operation 16
  CHECK(counters.size() == 0);
}
