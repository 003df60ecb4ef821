// Budget period windows: UTC calendar arithmetic, ISO weeks, month ends, time zones and DST.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "core/money/periods.hpp"
#include "core/time_format.hpp"

using namespace tollgate::core;

namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

/// An RFC 3339 instant as Unix ms (the expected values below were checked with
/// `date -u -d` and `zdump -v`).
std::int64_t at(const char* rfc3339) {
  auto parsed = parse_time(rfc3339);
  REQUIRE(parsed.has_value());
  return *parsed;
}

Window span(const char* start, const char* end) { return Window{at(start), at(end)}; }

Calendar zone(const char* name) {
  auto calendar = Calendar::in_zone(name);
  REQUIRE(calendar.has_value());
  return *calendar;
}

}  // namespace

TEST_CASE("periods parse from and print as their config names", "[periods]") {
  CHECK(parse_period("daily") == Period::kDaily);
  CHECK(parse_period("weekly") == Period::kWeekly);
  CHECK(parse_period("monthly") == Period::kMonthly);
  CHECK(parse_period("total") == Period::kTotal);
  for (Period period : {Period::kDaily, Period::kWeekly, Period::kMonthly, Period::kTotal})
    CHECK(parse_period(to_string(period)) == period);
  CHECK(to_string(Period::kWeekly) == "weekly");
  for (const char* bad : {"", "Daily", "MONTHLY", "month", "yearly", "daily "})
    CHECK_FALSE(parse_period(bad).has_value());
}

TEST_CASE("the test helper agrees with epoch values from date -u", "[periods]") {
  CHECK(at("2026-11-22T00:00:00Z") == 1'795'305'600'000);
  CHECK(at("2026-12-28T00:00:00Z") == 1'798'416'000'000);
  CHECK(at("2028-02-29T00:00:00Z") == 1'835'395'200'000);
  CHECK(at("2026-09-06T04:00:00Z") == 1'788'667'200'000);
}

TEST_CASE("UTC windows for a day, an ISO week, a month and all time", "[periods]") {
  const Calendar utc;
  const std::int64_t now = at("2026-11-22T04:07:00.123Z");  // a Sunday
  CHECK(utc.window(Period::kDaily, now) == Window{1'795'305'600'000, 1'795'392'000'000});
  CHECK(utc.window(Period::kWeekly, now) == span("2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"));
  CHECK(utc.window(Period::kMonthly, now) == span("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"));
  CHECK(utc.window(Period::kTotal, now) == Window{0, kEndOfTime});
  CHECK(utc.window(Period::kTotal, 0) == Window{0, kEndOfTime});
  CHECK(utc.zone_name() == "UTC");
}

TEST_CASE("UTC months end on the right day, across a year end and in leap years", "[periods]") {
  const Calendar utc;
  CHECK(utc.window(Period::kMonthly, at("2026-01-31T23:59:59.999Z")) ==
        span("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"));
  CHECK(utc.window(Period::kMonthly, at("2026-02-01T00:00:00Z")) ==
        span("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"));
  CHECK(utc.window(Period::kMonthly, at("2026-12-15T08:00:00Z")) ==
        span("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"));

  SECTION("leap day 2028-02-29") {
    const std::int64_t leap_day = at("2028-02-29T12:00:00Z");
    CHECK(utc.window(Period::kDaily, leap_day) == span("2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z"));
    const Window feb_2028 = utc.window(Period::kMonthly, leap_day);
    CHECK(feb_2028 == span("2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"));
    CHECK(feb_2028.end - feb_2028.start == 29 * kDay);
    const Window feb_2027 = utc.window(Period::kMonthly, at("2027-02-28T23:00:00Z"));
    CHECK(feb_2027 == span("2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"));
    CHECK(feb_2027.end - feb_2027.start == 28 * kDay);
  }
}

TEST_CASE("an ISO week that crosses a year end starts on its Monday", "[periods]") {
  const Calendar utc;
  const Window week = Window{1'798'416'000'000, 1'799'020'800'000};  // 2026-12-28 .. 2027-01-04
  CHECK(utc.window(Period::kWeekly, at("2026-12-31T10:00:00Z")) == week);  // a Thursday
  CHECK(utc.window(Period::kWeekly, at("2026-12-28T00:00:00Z")) == week);  // its Monday
  CHECK(utc.window(Period::kWeekly, at("2027-01-03T23:59:59.999Z")) == week);  // its Sunday
  CHECK(utc.window(Period::kWeekly, at("2027-01-04T00:00:00Z")) ==
        span("2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"));
}

