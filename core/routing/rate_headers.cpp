// Rate headers: Retry-After and friends, OpenAI durations, Anthropic RFC 3339 resets, quota windows.
#include "core/routing/rate_headers.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <span>
#include <sstream>

#include <date/date.h>

#include "core/time_format.hpp"

namespace tollgate::core {
namespace {

using std::chrono::milliseconds;

// Durations are summed in nanoseconds; a decimal's whole part saturates at 10^18 units, so a
// product with the largest unit (an hour, 3.6e12 ns) stays far inside 127 bits.
__extension__ using Wide = __int128;

constexpr Wide kNanosPerMilli = 1'000'000;
constexpr Wide kNanosPerSecond = 1'000'000'000;
constexpr Wide kMaxWhole = 1'000'000'000'000'000'000;
constexpr Wide kMaxInt64 = std::numeric_limits<std::int64_t>::max();

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::optional<std::string_view> header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key == name) return trim(value);
  return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// A non-negative "<digits>[.<digits>]" as read, before its unit is known.
struct Decimal {
  Wide whole = 0;
  Wide fraction = 0;
  Wide scale = 1;  // fraction / scale is the part after the point

  /// The value times `unit_ns`, rounded up to a whole nanosecond.
  Wide nanos(Wide unit_ns) const { return whole * unit_ns + (fraction * unit_ns + scale - 1) / scale; }
};

/// Reads a decimal (at least one digit in all) at `pos`, moving `pos` past it.
std::optional<Decimal> scan_decimal(std::string_view text, std::size_t& pos) {
  Decimal number;
  std::size_t digits = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos, ++digits)
    number.whole = std::min(number.whole * 10 + (text[pos] - '0'), kMaxWhole);
  if (pos < text.size() && text[pos] == '.') {
    for (++pos; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
      // Digits past the 18th are below a nanosecond of any unit.
      if (number.scale < kMaxWhole) {
        number.fraction = number.fraction * 10 + (text[pos] - '0');
        number.scale *= 10;
      }
    }
  }
  if (digits == 0) return std::nullopt;
  return number;
}

/// A whole-string non-negative decimal in `unit_ns`, as milliseconds rounded up and capped.
std::optional<milliseconds> decimal_millis(std::string_view text, Wide unit_ns) {
  std::size_t pos = 0;
  const auto number = scan_decimal(text, pos);
  if (!number || pos != text.size()) return std::nullopt;
  const Wide ms = (number->nanos(unit_ns) + kNanosPerMilli - 1) / kNanosPerMilli;
  return milliseconds{static_cast<std::int64_t>(std::min<Wide>(ms, kMaxRetryDelay.count()))};
}

std::optional<std::int64_t> non_negative_integer(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 18 || !std::all_of(text->begin(), text->end(), is_digit))
    return std::nullopt;
  std::int64_t value = 0;
  for (const char c : *text) value = value * 10 + (c - '0');
  return value;
}

milliseconds capped(milliseconds delay) { return std::min(delay, kMaxRetryDelay); }

/// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as Unix milliseconds.
std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::istringstream in{std::string{text}};
  date::sys_seconds when;
  in >> date::parse("%a, %d %b %Y %H:%M:%S GMT", when);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return std::chrono::duration_cast<milliseconds>(when.time_since_epoch()).count();
}

/// An absolute time's distance from now, when it is not in the past.
std::optional<milliseconds> until_time(std::optional<std::int64_t> unix_ms, std::int64_t wall_now_ms) {
  if (!unix_ms || *unix_ms < wall_now_ms) return std::nullopt;
  return capped(milliseconds{*unix_ms - wall_now_ms});
}

/// OpenAI's relative reset; bare decimal seconds too (Azure and some compatible servers).
std::optional<milliseconds> relative_reset(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  if (auto go = parse_go_duration(*text)) return capped(*go);
  return decimal_millis(*text, kNanosPerSecond);
}

std::optional<milliseconds> absolute_reset(std::optional<std::string_view> text, std::int64_t wall_now_ms) {
  if (!text) return std::nullopt;
  return until_time(parse_time(*text), wall_now_ms);
}

struct Limit {
  std::optional<std::int64_t> remaining;
  std::optional<milliseconds> reset;
};

