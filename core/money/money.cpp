// Money: per-token prices, the exact cost of a usage (integer pico-dollars, one rounding), USD text.
#include "core/money/money.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tollgate::core {
namespace {

constexpr double kMaxUsdPerMillion = 1e6;  // 1e12 pico per token: far above any list price
constexpr double kMaxUsd = 9e9;            // 9e18 nanos, just under INT64_MAX
constexpr std::int64_t kPicoPerNano = 1000;

/// Rounds a non-negative, bounded double to the nearest integer (halves away from zero).
std::int64_t round_to_int(double value) noexcept { return static_cast<std::int64_t>(std::llround(value)); }

/// floor(a / b) for b > 0, also for negative a (C++ division truncates towards zero).
__int128 floor_div(__int128 a, __int128 b) noexcept {
  const __int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

std::optional<std::int64_t> pico_per_token(double usd_per_million) noexcept {
  if (!std::isfinite(usd_per_million) || usd_per_million < 0 || usd_per_million > kMaxUsdPerMillion)
    return std::nullopt;
  return round_to_int(usd_per_million * 1e6);
}

Nanos cost_nanos(const Usage& usage, const Price& price) noexcept {
  const std::int64_t prompt = std::max<std::int64_t>(usage.prompt_tokens, 0);
  const std::int64_t completion = std::max<std::int64_t>(usage.completion_tokens, 0);
  // An upstream may report more cached tokens than prompt tokens; the excess is not charged at all
  // rather than turning the uncached part negative.
  const std::int64_t cached = std::clamp<std::int64_t>(usage.cached_tokens, 0, prompt);
  const std::int64_t written = std::clamp<std::int64_t>(usage.cache_creation_tokens, 0, prompt - cached);

  // 128 bits: any int64 token count times any price pico_per_token() gives (<= 1e12) is < 1e31.
  // Pricing fills cached_input and cache_write_input from input when no figure is given.
  const __int128 pico = static_cast<__int128>(prompt - cached - written) * price.input +
                        static_cast<__int128>(cached) * price.cached_input +
                        static_cast<__int128>(written) * price.cache_write_input +
                        static_cast<__int128>(completion) * price.output;
  // Half up, once per request: floor((pico + 500) / 1000).
  const __int128 nanos = floor_div(pico + kPicoPerNano / 2, kPicoPerNano);
  if (nanos > std::numeric_limits<Nanos>::max()) return std::numeric_limits<Nanos>::max();
  if (nanos < std::numeric_limits<Nanos>::min()) return std::numeric_limits<Nanos>::min();
  return static_cast<Nanos>(nanos);
}

std::optional<Nanos> usd_to_nanos(double usd) noexcept {
  if (!std::isfinite(usd) || usd < 0 || usd > kMaxUsd) return std::nullopt;
  return round_to_int(usd * 1e9);
}

std::string format_usd(Nanos amount) {
  // Unsigned magnitude so that INT64_MIN has one too.
  const bool negative = amount < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(amount + 1)) + 1 : static_cast<std::uint64_t>(amount);
  const std::uint64_t whole = magnitude / static_cast<std::uint64_t>(kNanosPerUsd);
  std::uint64_t fraction = magnitude % static_cast<std::uint64_t>(kNanosPerUsd);

  std::string out = negative ? "-" : "";
  out += std::to_string(whole);
  if (fraction != 0) {
    int digits = 9;
    while (fraction % 10 == 0) {
      fraction /= 10;
      --digits;
    }
    const std::string tail = std::to_string(fraction);
    out += '.';
    out.append(static_cast<std::size_t>(digits) - tail.size(), '0');
    out += tail;
  }
  return out;
}

}  // namespace tollgate::core
