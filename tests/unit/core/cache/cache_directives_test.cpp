// Cache directives: each header's values, combinations, and the 400s that name the header.
#include <catch2/catch.hpp>

#include "core/cache/cache_directives.hpp"

using namespace tollgate::core;
using std::nullopt;

namespace {
CacheDirectives parsed(std::optional<std::string_view> x, std::optional<std::string_view> cc,
                       std::optional<std::string_view> ttl = nullopt) {
  auto result = parse_cache_directives(x, cc, ttl);
  REQUIRE(result.has_value());
  return *result;
}
}  // namespace

TEST_CASE("no header: the cache may read and store", "[cache_directives]") {
  CHECK(parsed(nullopt, nullopt) == CacheDirectives{true, true, nullopt});
}

TEST_CASE("x-tollgate-cache: skip bypasses, refresh only stores", "[cache_directives]") {
  CHECK(parsed("skip", nullopt) == CacheDirectives{false, false, nullopt});
  CHECK(parsed(" Refresh ", nullopt) == CacheDirectives{false, true, nullopt});
  auto bad = parse_cache_directives("hit", nullopt, nullopt);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().kind == ErrorKind::kInvalidRequest);
  CHECK(bad.error().param == "x-tollgate-cache");
}

TEST_CASE("Cache-Control: no-cache does not read, no-store does not store, others are ignored", "[cache_directives]") {
  CHECK(parsed(nullopt, "no-cache") == CacheDirectives{false, true, nullopt});
  CHECK(parsed(nullopt, "No-Store") == CacheDirectives{true, false, nullopt});
  CHECK(parsed(nullopt, "max-age=0, no-store , no-cache") == CacheDirectives{false, false, nullopt});
  CHECK(parsed(nullopt, "max-age=60, private") == CacheDirectives{true, true, nullopt});
  CHECK(parsed(nullopt, "") == CacheDirectives{true, true, nullopt});
}

TEST_CASE("x-tollgate-cache-ttl: whole seconds up to 30 days; 0 does not store", "[cache_directives]") {
  CHECK(parsed(nullopt, nullopt, "120") == CacheDirectives{true, true, std::chrono::seconds(120)});
  CHECK(parsed(nullopt, nullopt, "0") == CacheDirectives{true, false, std::chrono::seconds(0)});
  CHECK(parsed(nullopt, nullopt, "2592000").ttl == kMaxCacheTtl);
  for (std::string_view bad : {"", "-1", "1.5", "10s", "2592001", "99999999999999999999"}) {
    INFO(bad);
    auto result = parse_cache_directives(nullopt, nullopt, bad);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().param == "x-tollgate-cache-ttl");
  }
}
