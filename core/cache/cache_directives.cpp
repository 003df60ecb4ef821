// Cache directives: the request headers that steer the response cache.
#include "core/cache/cache_directives.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace tollgate::core {
namespace {

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

Result<CacheDirectives> parse_cache_directives(std::optional<std::string_view> x_tollgate_cache,
                                               std::optional<std::string_view> cache_control,
                                               std::optional<std::string_view> ttl) {
  CacheDirectives out;
  if (x_tollgate_cache) {
    const std::string_view value = trim(*x_tollgate_cache);
    if (iequals(value, "skip")) {
      out.read = false;
      out.write = false;
    } else if (iequals(value, "refresh")) {
      out.read = false;
    } else {
      return make_error(ErrorKind::kInvalidRequest, "Invalid x-tollgate-cache header: expected skip or refresh.",
                        "x-tollgate-cache");
    }
  }
  if (cache_control) {
    std::string_view rest = *cache_control;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view directive = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      directive = directive.substr(0, directive.find('='));
      if (iequals(trim(directive), "no-cache")) out.read = false;
      if (iequals(trim(directive), "no-store")) out.write = false;
    }
  }
  if (ttl) {
    const std::string_view digits = trim(*ttl);
    long long seconds = -1;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || seconds < 0 ||
        seconds > kMaxCacheTtl.count())
      return make_error(ErrorKind::kInvalidRequest,
                        "Invalid x-tollgate-cache-ttl header: expected a whole number of seconds from 0 to " +
                            std::to_string(kMaxCacheTtl.count()) + ".",
                        "x-tollgate-cache-ttl");
    out.ttl = std::chrono::seconds(seconds);
    if (seconds == 0) out.write = false;
  }
  return out;
}

}  // namespace tollgate::core
