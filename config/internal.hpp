// Helpers shared by the config library's source files; not part of its interface.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace tollgate::config::detail {

inline constexpr std::string_view kEmbeddedSource = "<embedded defaults>";

inline const std::vector<std::string> kProviderTypes{"openai", "anthropic", "gemini", "mock"};
inline const std::vector<std::string> kStrategies{"priority",      "round-robin", "weighted",
                                                  "least-latency", "least-busy",  "cost-optimized",
                                                  "usage-balanced"};
inline const std::vector<std::string> kAuthModes{"auto", "virtual-keys", "open"};
inline const std::vector<std::string> kLogLevels{"trace", "debug", "info", "warn", "error", "off"};
inline const std::vector<std::string> kLogFormats{"text", "json"};
inline const std::vector<std::string> kCacheModes{"exact", "semantic", "off"};
inline const std::vector<std::string> kCacheScopes{"key", "team", "global"};
inline const std::vector<std::string> kBudgetScopes{"global", "provider", "model",    "virtual_key",
                                                    "team",   "project",  "customer", "feature"};
inline const std::vector<std::string> kBudgetPeriods{"daily", "weekly", "monthly", "total"};
inline const std::vector<std::string> kEnforcements{"hard", "soft", "alert"};

/// The candidate closest to `word` (case-insensitive edit distance with transpositions), or an
/// empty string when none is close enough to be worth suggesting.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// `items` joined with `separator`.
std::string join(const std::vector<std::string>& items, std::string_view separator);

/// `text` in double quotes, shortened when long; for echoing a non-secret value in a message.
std::string quote(std::string_view text);

/// `text` without leading and trailing whitespace.
std::string_view trim(std::string_view text);

/// Checks the values of a parsed configuration (enums, ranges, unique names, references between
/// providers, models and fallbacks), fills per-type defaults (provider base_url), strips trailing
/// slashes from base URLs and drops empty provider keys. Throws ConfigError naming `file` and the
/// offending key path. Called on every Config the library returns.
void validate(Config& config, const std::string& file);

}  // namespace tollgate::config::detail
