// Budget periods: calendar windows in UTC by arithmetic, in other zones through date/tz.
#include "core/money/periods.hpp"

#include <chrono>
#include <exception>

#include <date/date.h>
#include <date/tz.h>

namespace tollgate::core {

namespace {

using std::chrono::milliseconds;

// Windows are defined for instants from 1970 on (budgets never start earlier). Instants before
// that still get the proleptic-Gregorian window the zone's data gives, and anything outside the
// years 1–9999 is clamped to that range first, so the calendar arithmetic (int days, the tz
// library's year range) can never overflow: such a window need not contain `at`.
constexpr std::int64_t kMinAt = -62'135'596'800'000;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kMaxAt = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
constexpr std::int64_t kMillisPerDay = 86'400'000;

/// The first day of the period containing `day` and the first day of the next one, as day
/// counts from 1970-01-01 on whichever calendar (UTC or local) `day` was taken from.
struct DaySpan {
  date::days first;
  date::days next;
};

DaySpan day_span(Period period, date::days day) {
  const date::sys_days as_date{day};
  switch (period) {
    case Period::kWeekly: {
      // weekday difference is always in [0, 6]: days since the ISO week's Monday.
      const date::sys_days monday = as_date - (date::weekday{as_date} - date::Monday);
      return {monday.time_since_epoch(), (monday + date::days{7}).time_since_epoch()};
    }
    case Period::kMonthly: {
      const date::year_month_day ymd{as_date};
      const date::year_month month = ymd.year() / ymd.month();
      const date::sys_days first{month / 1};
      const date::sys_days next{(month + date::months{1}) / 1};
      return {first.time_since_epoch(), next.time_since_epoch()};
    }
    case Period::kDaily:
    case Period::kTotal:
      break;
  }
  return {day, day + date::days{1}};
}

std::int64_t to_millis(date::sys_seconds instant) {
  return std::chrono::duration_cast<milliseconds>(instant.time_since_epoch()).count();
}

}  // namespace

std::optional<Period> parse_period(std::string_view text) noexcept {
  if (text == "daily") return Period::kDaily;
  if (text == "weekly") return Period::kWeekly;
  if (text == "monthly") return Period::kMonthly;
  if (text == "total") return Period::kTotal;
  return std::nullopt;
}

std::string_view to_string(Period period) noexcept {
  switch (period) {
    case Period::kDaily: return "daily";
    case Period::kWeekly: return "weekly";
    case Period::kMonthly: return "monthly";
    case Period::kTotal: return "total";
  }
  return "total";
}

std::optional<Calendar> Calendar::in_zone(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return Calendar{};
  // The system's tz directory also holds "localtime" (the host's own zone): not an IANA name,
  // and a budget must not change meaning with the machine it runs on.
  if (name == "localtime") return std::nullopt;
  try {
    const date::time_zone* zone = date::locate_zone(name);
    // The library reads a zone's file on its first lookup (once, under std::call_once): do it
    // here, at configuration time, so a broken file is refused now and window() never does I/O.
    (void)zone->get_info(date::sys_seconds{});
    Calendar calendar;
    calendar.zone_ = zone;
    return calendar;
  } catch (const std::exception&) {
    // locate_zone throws std::runtime_error for an unknown name; loading may throw too.
    return std::nullopt;
  }
}

// Cost: UTC is pure integer arithmetic (~45 ns here). In a zone it is three binary searches over
// the zone's transitions (one to_local, two to_sys), ~0.35-0.5 us on this machine, with no heap
// allocation (the abbreviation the library copies fits the small-string buffer); a budget store
// that needs less can cache the last window per budget and recompute only when `at` leaves it. Times after the zone file's last transition (2037 with
// Debian's "fat" files) keep that transition's offset: the library ignores the POSIX TZ footer.
Window Calendar::window(Period period, std::int64_t at) const {
  if (period == Period::kTotal) return Window{0, kEndOfTime};
  const std::int64_t clamped = at < kMinAt ? kMinAt : (at > kMaxAt ? kMaxAt : at);
  const date::sys_time<milliseconds> instant{milliseconds{clamped}};

  if (zone_ == nullptr) {
    const DaySpan span = day_span(period, date::floor<date::days>(instant).time_since_epoch());
    return Window{std::int64_t{span.first.count()} * kMillisPerDay,
                  std::int64_t{span.next.count()} * kMillisPerDay};
  }

  const date::local_time<milliseconds> local = zone_->to_local(instant);
  const DaySpan span = day_span(period, date::floor<date::days>(local).time_since_epoch());
  // A local midnight skipped by a DST jump maps to the first instant after the gap (the
  // library's answer for a nonexistent time under either choice); a repeated one to its
  // earliest occurrence. Both ends use the same rule, so consecutive windows tile exactly.
  const date::sys_seconds start = zone_->to_sys(date::local_days{span.first}, date::choose::earliest);
  const date::sys_seconds end = zone_->to_sys(date::local_days{span.next}, date::choose::earliest);
  return Window{to_millis(start), to_millis(end)};
}

std::string Calendar::zone_name() const {
  return zone_ == nullptr ? std::string{"UTC"} : std::string{zone_->name()};
}

}  // namespace tollgate::core
