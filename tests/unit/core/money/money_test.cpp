// Money: per-token prices, exact request costs with one half-up rounding, USD text and parsing.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "core/money/money.hpp"
#include "support/price_string.hpp"


using namespace tollgate::core;

namespace {

// gpt-4o-mini: 0.15 / 0.60 / 0.075 USD per 1M tokens.
constexpr Price kMini{150'000, 600'000, 75'000};

Usage usage(std::int64_t prompt, std::int64_t completion, std::int64_t cached = 0, std::int64_t reasoning = 0) {
  Usage u;
  u.prompt_tokens = prompt;
  u.completion_tokens = completion;
  u.total_tokens = prompt + completion;
  u.cached_tokens = cached;
  u.reasoning_tokens = reasoning;
  return u;
}

}  // namespace

TEST_CASE("pico_per_token scales USD per 1M tokens to pico-dollars per token", "[money]") {
  CHECK(pico_per_token(0.15) == 150'000);
  CHECK(pico_per_token(0.075) == 75'000);
  CHECK(pico_per_token(1e-7 * 1e6) == 100'000);  // LiteLLM's per-token figure for 0.10 / 1M
  CHECK(pico_per_token(1.5e-7 * 1e6) == 150'000);
  CHECK(pico_per_token(0.001) == 1'000);  // the smallest price that is a whole nano per token
  CHECK(pico_per_token(0.0375) == 37'500);
  CHECK(pico_per_token(75) == 75'000'000);
  CHECK(pico_per_token(0) == 0);
  CHECK(pico_per_token(1e6) == 1'000'000'000'000);
  CHECK_FALSE(pico_per_token(1e6 + 1).has_value());
  CHECK_FALSE(pico_per_token(-0.01).has_value());
  CHECK_FALSE(pico_per_token(std::nan("")).has_value());
  CHECK_FALSE(pico_per_token(std::numeric_limits<double>::infinity()).has_value());
}

TEST_CASE("each kind of token costs its own price", "[money]") {
  SECTION("uncached prompt tokens at input") { CHECK(cost_nanos(usage(1000, 0), kMini) == 150'000); }
  SECTION("cached prompt tokens at cached_input, the rest of the prompt at input") {
    CHECK(cost_nanos(usage(1000, 0, 400), kMini) == 600 * 150 + 400 * 75);
  }
  SECTION("completion tokens at output, reasoning tokens being part of them") {
    CHECK(cost_nanos(usage(0, 500), kMini) == 300'000);
    CHECK(cost_nanos(usage(0, 500, 0, 300), kMini) == 300'000);
  }
  SECTION("all together") { CHECK(cost_nanos(usage(1000, 500, 400), kMini) == 90'000 + 30'000 + 300'000); }
  SECTION("a cached price of 0 makes cache reads free (Pricing fills an absent figure from input)") {
    CHECK(cost_nanos(usage(1000, 0, 400), Price{150'000, 600'000, 0}) == 600 * 150);
  }
  SECTION("no usage costs nothing") { CHECK(cost_nanos(Usage{}, kMini) == 0); }
}

TEST_CASE("cache-writing prompt tokens cost cache_write_input, the rest of the prompt input", "[money]") {
  // claude-sonnet-4-5: 3 / 15 / 0.30 read / 3.75 write USD per 1M tokens.
  constexpr Price kSonnet{3'000'000, 15'000'000, 300'000, 3'750'000};
  Usage u = usage(1000, 100, 200);
  u.cache_creation_tokens = 500;
  // Nanos per token: 3000 plain, 300 read, 3750 written, 15000 out.
  CHECK(cost_nanos(u, kSonnet) == 300 * 3000 + 200 * 300 + 500 * 3750 + 100 * 15000);
  // More written than the uncached rest of the prompt: only that rest is charged as written.
  u.cache_creation_tokens = 5000;
  CHECK(cost_nanos(u, kSonnet) == 200 * 300 + 800 * 3750 + 100 * 15000);
  u.cache_creation_tokens = -3;
  CHECK(cost_nanos(u, kSonnet) == 800 * 3000 + 200 * 300 + 100 * 15000);
}

TEST_CASE("more cached than prompt tokens is clamped and never negative", "[money]") {
  CHECK(cost_nanos(usage(100, 0, 500), kMini) == 100 * 75);
  CHECK(cost_nanos(usage(100, 10, 500), kMini) == 100 * 75 + 10 * 600);
  CHECK(cost_nanos(usage(-5, -5, -5), kMini) == 0);
  CHECK(cost_nanos(usage(0, 0, 7), kMini) == 0);
}

TEST_CASE("sub-nano prices round half up once per request", "[money]") {
  // 0.0015 USD per 1M tokens = 1.5 nanos per token.
  const Price price{1'500, 0, 0};
  CHECK(cost_nanos(usage(1, 0), price) == 2);  // 1.5 -> 2
  CHECK(cost_nanos(usage(3, 0), price) == 5);  // 4.5 -> 5, not 3 x 2
  CHECK(cost_nanos(usage(2, 0), price) == 3);  // exact
  CHECK(cost_nanos(usage(1, 0), Price{1'499, 0, 0}) == 1);
  CHECK(cost_nanos(usage(1, 0), Price{500, 0, 0}) == 1);
  CHECK(cost_nanos(usage(1, 0), Price{499, 0, 0}) == 0);
  // The three kinds are summed before the one rounding: 0.4 + 0.4 + 0.4 nanos -> 1, not 0.
  CHECK(cost_nanos(usage(2, 1, 1), Price{400, 400, 400}) == 1);
}

TEST_CASE("a million requests at nano-granular prices sum exactly to the closed form", "[money]") {
  // Every figure a whole nano per token, so each request is exact and so is their integer sum:
  // it must equal (tokens of each kind) x (price of each kind), with no drift.
  const Price price{*pico_per_token(0.15), *pico_per_token(0.6), *pico_per_token(0.075)};
  Nanos total = 0;
  std::int64_t uncached = 0, cached = 0, completion = 0;
  for (std::int64_t i = 0; i < 1'000'000; ++i) {
    const Usage u = usage(1 + i % 997, i % 389, i % 13);
    total += cost_nanos(u, price);
    cached += std::min(u.cached_tokens, u.prompt_tokens);
    uncached += u.prompt_tokens - std::min(u.cached_tokens, u.prompt_tokens);
    completion += u.completion_tokens;
  }
  CHECK(total == uncached * 150 + cached * 75 + completion * 600);

  Nanos same = 0;
  for (int i = 0; i < 1'000'000; ++i) same += cost_nanos(usage(1234, 567, 234), price);
  CHECK(same == 507'750'000'000);  // 1e6 x (1000 x 150 + 234 x 75 + 567 x 600) nanos
  CHECK(format_usd(same) == "507.75");
}

TEST_CASE("huge token counts do not overflow", "[money]") {
  // 1e12 tokens at Opus 4.1's 15 / 75 USD per 1M: 9e19 pico-dollars, past INT64_MAX before the
  // division to nanos.
  const Price opus{*pico_per_token(15), *pico_per_token(75), *pico_per_token(1.5)};
  CHECK(cost_nanos(usage(1'000'000'000'000, 1'000'000'000'000), opus) == 90'000'000'000'000'000);
  CHECK(cost_nanos(usage(1'000'000'000'000, 0, 1'000'000'000'000), opus) == 1'500'000'000'000'000);
  // Beyond what int64 nanos can hold the cost saturates instead of wrapping.
  const Price top{1'000'000'000'000, 1'000'000'000'000, 0};
  CHECK(cost_nanos(usage(1'000'000'000'000, 1'000'000'000'000), top) == std::numeric_limits<Nanos>::max());
}

TEST_CASE("format_usd writes exact decimals without trailing zeros", "[money]") {
  CHECK(format_usd(0) == "0");
  CHECK(format_usd(45'000) == "0.000045");
  CHECK(format_usd(12'500'000'000) == "12.5");
  CHECK(format_usd(-100'000'000) == "-0.1");
  CHECK(format_usd(1) == "0.000000001");
  CHECK(format_usd(-1) == "-0.000000001");
  CHECK(format_usd(1'000'000'000) == "1");
  CHECK(format_usd(1'000'000'001) == "1.000000001");
  CHECK(format_usd(-2'000'000'000) == "-2");
  CHECK(format_usd(123'456'789'012) == "123.456789012");
  CHECK(format_usd(std::numeric_limits<Nanos>::max()) == "9223372036.854775807");
  CHECK(format_usd(std::numeric_limits<Nanos>::min()) == "-9223372036.854775808");
}

TEST_CASE("usd_to_nanos rounds to the nearest nano and refuses what is not a USD amount", "[money]") {
  CHECK(usd_to_nanos(0) == 0);
  CHECK(usd_to_nanos(-0.0) == 0);
  CHECK(usd_to_nanos(12.5) == 12'500'000'000);
  CHECK(usd_to_nanos(0.1) == 100'000'000);
  CHECK(usd_to_nanos(100) == 100'000'000'000);
  CHECK(usd_to_nanos(1e-9) == 1);
  CHECK(usd_to_nanos(4e-10) == 0);
  CHECK(usd_to_nanos(6e-10) == 1);
  CHECK(usd_to_nanos(9e9) == 9'000'000'000'000'000'000);
  CHECK_FALSE(usd_to_nanos(9.000001e9).has_value());
  CHECK_FALSE(usd_to_nanos(-0.01).has_value());
  CHECK_FALSE(usd_to_nanos(std::nan("")).has_value());
  CHECK_FALSE(usd_to_nanos(std::numeric_limits<double>::infinity()).has_value());
  CHECK_FALSE(usd_to_nanos(-std::numeric_limits<double>::infinity()).has_value());
}
