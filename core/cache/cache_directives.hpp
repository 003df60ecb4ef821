// Cache directives: what a request lets the response cache do (x-tollgate-cache, Cache-Control, x-tollgate-cache-ttl).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/result.hpp"

namespace tollgate::core {

/// The longest x-tollgate-cache-ttl a request may ask for.
inline constexpr std::chrono::seconds kMaxCacheTtl{30 * 24 * 3600};

struct CacheDirectives {
  bool read = true;   // may be answered from the cache
  bool write = true;  // its answer may be stored
  std::optional<std::chrono::seconds> ttl;  // x-tollgate-cache-ttl: this answer's lifetime
  bool operator==(const CacheDirectives&) const = default;
};

/// Reads the request's cache headers (absent: nullopt):
/// - `x-tollgate-cache: skip` neither reads nor stores; `refresh` does not read but stores the new
///   answer (case-insensitive; anything else is a 400 naming the header);
/// - `Cache-Control` (comma-separated, case-insensitive directives): `no-cache` does not read,
///   `no-store` does not store; other directives (max-age, …) are ignored, as HTTP asks of
///   directives a cache does not implement;
/// - `x-tollgate-cache-ttl: SECONDS`: an integer 0..kMaxCacheTtl (0: do not store); anything else is
///   a 400 naming the header.
Result<CacheDirectives> parse_cache_directives(std::optional<std::string_view> x_tollgate_cache,
                                               std::optional<std::string_view> cache_control,
                                               std::optional<std::string_view> ttl);

}  // namespace tollgate::core
