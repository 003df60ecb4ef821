// Hot-path reading of upstream JSON objects with Boost.JSON and a stack arena.
#include "core/openai/object_scan.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace tollgate::core {
std::int64_t json_count(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->get_uint64());
  return 0;
}

Usage read_usage(const boost::json::object& usage) {
  Usage u;
  u.prompt_tokens = json_count(usage, "prompt_tokens");
  u.completion_tokens = json_count(usage, "completion_tokens");
  u.total_tokens = json_count(usage, "total_tokens");
  if (u.total_tokens == 0) u.total_tokens = u.prompt_tokens + u.completion_tokens;
  if (const auto* d = usage.if_contains("prompt_tokens_details"); d != nullptr && d->is_object())
    u.cached_tokens = json_count(d->get_object(), "cached_tokens");
  if (const auto* d = usage.if_contains("completion_tokens_details"); d != nullptr && d->is_object())
    u.reasoning_tokens = json_count(d->get_object(), "reasoning_tokens");
  return u;
}

ObjectScan scan_object(std::string_view text) {
  unsigned char arena[8192];
  boost::json::monotonic_resource resource(arena, sizeof arena);
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec, &resource);
  ObjectScan scan;
  if (ec || !value.is_object()) return scan;
  const auto& object = value.get_object();
  scan.is_object = true;
  if (const auto* usage = object.if_contains("usage"); usage != nullptr && usage->is_object())
    scan.usage = read_usage(usage->get_object());
  if (const auto* choices = object.if_contains("choices"); choices != nullptr && choices->is_array())
    scan.choices_empty = choices->get_array().empty();
  if (const auto* error = object.if_contains("error"); error != nullptr && error->is_object()) {
    const auto* message = error->get_object().if_contains("message");
    scan.error = message != nullptr && message->is_string() ? std::string(message->get_string()) : std::string();
  }
  return scan;
}

bool has_object_field(std::string_view text, std::string_view name) {
  const std::size_t quoted = name.size() + 2;
  for (std::size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
    if (at == 0 || text[at - 1] != '"' || at + name.size() >= text.size() || text[at + name.size()] != '"') continue;
    std::size_t i = at - 1 + quoted;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    if (i < text.size() && text[i] == '{') return true;
  }
  return false;
}

}  // namespace tollgate::core
