// Money: integer nano-dollars, per-token prices and the cost of one request's usage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/openai/usage.hpp"

namespace tollgate::core {

/// An amount of money in nano-dollars (1e-9 USD). Every stored and summed amount is one.
using Nanos = std::int64_t;
inline constexpr Nanos kNanosPerUsd = 1'000'000'000;

/// Per-token prices in pico-dollars (1e-12 USD): a price in USD per 1M tokens × 1e6. Any price
/// given to 6 decimals per 1M tokens is held exactly (0.001 USD/1M tokens is 1000 = 1 nano/token).
struct Price {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t cached_input = 0;
  std::int64_t cache_write_input = 0;  // a prompt token written to the provider's prompt cache
  bool operator==(const Price&) const = default;
};

/// USD per 1M tokens → pico-dollars per token, rounded to the nearest; nullopt when the figure is
/// negative, not finite, or above 1e6 USD per 1M tokens.
std::optional<std::int64_t> pico_per_token(double usd_per_million) noexcept;

/// The exact cost of `usage` at `price`: cached prompt tokens at cached_input and cache-writing
/// prompt tokens at cache_write_input (Pricing sets both to input when no figure is known), the
/// rest of the prompt at input, completion tokens
/// (reasoning included, as OpenAI counts them) at output; negative counts as 0, cached beyond the
/// prompt ignored (cache writes beyond the uncached rest likewise); summed in pico-dollars and rounded half up to the nano once (capped at
/// INT64_MAX). Exact whenever the prices are whole nanos per token (≤ 3 decimals per 1M tokens).
Nanos cost_nanos(const Usage& usage, const Price& price) noexcept;

/// USD (a config or API figure, e.g. a budget limit) → nano-dollars, rounded to the nearest;
/// nullopt when negative, not finite or above 9e9 USD.
std::optional<Nanos> usd_to_nanos(double usd) noexcept;

/// Nano-dollars as a decimal USD string with no trailing zeros: "0", "0.000045", "12.5", "-0.1".
std::string format_usd(Nanos amount);

/// Nano-dollars as a double, for Prometheus and JSON figures derived from exact amounts.
inline double to_usd(Nanos amount) noexcept { return static_cast<double>(amount) / 1e9; }

}  // namespace tollgate::core
