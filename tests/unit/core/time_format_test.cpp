// RFC 3339 formatting and parsing.
#include <catch2/catch.hpp>

#include "core/time_format.hpp"

using namespace tollgate::core;

TEST_CASE("times format as RFC 3339 UTC, with milliseconds only when present", "[time]") {
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(1'700'000'000'000) == "2023-11-14T22:13:20Z");
  CHECK(format_rfc3339(1'700'000'000'123) == "2023-11-14T22:13:20.123Z");
  CHECK(format_rfc3339(951'782'400'000) == "2000-02-29T00:00:00Z");
}

TEST_CASE("times parse from RFC 3339 or Unix seconds", "[time]") {
  CHECK(parse_time("2023-11-14T22:13:20Z") == 1'700'000'000'000);
  CHECK(parse_time("2023-11-14t22:13:20z") == 1'700'000'000'000);
  CHECK(parse_time("2023-11-14T22:13:20.5Z") == 1'700'000'000'500);
  CHECK(parse_time("2023-11-14T22:13:20.123456Z") == 1'700'000'000'123);
  CHECK(parse_time("2023-11-14T23:13:20+01:00") == 1'700'000'000'000);
  CHECK(parse_time("2023-11-14T21:13:20-01:00") == 1'700'000'000'000);
  CHECK(parse_time("1700000000") == 1'700'000'000'000);
  CHECK(parse_time("0") == 0);
  for (const char* bad : {"", "tomorrow", "2023-11-14", "2023-11-14T22:13:20", "2023-02-30T00:00:00Z",
                          "2023-13-01T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "-5",
                          "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Zjunk", "1969-12-31T23:59:59Z",
                          "12345678901234567890"})
    CHECK_FALSE(parse_time(bad).has_value());
}
