// Upstream rate-limit headers: how long a key must wait, and what its quota window says.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/headers.hpp"

namespace tollgate::core {

/// The longest wait any header can ask for; longer values are cut to this.
inline constexpr std::chrono::milliseconds kMaxRetryDelay{std::chrono::hours{1}};

/// How long the upstream asks us to wait, from the first usable of:
///   1. `retry-after-ms` (Azure, OpenAI SDKs): non-negative decimal milliseconds;
///   2. `retry-after`: non-negative decimal seconds, or an HTTP-date (IMF-fixdate,
///      "Sun, 06 Nov 1994 08:49:37 GMT") measured against `wall_now_ms` (Unix ms);
///   3. `x-ratelimit-reset-requests` / `-tokens` (OpenAI durations, see parse_go_duration; bare
///      decimal seconds as some compatible servers send are accepted too): the larger of those whose
///      matching `x-ratelimit-remaining-*` is 0, else the requests one, else the tokens one;
///   4. `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset` (RFC 3339), chosen
///      by the same rule against `anthropic-ratelimit-*-remaining`.
/// Garbage, negative values and dates already past are skipped (the next source is tried); the
/// result is capped at kMaxRetryDelay and rounded up to whole milliseconds. nullopt when nothing
/// is usable. Pure.
std::optional<std::chrono::milliseconds> retry_delay(const Headers& headers, std::int64_t wall_now_ms);

/// OpenAI's (Go's time.Duration) format: one or more <decimal><unit> with unit h, m, s, ms, us, µs
/// or ns ("1h2m3.5s", "6m0s", "20ms", "0s"), or a bare "0". Rounded up to whole milliseconds.
/// nullopt on anything else: empty, a sign, a missing or unknown unit, spaces, overflow.
std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view text);

/// What the headers say about the key's quota. Counts come from `x-ratelimit-{limit,remaining}-
/// {requests,tokens}` or else `anthropic-ratelimit-{requests,tokens}-{limit,remaining}`; negative
/// or garbage counts (Azure sends -1) are left empty. Resets are durations from `wall_now_ms`:
/// OpenAI's relative `x-ratelimit-reset-*`, or Anthropic's absolute RFC 3339 `…-reset` (a time
/// already past is 0); capped at kMaxRetryDelay.
struct RateWindow {
  std::optional<std::int64_t> requests_remaining, requests_limit, tokens_remaining, tokens_limit;
  std::optional<std::chrono::milliseconds> requests_reset, tokens_reset;
};

/// Reads the quota window from any response (not only a 429). Pure.
RateWindow read_rate_window(const Headers& headers, std::int64_t wall_now_ms);

}  // namespace tollgate::core