/// The larger reset of the exhausted limits; else the first limit's (requests), else any later one.
std::optional<milliseconds> pick_reset(std::span<const Limit> limits) {
  std::optional<milliseconds> exhausted;
  for (const auto& limit : limits)
    if (limit.remaining == 0 && limit.reset) exhausted = std::max(exhausted.value_or(milliseconds{0}), *limit.reset);
  if (exhausted) return exhausted;
  for (const auto& limit : limits)
    if (limit.reset) return limit.reset;
  return std::nullopt;
}

std::optional<milliseconds> openai_reset(const Headers& headers) {
  const std::array<Limit, 2> limits{
      Limit{non_negative_integer(header(headers, "x-ratelimit-remaining-requests")),
            relative_reset(header(headers, "x-ratelimit-reset-requests"))},
      Limit{non_negative_integer(header(headers, "x-ratelimit-remaining-tokens")),
            relative_reset(header(headers, "x-ratelimit-reset-tokens"))}};
  return pick_reset(limits);
}

std::optional<milliseconds> anthropic_reset(const Headers& headers, std::int64_t wall_now_ms) {
  constexpr std::array<std::string_view, 4> kKinds{"requests", "tokens", "input-tokens", "output-tokens"};
  std::array<Limit, kKinds.size()> limits;
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    const std::string prefix = "anthropic-ratelimit-" + std::string{kKinds[i]};
    limits[i] = Limit{non_negative_integer(header(headers, prefix + "-remaining")),
                      absolute_reset(header(headers, prefix + "-reset"), wall_now_ms)};
  }
  return pick_reset(limits);
}

}  // namespace

std::optional<milliseconds> parse_go_duration(std::string_view text) {
  if (text == "0") return milliseconds{0};
  if (text.empty()) return std::nullopt;
  struct Unit {
    std::string_view name;
    Wide nanos;
  };
  // Longer names first, so "ms" is not read as "m" followed by garbage.
  static constexpr std::array<Unit, 7> kUnits{{{"ns", 1},
                                               {"us", 1'000},
                                               {"\u00b5s", 1'000},
                                               {"ms", 1'000'000},
                                               {"s", 1'000'000'000},
                                               {"m", Wide{60} * 1'000'000'000},
                                               {"h", Wide{3600} * 1'000'000'000}}};
  Wide total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto number = scan_decimal(text, pos);
    if (!number) return std::nullopt;
    const auto unit = std::find_if(kUnits.begin(), kUnits.end(),
                                   [&](const Unit& u) { return text.substr(pos, u.name.size()) == u.name; });
    if (unit == kUnits.end()) return std::nullopt;
    total += number->nanos(unit->nanos);
    if (total > kMaxInt64) return std::nullopt;
    pos += unit->name.size();
  }
  return milliseconds{static_cast<std::int64_t>((total + kNanosPerMilli - 1) / kNanosPerMilli)};
}

std::optional<milliseconds> retry_delay(const Headers& headers, std::int64_t wall_now_ms) {
  if (auto text = header(headers, "retry-after-ms"))
    if (auto delay = decimal_millis(*text, kNanosPerMilli)) return delay;
  if (auto text = header(headers, "retry-after")) {
    if (auto delay = decimal_millis(*text, kNanosPerSecond)) return delay;
    if (auto delay = until_time(parse_http_date(*text), wall_now_ms)) return delay;
  }
  if (auto delay = openai_reset(headers)) return delay;
  return anthropic_reset(headers, wall_now_ms);
}

RateWindow read_rate_window(const Headers& headers, std::int64_t wall_now_ms) {
  const auto count = [&headers](std::string_view openai, std::string_view anthropic) {
    if (auto value = non_negative_integer(header(headers, openai))) return value;
    return non_negative_integer(header(headers, anthropic));
  };
  const auto reset = [&headers, wall_now_ms](std::string_view openai, std::string_view anthropic) {
    if (auto value = relative_reset(header(headers, openai))) return value;
    const auto text = header(headers, anthropic);
    const auto when = text ? parse_time(*text) : std::nullopt;
    if (!when) return std::optional<milliseconds>{};
    // A reset already past is no wait at all, not garbage.
    return std::optional<milliseconds>{capped(milliseconds{std::max<std::int64_t>(*when - wall_now_ms, 0)})};
  };
  RateWindow window;
  window.requests_remaining = count("x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining");
  window.requests_limit = count("x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit");
  window.tokens_remaining = count("x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining");
  window.tokens_limit = count("x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit");
  window.requests_reset = reset("x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset");
  window.tokens_reset = reset("x-ratelimit-reset-tokens", "anthropic-ratelimit-tokens-reset");
  return window;
}

}  // namespace tollgate::core