TEST_CASE("an instant on a boundary opens the new window; 1 ms before is the old one", "[periods]") {
  const Calendar utc;
  const Calendar new_york = zone("America/New_York");
  for (Period period : {Period::kDaily, Period::kWeekly, Period::kMonthly}) {
    for (const Calendar* calendar : {&utc, &new_york}) {
      const Window current = calendar->window(period, at("2026-11-22T04:07:00Z"));
      CAPTURE(to_string(period), calendar->zone_name());
      CHECK(current.contains(at("2026-11-22T04:07:00Z")));
      CHECK(calendar->window(period, current.start).start == current.start);
      CHECK(calendar->window(period, current.start - 1).end == current.start);
      CHECK(calendar->window(period, current.end).start == current.end);
      CHECK(calendar->window(period, current.end - 1) == current);
      CHECK_FALSE(current.contains(current.end));
      CHECK_FALSE(current.contains(current.start - 1));
    }
  }
  CHECK(utc.window(Period::kDaily, at("2026-11-22T00:00:00Z") - 1) ==
        span("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"));
}

TEST_CASE("\"UTC\" and \"Etc/UTC\" are the default calendar", "[periods]") {
  for (const char* name : {"UTC", "Etc/UTC"}) {
    const Calendar calendar = zone(name);
    CHECK(calendar.zone_name() == "UTC");
    CHECK(calendar.window(Period::kDaily, at("2026-11-22T04:07:00Z")) ==
          span("2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"));
  }
}

TEST_CASE("unknown or non-IANA zone names are refused", "[periods]") {
  for (const char* bad : {"", "Mars/Olympus_Mons", "europe/berlin", "utc", "EUROPE/BERLIN", "Europe/Berlin ",
                          "/Europe/Berlin", "../zoneinfo/UTC", "right/UTC", "posix/UTC", "localtime",
                          "zone.tab", "tzdata.zi", "Factory"})
    CHECK_FALSE(Calendar::in_zone(bad).has_value());
  CHECK(zone("Europe/Berlin").zone_name() == "Europe/Berlin");
}

TEST_CASE("New York days are 23 h on spring-forward day and 25 h on fall-back day", "[periods]") {
  const Calendar new_york = zone("America/New_York");
  const Window spring = new_york.window(Period::kDaily, at("2026-03-08T16:00:00Z"));
  CHECK(spring == Window{1'772'946'000'000, 1'773'028'800'000});  // 05:00Z .. next 04:00Z
  CHECK(spring.end - spring.start == 23 * kHour);

  const Window fall = new_york.window(Period::kDaily, at("2026-11-01T16:00:00Z"));
  CHECK(fall == span("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"));
  CHECK(fall.end - fall.start == 25 * kHour);
  // 01:30 happens twice that night; the second one (EST, 06:30Z) is still the same day.
  CHECK(new_york.window(Period::kDaily, at("2026-11-01T06:30:00Z")) == fall);

  CHECK(new_york.window(Period::kMonthly, at("2026-11-15T12:00:00Z")) ==
        span("2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"));
  CHECK(new_york.window(Period::kWeekly, at("2026-11-22T04:07:00Z")) ==  // Sat 23:07 local
        span("2026-11-16T05:00:00Z", "2026-11-23T05:00:00Z"));
}

TEST_CASE("Asia/Kolkata months start at 18:30 UTC the day before", "[periods]") {
  const Calendar kolkata = zone("Asia/Kolkata");
  CHECK(kolkata.window(Period::kMonthly, at("2026-11-22T04:07:00Z")) ==
        span("2026-10-31T18:30:00Z", "2026-11-30T18:30:00Z"));
  // Still 31 October in UTC, already November in India.
  CHECK(kolkata.window(Period::kMonthly, at("2026-10-31T18:30:00Z")).start == at("2026-10-31T18:30:00Z"));
  CHECK(kolkata.window(Period::kMonthly, at("2026-10-31T18:29:59.999Z")) ==
        span("2026-09-30T18:30:00Z", "2026-10-31T18:30:00Z"));
  CHECK(kolkata.window(Period::kDaily, at("2026-11-22T20:00:00Z")) ==
        span("2026-11-22T18:30:00Z", "2026-11-23T18:30:00Z"));
}

