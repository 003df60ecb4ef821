// RFC 3339 times on the wire, Unix milliseconds inside.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace tollgate::core {

/// The clock's wall time as Unix milliseconds (the unit of stored times).
inline std::int64_t unix_now(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch()).count();
}

/// "2026-11-22T04:07:00Z", or with milliseconds ("…:00.123Z") when they are not zero.
std::string format_rfc3339(std::int64_t unix_millis);

/// Parses an RFC 3339 date-time ("2026-11-22T04:07:00Z", "…T04:07:00.5+01:00"; 't'/'z' too, as
/// the RFC allows) or a non-negative integer of Unix seconds. nullopt when it is neither, or the
/// date does not exist (2026-02-30) or is outside the years 1970–9999.
std::optional<std::int64_t> parse_time(std::string_view text);

}  // namespace tollgate::core
