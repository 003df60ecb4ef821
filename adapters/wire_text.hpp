// Wire text: small text helpers every provider adapter needs (header values, error messages, dumps).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/headers.hpp"

namespace tollgate::adapters {

/// `s` without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s) noexcept;

/// ASCII case-insensitive equality (header names).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max) noexcept;

/// A non-negative decimal integer, spaces around it allowed; nullopt for anything else.
std::optional<std::int64_t> parse_integer(std::string_view text);

/// The upstream's wait: `retry-after` in seconds (the HTTP-date form is ignored: rare from LLM
/// APIs and not worth a date parser), else `retry-after-ms` rounded up to whole seconds.
std::optional<std::chrono::seconds> retry_after(const core::Headers& headers);

/// Compact JSON text; invalid UTF-8 in strings is replaced rather than thrown on (upstream text).
std::string dump(const nlohmann::ordered_json& value);

/// Seconds since the epoch on the system clock (`created` of translated answers).
std::int64_t unix_seconds();

}  // namespace tollgate::adapters
