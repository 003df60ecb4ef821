// BodyFields: strict admin body parsing.
#include "server/admin/body_fields.hpp"

#include <cmath>
#include <set>

#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

constexpr std::size_t kMaxBodyBytes = 64 * 1024;

bool has_control(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

/// The name as it may be quoted back: bounded and printable.
std::string quoted_name(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  if (name.size() > 64) out += "…";
  return out;
}

}  // namespace

std::string_view json_type_phrase(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_float: return "a number with a fraction";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    default: return "an unsupported value";
  }
}

core::GatewayError BodyFields::missing(std::string_view name) {
  return core::make_error(core::ErrorKind::kInvalidRequest, "Missing required parameter: '" + std::string(name) + "'.",
                          std::string(name));
}

core::GatewayError BodyFields::invalid(std::string_view name, std::string message) {
  return core::make_error(core::ErrorKind::kInvalidRequest, std::move(message), std::string(name));
}

core::Result<BodyFields> BodyFields::parse(std::string_view body, std::initializer_list<std::string_view> allowed) {
  using core::ErrorKind;
  if (body.size() > kMaxBodyBytes)
    return core::make_error(ErrorKind::kRequestTooLarge,
                            "Admin request bodies are limited to " + std::to_string(kMaxBodyBytes) + " bytes.");
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded())
    return core::make_error(ErrorKind::kInvalidRequest,
                            body.empty() ? "The request body is empty: send a JSON object."
                                         : "The request body is not valid JSON (or not valid UTF-8).");
  if (!json.is_object())
    return core::make_error(ErrorKind::kInvalidRequest,
                            "The request body must be a JSON object, not " + std::string(json_type_phrase(json)) + ".");
  for (const auto& [name, value] : json.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known)
      return core::make_error(ErrorKind::kInvalidRequest,
                              "Unrecognized request argument supplied: '" + quoted_name(name) + "'.", quoted_name(name));
  }
  return BodyFields(std::move(json));
}

core::Result<Patch<std::string>> BodyFields::text(std::string_view name, std::size_t max_length) const {
  Patch<std::string> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string field(name);
  if (!it->is_string()) return invalid(name, "'" + field + "' must be a string, not " + std::string(json_type_phrase(*it)) + ".");
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty()) return invalid(name, "'" + field + "' must not be empty.");
  if (utf8_length(value) > max_length)
    return invalid(name, "'" + field + "' is longer than " + std::to_string(max_length) + " characters.");
  if (has_control(value)) return invalid(name, "'" + field + "' must not contain control characters.");
  out.value = value;
  return out;
}

core::Result<Patch<std::string>> BodyFields::token(std::string_view name, std::size_t max_length) const {
  Patch<std::string> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  const std::string field(name);
  if (!it->is_string()) return invalid(name, "'" + field + "' must be a string, not " + std::string(json_type_phrase(*it)) + ".");
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty()) return invalid(name, "'" + field + "' must not be empty.");
  if (value.size() > max_length)
    return invalid(name, "'" + field + "' is longer than " + std::to_string(max_length) + " characters.");
  for (unsigned char c : value)
    if (c <= 0x20 || c >= 0x7f)
      return invalid(name, "'" + field + "' may contain only printable ASCII characters without spaces.");
  out.value = value;
  return out;
}

core::Result<Patch<std::int64_t>> BodyFields::integer(std::string_view name, std::int64_t min, std::int64_t max) const {
  Patch<std::int64_t> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  const std::string field(name);
  if (it->is_number_unsigned()) {
    const auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(max)) return invalid(name, "'" + field + "' must be " + range + ".");
    out.value = static_cast<std::int64_t>(v);
  } else if (it->is_number_integer()) {
    out.value = it->get<std::int64_t>();
  } else if (it->is_number_float() && std::isfinite(it->get<double>()) && std::floor(it->get<double>()) == it->get<double>() &&
             std::fabs(it->get<double>()) < 9e15) {
    out.value = static_cast<std::int64_t>(it->get<double>());
  } else {
    return invalid(name, "'" + field + "' must be " + range + ", not " + std::string(json_type_phrase(*it)) + ".");
  }
  if (*out.value < min || *out.value > max) return invalid(name, "'" + field + "' must be " + range + ".");
  return out;
}

