// Request tags: parsing and checking x-tollgate-tags.
#include "core/money/tags.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tollgate::core {
namespace {

constexpr std::string_view kHeader = "x-tollgate-tags";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

GatewayError bad(std::string message) {
  return make_error(ErrorKind::kInvalidRequest, "Invalid x-tollgate-tags header: " + std::move(message), std::string(kHeader));
}

}  // namespace

Result<Tags> parse_tags(std::string_view header) {
  Tags tags;
  header = trim(header);
  if (header.empty()) return tags;
  for (std::size_t start = 0; start < header.size();) {
    const std::size_t comma = std::min(header.find(',', start), header.size());
    const std::string_view item = trim(header.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;  // "a=b," or "a=b,,c=d": an empty item is no tag
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad("expected key=value pairs separated by commas.");
    const std::string_view key = trim(item.substr(0, eq));
    const std::string_view value = trim(item.substr(eq + 1));
    if (key.empty() || key.size() > 64 || !std::all_of(key.begin(), key.end(), key_char))
      return bad("a key must be 1 to 64 letters, digits, '_', '.' or '-'.");
    if (value.empty() || value.size() > 128 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '='; }))
      return bad("the value of `" + std::string(key) + "` must be 1 to 128 printable ASCII characters other than ',' and '='.");
    if (std::any_of(tags.begin(), tags.end(), [&](const auto& tag) { return tag.first == key; }))
      return bad("the key `" + std::string(key) + "` appears twice.");
    if (tags.size() == kMaxTags) return bad("at most " + std::to_string(kMaxTags) + " tags.");
    tags.emplace_back(std::string(key), std::string(value));
  }
  return tags;
}

std::string_view tag_value(const Tags& tags, std::string_view key) noexcept {
  for (const auto& [k, v] : tags)
    if (k == key) return v;
  return {};
}

std::string tags_json(const Tags& tags) {
  if (tags.empty()) return "{}";
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [k, v] : tags) object[k] = v;
  return object.dump();
}

}  // namespace tollgate::core
