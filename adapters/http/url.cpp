// Url parsing on top of Boost.URL (compiled into this one TU through its src.hpp).
#include "adapters/http/url.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <system_error>

#include <boost/throw_exception.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/src.hpp>

namespace tollgate::adapters::http {

void throw_exception_from_error(const UrlError& e, const boost::source_location& loc) {
  boost::throw_exception(std::invalid_argument(e.message), loc);
}

std::string Url::host_header() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (is_ipv6()) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  const std::uint16_t default_port = is_tls() ? 443 : 80;
  if (port != default_port) out.append(":").append(std::to_string(port));
  return out;
}

std::string Url::origin() const {
  std::string out = scheme;
  out.append("://");
  if (is_ipv6()) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

UrlResult parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(boost::urls::string_view(text.data(), text.size()));
  if (!parsed) return UrlError{"not an absolute URL: " + parsed.error().message()};
  const boost::urls::url_view& u = *parsed;

  Url url;
  url.scheme = u.scheme();
  for (char& c : url.scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (url.scheme != "http" && url.scheme != "https") return UrlError{"scheme must be http or https"};
  if (u.has_userinfo()) return UrlError{"credentials in the URL are not supported"};

  switch (u.host_type()) {
    case boost::urls::host_type::name:
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      // host_address() is percent-decoded and without IPv6 brackets.
      url.host = u.host_address();
      break;
    default:
      return UrlError{"unsupported host"};
  }
  if (url.host.empty()) return UrlError{"missing host"};
  if (u.host_type() == boost::urls::host_type::name) {
    // A decoded name goes into SNI and DNS as a C string: only plain name characters.
    const bool plain = std::all_of(url.host.begin(), url.host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
             c == '_';
    });
    if (!plain) return UrlError{"bad host name"};
  }
  for (char& c : url.host) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);

  if (u.has_port() && !u.port().empty()) {
    // Checked here: Boost.URL 1.81 lets digits past 65535 through.
    const auto digits = u.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return UrlError{"bad port"};
    }
    url.port = static_cast<std::uint16_t>(value);
  } else {
    url.port = url.is_tls() ? 443 : 80;
  }

  url.target = u.encoded_path();
  if (url.target.empty()) url.target = "/";
  if (url.target.front() != '/') return UrlError{"bad path"};
  if (u.has_query()) url.target.append("?").append(u.encoded_query());
  // A fragment is never sent: it is not part of the request target.
  return url;
}

}  // namespace tollgate::adapters::http