std::optional<core::GatewayError> BodyFields::rate_limits(std::optional<std::int64_t>& rpm,
                                                          std::optional<std::int64_t>& tpm) const {
  constexpr std::int64_t kMaxRate = 1'000'000'000'000;
  for (auto [name, slot] : {std::pair{"rpm", &rpm}, std::pair{"tpm", &tpm}}) {
    auto value = integer(name, 1, kMaxRate);
    if (!value) return value.error();
    if (value->present) *slot = value->value;
  }
  return std::nullopt;
}

core::Result<Patch<double>> BodyFields::number(std::string_view name, double max, bool positive) const {
  Patch<double> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string field(name);
  const std::string range = positive ? "a number above 0 and at most " : "a number from 0 to ";
  if (!it->is_number())
    return invalid(name, "'" + field + "' must be " + range + nlohmann::json(max).dump() + ", not " +
                             std::string(json_type_phrase(*it)) + ".");
  const double v = it->get<double>();
  if (!std::isfinite(v) || v > max || v < 0 || (positive && v == 0))
    return invalid(name, "'" + field + "' must be " + range + nlohmann::json(max).dump() + ".");
  out.value = v;
  return out;
}

core::Result<Patch<nlohmann::json>> BodyFields::object(std::string_view name, std::size_t max_bytes) const {
  Patch<nlohmann::json> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string field(name);
  if (!it->is_object())
    return invalid(name, "'" + field + "' must be an object, not " + std::string(json_type_phrase(*it)) + ".");
  if (it->dump().size() > max_bytes)
    return invalid(name, "'" + field + "' is larger than " + std::to_string(max_bytes) + " bytes of JSON.");
  out.value = *it;
  return out;
}

core::Result<Patch<std::vector<std::string>>> BodyFields::strings(std::string_view name, std::size_t max_items) const {
  Patch<std::vector<std::string>> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string field(name);
  if (!it->is_array())
    return invalid(name, "'" + field + "' must be an array of strings, not " + std::string(json_type_phrase(*it)) + ".");
  if (it->size() > max_items)
    return invalid(name, "'" + field + "' may list at most " + std::to_string(max_items) + " entries.");
  std::vector<std::string> values;
  std::set<std::string> seen;
  for (const auto& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty() || item.get_ref<const std::string&>().size() > 256 ||
        has_control(item.get_ref<const std::string&>()))
      return invalid(name, "'" + field + "' must contain only non-empty strings of at most 256 characters.");
    if (!seen.insert(item.get<std::string>()).second)
      return invalid(name, "'" + field + "' lists '" + item.get<std::string>() + "' twice.");
    values.push_back(item.get<std::string>());
  }
  out.value = std::move(values);
  return out;
}

core::Result<Patch<std::int64_t>> BodyFields::time(std::string_view name) const {
  Patch<std::int64_t> out;
  auto it = json_.find(name);
  if (it == json_.end()) return out;
  out.present = true;
  if (it->is_null()) return out;
  const std::string field(name);
  const std::string expected = "'" + field + "' must be an RFC 3339 time such as 2026-12-31T23:59:59Z or Unix seconds";
  if (it->is_number_unsigned() || it->is_number_integer()) {
    const auto seconds = it->get<std::int64_t>();
    if (seconds < 0 || seconds > 253'402'300'799) return invalid(name, expected + ".");
    out.value = seconds * 1000;
    return out;
  }
  if (!it->is_string()) return invalid(name, expected + ", not " + std::string(json_type_phrase(*it)) + ".");
  auto parsed = core::parse_time(it->get_ref<const std::string&>());
  if (!parsed) return invalid(name, expected + ".");
  out.value = *parsed;
  return out;
}

}  // namespace tollgate::server