TEST_CASE("Pacific/Auckland months follow southern-hemisphere DST", "[periods]") {
  const Calendar auckland = zone("Pacific/Auckland");
  // April: starts in NZDT (+13), ends in NZST (+12) after DST ends on 5 April.
  const Window april = auckland.window(Period::kMonthly, at("2026-04-15T00:00:00Z"));
  CHECK(april == span("2026-03-31T11:00:00Z", "2026-04-30T12:00:00Z"));
  CHECK(april.end - april.start == 30 * kDay + kHour);
  // September: starts in NZST, ends in NZDT after DST starts on 27 September.
  const Window september = auckland.window(Period::kMonthly, at("2026-09-15T00:00:00Z"));
  CHECK(september == span("2026-08-31T12:00:00Z", "2026-09-30T11:00:00Z"));
  CHECK(september.end - september.start == 30 * kDay - kHour);
  // 30 September 11:30 UTC is already 1 October 00:30 in Auckland.
  CHECK(auckland.window(Period::kMonthly, at("2026-09-30T11:30:00Z")) ==
        span("2026-09-30T11:00:00Z", "2026-10-31T11:00:00Z"));
}

TEST_CASE("a local midnight skipped by DST starts the day at the first valid instant", "[periods]") {
  SECTION("America/Santiago, 6 September 2026: 00:00 -04 jumps to 01:00 -03") {
    const Calendar santiago = zone("America/Santiago");
    const Window day = santiago.window(Period::kDaily, at("2026-09-06T12:00:00Z"));
    CHECK(day == Window{1'788'667'200'000, at("2026-09-07T03:00:00Z")});
    CHECK(day.end - day.start == 23 * kHour);
    CHECK(santiago.window(Period::kDaily, at("2026-09-06T04:00:00Z")) == day);
    CHECK(santiago.window(Period::kDaily, at("2026-09-06T03:59:59.999Z")) ==
          span("2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z"));
  }
  SECTION("America/Havana, 8 March 2026: 00:00 CST jumps to 01:00 CDT") {
    const Calendar havana = zone("America/Havana");
    CHECK(havana.window(Period::kDaily, at("2026-03-08T12:00:00Z")) ==
          span("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"));
    CHECK(havana.window(Period::kDaily, at("2026-03-08T04:59:59.999Z")) ==
          span("2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z"));
  }
  SECTION("Asia/Beirut, 29 March 2026: 00:00 EET jumps to 01:00 EEST") {
    CHECK(zone("Asia/Beirut").window(Period::kDaily, at("2026-03-29T10:00:00Z")) ==
          span("2026-03-28T22:00:00Z", "2026-03-29T21:00:00Z"));
  }
}

TEST_CASE("a local midnight that happens twice starts the day at its earliest occurrence", "[periods]") {
  // America/Havana, 1 November 2026: 01:00 CDT falls back to 00:00 CST, so 00:00 is both
  // 04:00Z (CDT) and 05:00Z (CST).
  const Calendar havana = zone("America/Havana");
  const Window day = havana.window(Period::kDaily, at("2026-11-01T12:00:00Z"));
  CHECK(day == span("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"));
  CHECK(day.end - day.start == 25 * kHour);
  CHECK(havana.window(Period::kDaily, at("2026-11-01T04:30:00Z")) == day);  // 00:30 CDT
  CHECK(havana.window(Period::kDaily, at("2026-11-01T05:30:00Z")) == day);  // 00:30 CST
  CHECK(havana.window(Period::kDaily, at("2026-11-01T03:59:59.999Z")) ==
        span("2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z"));
  CHECK(havana.window(Period::kMonthly, at("2026-11-15T00:00:00Z")) ==
        span("2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"));
}

TEST_CASE("instants before 1970 and at the extremes do not break the arithmetic", "[periods]") {
  const Calendar utc;
  CHECK(utc.window(Period::kDaily, -1) == Window{-kDay, 0});
  CHECK(utc.window(Period::kMonthly, -1) == Window{-31 * kDay, 0});
  CHECK(zone("America/New_York").window(Period::kDaily, -1) == Window{-68'400'000, 18'000'000});
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  for (const Calendar& calendar : {utc, zone("Pacific/Auckland")}) {
    for (Period period : {Period::kDaily, Period::kWeekly, Period::kMonthly}) {
      CAPTURE(calendar.zone_name(), to_string(period));
      const Window low = calendar.window(period, kMin);
      const Window high = calendar.window(period, kMax);
      CHECK(low.start < low.end);
      CHECK(high.start < high.end);
      CHECK(low.end <= high.start);
      // Out of range instants are clamped to years 1..9999.
      CHECK(high.end <= at("9999-12-31T00:00:00Z") + 2 * 31 * kDay);
    }
  }
}
