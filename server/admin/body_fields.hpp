// BodyFields: strict reading of admin API JSON bodies, each mistake answered with the field's name.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace tollgate::server {

/// A field in a PATCH body: absent (leave as is), null (clear), or a value.
template <class T>
struct Patch {
  bool present = false;
  std::optional<T> value;  // empty with present: null
};

/// An admin request body: a JSON object (at most 64 KiB) whose field names are all in the
/// allowed list. Readers check types and ranges and answer 400 invalid_request_error with
/// `param` set to the field and a message that says what was expected.
class BodyFields {
 public:
  static core::Result<BodyFields> parse(std::string_view body, std::initializer_list<std::string_view> allowed);

  bool has(std::string_view name) const { return json_.contains(name); }

  /// A string of 1..max_length characters, valid UTF-8 (the parser checks), no control characters.
  core::Result<Patch<std::string>> text(std::string_view name, std::size_t max_length = 256) const;
  /// A secret: 1..max_length printable ASCII characters without spaces (it goes into HTTP headers).
  core::Result<Patch<std::string>> token(std::string_view name, std::size_t max_length = 4096) const;
  /// An integer in [min, max].
  core::Result<Patch<std::int64_t>> integer(std::string_view name, std::int64_t min, std::int64_t max) const;
  /// A finite number in (0, max] when `positive`, else [0, max].
  core::Result<Patch<double>> number(std::string_view name, double max, bool positive = true) const;
  /// A JSON object (e.g. metadata) serialised to at most max_bytes.
  core::Result<Patch<nlohmann::json>> object(std::string_view name, std::size_t max_bytes = 8192) const;
  /// An array of distinct strings (each as text()), at most max_items.
  core::Result<Patch<std::vector<std::string>>> strings(std::string_view name, std::size_t max_items = 256) const;
  /// An RFC 3339 time or Unix seconds, as Unix milliseconds.
  core::Result<Patch<std::int64_t>> time(std::string_view name) const;

  /// `rpm` and `tpm` (per-minute limits, 1..1e12, null clears) onto `rpm`/`tpm` when present.
  std::optional<core::GatewayError> rate_limits(std::optional<std::int64_t>& rpm, std::optional<std::int64_t>& tpm) const;

  /// The error for a missing required field.
  static core::GatewayError missing(std::string_view name);
  /// A 400 for `name` with `message`.
  static core::GatewayError invalid(std::string_view name, std::string message);

  const nlohmann::json& json() const noexcept { return json_; }

 private:
  explicit BodyFields(nlohmann::json json) : json_(std::move(json)) {}
  nlohmann::json json_;
};

/// JSON type name for messages ("a string", "a number", …).
std::string_view json_type_phrase(const nlohmann::json& value);

}  // namespace tollgate::server
