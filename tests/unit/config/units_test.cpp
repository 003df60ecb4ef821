// Durations and sizes as written in config files.
#include <catch2/catch.hpp>

#include "config/loader.hpp"

using namespace std::chrono_literals;
using tollgate::config::parse_duration;
using tollgate::config::parse_size;

TEST_CASE("parse_duration accepts every unit and bare seconds") {
  CHECK(parse_duration("200ms") == 200ms);
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("1d") == 24h);
  CHECK(parse_duration("45") == 45s);
  CHECK(parse_duration("0") == 0ms);
  CHECK(parse_duration("0s") == 0ms);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("0.25") == 250ms);
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("1m30s500ms") == 90500ms);
  CHECK(parse_duration("  10s ") == 10s);
}

TEST_CASE("parse_duration rejects malformed text") {
  for (const char* bad : {"", "   ", "s", "10x", "10 sec", "-5s", "+5s", "1m30", "ten", "1.2.3s", "5S", "1e3s",
                          "10s!", "99999999999d"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_duration(bad), std::invalid_argument);
  }
}

TEST_CASE("parse_size accepts bytes and binary and decimal units") {
  CHECK(parse_size("512") == 512u);
  CHECK(parse_size("512B") == 512u);
  CHECK(parse_size("64KiB") == 65'536u);
  CHECK(parse_size("8MiB") == 8u * 1024 * 1024);
  CHECK(parse_size("1GiB") == 1'073'741'824u);
  CHECK(parse_size("10KB") == 10'000u);
  CHECK(parse_size("10MB") == 10'000'000u);
  CHECK(parse_size("2GB") == 2'000'000'000u);
  CHECK(parse_size("8mib") == 8u * 1024 * 1024);
  CHECK(parse_size("8 MiB") == 8u * 1024 * 1024);
  CHECK(parse_size("1.5KiB") == 1536u);
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("18446744073709551615") == 18'446'744'073'709'551'615u);
}

TEST_CASE("parse_size rejects malformed text") {
  for (const char* bad : {"", "MiB", "8M", "8 megabytes", "-1", "1.5", "1.5B", "8MiBs", "0x10",
                          "18446744073709551616", "20000000000GiB"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_size(bad), std::invalid_argument);
  }
}
