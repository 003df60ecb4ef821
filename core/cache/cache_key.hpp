// Cache key: the exact-cache key of a chat request (canonical JSON + resolved model + partition, SHA-256).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/identity/caller.hpp"

namespace tollgate::core {

/// A top-level request field that never changes the answer, so the cache key leaves it out.
struct IgnoredField {
  std::string_view name;
  std::string_view reason;
};

/// The one place that lists the request fields left out of the cache key, each with why. Only
/// top-level body fields are matched (a nested "user" inside a tool schema is part of the key).
/// Everything else, known or unknown, is part of the key: an unknown field may change the answer.
/// `model` is listed because the key takes the resolved model name instead.
std::span<const IgnoredField> cache_ignored_fields() noexcept;

/// True when `name` is in cache_ignored_fields().
bool is_cache_ignored_field(std::string_view name) noexcept;

/// The exact-cache key: lowercase hex SHA-256 (64 characters) over a versioned canonical
/// serialization of {partition, resolved model, the body without ignored fields}.
///
/// - `partition` is the tenant: "key:<virtual key id>", "team:<team>" or "global" (the caller
///   builds it from `cache.scope`); different partitions never share a key.
/// - `resolved_model` is the configured model name the request resolved to; it replaces the
///   body's `model`, so two aliases of one model share entries.
/// - Objects: keys sorted bytewise at every depth (nlohmann::json objects are ordered maps), so
///   field order never matters. Arrays keep their order (messages, tools, stop).
/// - Numbers: a number with an integral value that fits in 64 bits is written as that integer,
///   so 1, 1.0 and 1e0 are the same (temperature 1 == 1.0, seed 7 == 7.0) and -0.0 is 0; any
///   other number is written in the shortest form that reads back as the same double, so 0.7
///   and 0.70 agree.
/// - Strings: JSON-escaped ('"', '\\', control characters); every other byte is copied as is,
///   so the encoding is one-to-one for any bytes (invalid UTF-8 in a body built in code never
///   throws, and never collides with another string).
/// - `null` is a value of its own: `"temperature": null` and no temperature are different keys
///   (a miss rather than a risk of a wrong hit).
///
/// Thread-safe, pure. Never throws for any JSON value (beyond std::bad_alloc, or OpenSSL failing
/// to digest, which only happens when it cannot allocate).
std::string cache_key(const nlohmann::json& body, std::string_view resolved_model, std::string_view partition);

/// The tenant a cache or dedup key belongs to under `cache.scope`: "global"; "team:<team>" for
/// scope team when the caller's virtual key has a team (else its key partition); otherwise
/// "key:<caller id>" (the virtual key's id, or the open caller's).
std::string cache_partition(const Caller& caller, std::string_view scope);

}  // namespace tollgate::core
