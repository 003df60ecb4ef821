// refresh_early (XFetch) on fixed draws, and ResponseCache::claim_refresh on a manual clock.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>

#include "core/cache/early_refresh.hpp"
#include "core/cache/response_cache.hpp"
#include "core/clock.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

TEST_CASE("refresh_early: never far from the expiry, always at it, likelier for slow answers", "[early_refresh]") {
  const Clock::Steady::time_point expires{std::chrono::hours(1)};
  // A draw of 0 gives u = 1, ln u = 0: only an expired entry refreshes.
  CHECK_FALSE(refresh_early(expires - 1ms, expires, 2s, 0.0));
  CHECK(refresh_early(expires, expires, 2s, 0.0));
  CHECK(refresh_early(expires + 1s, expires, 0s, 0.5));
  // draw 1 - e^-1: -ln u = 1, so the entry refreshes within compute_time * beta of its expiry.
  const double one = 1.0 - std::exp(-1.0);
  CHECK(refresh_early(expires - 1999ms, expires, 2s, one));
  CHECK_FALSE(refresh_early(expires - 2001ms, expires, 2s, one));
  CHECK(refresh_early(expires - 3999ms, expires, 2s, one, 2.0));
  // An hour early is out of reach even for a 2 s answer and a draw of 0.999999 (-ln u = 13.8).
  CHECK_FALSE(refresh_early(expires - 1h + 1s, expires, 2s, 0.999999));
  // An answer that took no time never refreshes early.
  CHECK_FALSE(refresh_early(expires - 1ns, expires, 0s, 0.999999));
}

TEST_CASE("claim_refresh: one claim per entry until it lapses or the entry is replaced", "[early_refresh]") {
  ManualClock clock;
  ResponseCache cache(clock);
  CachedAnswer answer;
  answer.body = R"({"id":"a"})";
  answer.model = "m";
  REQUIRE(cache.put("k", answer, 10s) == ResponseCache::PutOutcome::kStored);
  CHECK_FALSE(cache.claim_refresh("absent", clock.now() + 5s));
  CHECK(cache.claim_refresh("k", clock.now() + 5s));
  CHECK_FALSE(cache.claim_refresh("k", clock.now() + 5s));
  clock.advance(4999ms);
  CHECK_FALSE(cache.claim_refresh("k", clock.now() + 5s));
  clock.advance(1ms);  // the first claim lapsed (its refresher failed or hung): another may try
  CHECK(cache.claim_refresh("k", clock.now() + 1s));
  // The refreshed answer replaces the entry and its claim.
  REQUIRE(cache.put("k", answer, 10s) == ResponseCache::PutOutcome::kStored);
  CHECK(cache.claim_refresh("k", clock.now() + 1s));
  // The claim never outlives the entry's own expiry.
  clock.advance(10s);
  CHECK_FALSE(cache.claim_refresh("k", clock.now() + 1s));
}
