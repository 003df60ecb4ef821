// Rate headers: every Retry-After form, OpenAI durations, Anthropic resets, precedence, garbage, cap.
#include <catch2/catch.hpp>

#include "core/routing/rate_headers.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {
// 2023-11-14T22:13:20Z, a Tuesday.
constexpr std::int64_t kNow = 1'700'000'000'000;

std::optional<std::int64_t> delay_ms(const Headers& headers) {
  const auto delay = retry_delay(headers, kNow);
  return delay ? std::optional<std::int64_t>{delay->count()} : std::nullopt;
}

std::optional<std::int64_t> go_ms(std::string_view text) {
  const auto d = parse_go_duration(text);
  return d ? std::optional<std::int64_t>{d->count()} : std::nullopt;
}
}  // namespace

TEST_CASE("parse_go_duration reads OpenAI's reset durations", "[rate_headers]") {
  CHECK(go_ms("1s") == 1000);
  CHECK(go_ms("6m0s") == 360'000);
  CHECK(go_ms("20ms") == 20);
  CHECK(go_ms("0s") == 0);
  CHECK(go_ms("0") == 0);
  CHECK(go_ms("1h2m3.5s") == 3'723'500);
  CHECK(go_ms("2m59.56s") == 179'560);
  CHECK(go_ms("7.66s") == 7660);
  CHECK(go_ms("1.5ms") == 2);   // rounded up: waiting a little longer is safe
  CHECK(go_ms("300us") == 1);
  CHECK(go_ms("300\u00b5s") == 1);
  CHECK(go_ms("999999ns") == 1);
  CHECK(go_ms("1000000ns") == 1);
  CHECK(go_ms(".5s") == 500);
  CHECK(go_ms("48h") == 172'800'000);  // not capped here; retry_delay caps
}

TEST_CASE("parse_go_duration rejects anything else", "[rate_headers]") {
  for (const std::string_view bad : {"", "5", "1.5", "s", "-1s", "+1s", "1 s", " 1s", "1s ", "1x", "1sec", "1h2", "1..5s",
                                     ".s", "1m-2s", "abc", "99999999999h", "1e3s"}) {
    INFO(bad);
    CHECK_FALSE(parse_go_duration(bad).has_value());
  }
}

TEST_CASE("retry-after-ms (Azure) in milliseconds, fractions rounded up", "[rate_headers]") {
  CHECK(delay_ms({{"retry-after-ms", "1500"}}) == 1500);
  CHECK(delay_ms({{"retry-after-ms", "12.2"}}) == 13);
  CHECK(delay_ms({{"retry-after-ms", "0"}}) == 0);
}

TEST_CASE("retry-after in seconds", "[rate_headers]") {
  CHECK(delay_ms({{"retry-after", "20"}}) == 20'000);
  CHECK(delay_ms({{"retry-after", " 7 "}}) == 7000);
  CHECK(delay_ms({{"retry-after", "0.25"}}) == 250);
}

TEST_CASE("retry-after as an HTTP-date against the wall clock", "[rate_headers]") {
  CHECK(delay_ms({{"retry-after", "Tue, 14 Nov 2023 22:15:20 GMT"}}) == 120'000);
  CHECK(delay_ms({{"retry-after", "Tue, 14 Nov 2023 22:13:20 GMT"}}) == 0);
  // Already past: no wait can be read from it.
  CHECK_FALSE(delay_ms({{"retry-after", "Tue, 14 Nov 2023 22:13:19 GMT"}}).has_value());
  CHECK_FALSE(delay_ms({{"retry-after", "Tue, 14 Nov 2023 22:15:20"}}).has_value());
  CHECK_FALSE(delay_ms({{"retry-after", "Mon, 14 Nov 2023 22:15:20 GMT"}}).has_value());  // wrong weekday
  CHECK_FALSE(delay_ms({{"retry-after", "Tue, 14 Nov 2023 22:15:20 GMT junk"}}).has_value());
}

TEST_CASE("x-ratelimit-reset-*: the requests reset unless a remaining count is 0", "[rate_headers]") {
  Headers headers{{"x-ratelimit-remaining-requests", "12"}, {"x-ratelimit-reset-requests", "1s"},
                  {"x-ratelimit-remaining-tokens", "5000"}, {"x-ratelimit-reset-tokens", "6m0s"}};
  CHECK(delay_ms(headers) == 1000);

  SECTION("tokens exhausted: the tokens reset") {
    headers[2].second = "0";
    CHECK(delay_ms(headers) == 360'000);
  }
  SECTION("both exhausted: the larger") {
    headers[0].second = "0";
    headers[2].second = "0";
    CHECK(delay_ms(headers) == 360'000);
    headers[3].second = "20ms";
    CHECK(delay_ms(headers) == 1000);
  }
  SECTION("requests exhausted only: the requests reset even when the tokens one is longer") {
    headers[0].second = "0";
    CHECK(delay_ms(headers) == 1000);
  }
  SECTION("no requests reset: the tokens one") {
    headers.erase(headers.begin() + 1);
    CHECK(delay_ms(headers) == 360'000);
  }
}

TEST_CASE("x-ratelimit-reset-* in bare seconds, as compatible servers send", "[rate_headers]") {
  CHECK(delay_ms({{"x-ratelimit-reset-requests", "3"}}) == 3000);
}

TEST_CASE("anthropic-ratelimit-*-reset as RFC 3339", "[rate_headers]") {
  Headers headers{{"anthropic-ratelimit-requests-remaining", "3"},
                  {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:50Z"},
                  {"anthropic-ratelimit-tokens-remaining", "0"},
                  {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:14:20.5Z"}};
  CHECK(delay_ms(headers) == 60'500);
  headers[2].second = "10";
  CHECK(delay_ms(headers) == 30'000);
  headers[1].second = "2023-11-14T23:13:50+01:00";  // the same instant in another offset
  CHECK(delay_ms(headers) == 30'000);
  CHECK(delay_ms({{"anthropic-ratelimit-output-tokens-remaining", "0"},
                  {"anthropic-ratelimit-output-tokens-reset", "2023-11-14T22:13:25Z"},
                  {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"}}) == 5000);
  // A reset in the past, or not RFC 3339, says nothing.
  CHECK_FALSE(delay_ms({{"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:19Z"}}).has_value());
  CHECK_FALSE(delay_ms({{"anthropic-ratelimit-requests-reset", "in a minute"}}).has_value());
}

TEST_CASE("retry_delay takes the first usable source in order", "[rate_headers]") {
  const Headers all{{"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:24Z"},
                    {"x-ratelimit-reset-requests", "3s"},
                    {"retry-after", "2"},
                    {"retry-after-ms", "1000"}};
  CHECK(delay_ms(all) == 1000);
  CHECK(delay_ms(Headers(all.begin(), all.begin() + 3)) == 2000);
  CHECK(delay_ms(Headers(all.begin(), all.begin() + 2)) == 3000);
  CHECK(delay_ms(Headers(all.begin(), all.begin() + 1)) == 4000);
  CHECK_FALSE(delay_ms({}).has_value());
  CHECK_FALSE(delay_ms({{"content-type", "application/json"}}).has_value());
}

TEST_CASE("garbage and negative values are skipped for the next source", "[rate_headers]") {
  for (const std::string_view bad : {"", "-1", "soon", "1e3", "1,5", "0x10", "12abc"}) {
    INFO(bad);
    CHECK(delay_ms({{"retry-after-ms", std::string{bad}}, {"retry-after", "4"}}) == 4000);
    CHECK(delay_ms({{"retry-after", std::string{bad}}, {"x-ratelimit-reset-requests", "5s"}}) == 5000);
    CHECK_FALSE(delay_ms({{"x-ratelimit-reset-requests", std::string{bad}}}).has_value());
  }
  // A negative remaining count (Azure's -1) is not "exhausted".
  CHECK(delay_ms({{"x-ratelimit-remaining-tokens", "-1"},
                  {"x-ratelimit-reset-tokens", "9s"},
                  {"x-ratelimit-reset-requests", "1s"}}) == 1000);
}

TEST_CASE("every source is capped at one hour", "[rate_headers]") {
  CHECK(kMaxRetryDelay == 1h);
  CHECK(delay_ms({{"retry-after-ms", "86400000"}}) == 3'600'000);
  CHECK(delay_ms({{"retry-after", "7200"}}) == 3'600'000);
  CHECK(delay_ms({{"retry-after", "99999999999999999999999999"}}) == 3'600'000);
  CHECK(delay_ms({{"retry-after", "Wed, 15 Nov 2023 22:13:20 GMT"}}) == 3'600'000);
  CHECK(delay_ms({{"x-ratelimit-reset-requests", "48h"}}) == 3'600'000);
  CHECK(delay_ms({{"anthropic-ratelimit-requests-reset", "2024-01-01T00:00:00Z"}}) == 3'600'000);
}

TEST_CASE("read_rate_window reads OpenAI's headers", "[rate_headers]") {
  const auto window = read_rate_window({{"x-ratelimit-limit-requests", "5000"},
                                        {"x-ratelimit-limit-tokens", "160000"},
                                        {"x-ratelimit-remaining-requests", "4999"},
                                        {"x-ratelimit-remaining-tokens", "159976"},
                                        {"x-ratelimit-reset-requests", "12ms"},
                                        {"x-ratelimit-reset-tokens", "1m30s"}},
                                       kNow);
  CHECK(window.requests_limit == 5000);
  CHECK(window.tokens_limit == 160'000);
  CHECK(window.requests_remaining == 4999);
  CHECK(window.tokens_remaining == 159'976);
  CHECK(window.requests_reset == 12ms);
  CHECK(window.tokens_reset == 90s);
}

TEST_CASE("read_rate_window reads Anthropic's headers", "[rate_headers]") {
  const auto window = read_rate_window({{"anthropic-ratelimit-requests-limit", "50"},
                                        {"anthropic-ratelimit-requests-remaining", "0"},
                                        {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21.25Z"},
                                        {"anthropic-ratelimit-tokens-limit", "40000"},
                                        {"anthropic-ratelimit-tokens-remaining", "39000"},
                                        {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:10Z"}},
                                       kNow);
  CHECK(window.requests_limit == 50);
  CHECK(window.requests_remaining == 0);
  CHECK(window.requests_reset == 1250ms);
  CHECK(window.tokens_limit == 40'000);
  CHECK(window.tokens_remaining == 39'000);
  CHECK(window.tokens_reset == 0ms);  // already past: the window has reset
}

TEST_CASE("read_rate_window leaves garbage and absent values empty", "[rate_headers]") {
  const auto window = read_rate_window({{"x-ratelimit-limit-tokens", "-1"},
                                        {"x-ratelimit-remaining-tokens", "-1"},
                                        {"x-ratelimit-remaining-requests", "many"},
                                        {"x-ratelimit-reset-requests", "later"},
                                        {"x-ratelimit-reset-tokens", "48h"}},
                                       kNow);
  CHECK_FALSE(window.tokens_limit.has_value());
  CHECK_FALSE(window.tokens_remaining.has_value());
  CHECK_FALSE(window.requests_remaining.has_value());
  CHECK_FALSE(window.requests_limit.has_value());
  CHECK_FALSE(window.requests_reset.has_value());
  CHECK(window.tokens_reset == 1h);
  const auto empty = read_rate_window({}, kNow);
  CHECK_FALSE(empty.requests_remaining.has_value());
  CHECK_FALSE(empty.tokens_reset.has_value());
}
