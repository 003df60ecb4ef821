// Budget periods: calendar-aligned windows (day, ISO week, month, or all time) in a time zone.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace tollgate::core {

enum class Period { kDaily, kWeekly, kMonthly, kTotal };

/// "daily" | "weekly" | "monthly" | "total".
std::optional<Period> parse_period(std::string_view text) noexcept;
std::string_view to_string(Period period) noexcept;

/// A half-open span of Unix milliseconds, [start, end).
struct Window {
  std::int64_t start = 0;
  std::int64_t end = 0;
  bool contains(std::int64_t at) const noexcept { return at >= start && at < end; }
  bool operator==(const Window&) const = default;
};
inline constexpr std::int64_t kEndOfTime = std::numeric_limits<std::int64_t>::max();

/// Periods as a time zone's calendar sees them: a day runs from local midnight to the next local
/// midnight (23 or 25 hours across a DST change), a week from Monday 00:00 (ISO 8601), a month
/// from the 1st 00:00. `total` is [0, kEndOfTime). Cheap to copy; thread-safe.
class Calendar {
 public:
  /// UTC.
  Calendar() = default;
  /// "UTC" or an IANA zone name from the system's tz database ("Europe/Berlin"); nullopt when
  /// the name is unknown (or "localtime", the host's own zone). "Etc/UTC" is named "UTC".
  static std::optional<Calendar> in_zone(std::string_view name);

  /// The window of `period` that contains `at` (Unix ms, meant for at >= 0; instants outside the
  /// years 1–9999 are clamped).
  Window window(Period period, std::int64_t at) const;
  /// The zone's name, "UTC" for the default.
  std::string zone_name() const;

 private:
  const date::time_zone* zone_ = nullptr;  // nullptr: UTC
};

}  // namespace tollgate::core
