// Extracting the presented credential from request headers.
#include "server/credentials.hpp"

#include <boost/beast/core/string.hpp>

namespace tollgate::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view presented_credential(const Request& request) {
  if (auto it = request.find(http::field::authorization); it != request.end()) {
    const std::string_view value = trim(it->value());
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size() && boost::beast::iequals(value.substr(0, kBearer.size()), kBearer))
      return trim(value.substr(kBearer.size()));
    return {};
  }
  if (auto it = request.find("api-key"); it != request.end()) return trim(it->value());
  return {};
}

}  // namespace tollgate::server
