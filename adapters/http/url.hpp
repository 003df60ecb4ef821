// Url: the parts of an absolute http(s) URL that the upstream client needs to open a connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace tollgate::adapters::http {

/// `http(s)://host[:port][/path][?query]`, split for a connection and a request line.
struct Url {
  std::string scheme;     // "http" or "https", lower case
  std::string host;       // without brackets: "api.openai.com", "127.0.0.1", "::1"
  std::uint16_t port = 0; // always set: the explicit port, else 80 / 443
  std::string target;     // request target, never empty: "/v1/chat/completions?x=1"

  bool is_tls() const noexcept { return scheme == "https"; }
  bool is_ipv6() const noexcept { return host.find(':') != std::string::npos; }
  /// The Host header value: the host (bracketed for IPv6), with ":port" unless it is the default.
  std::string host_header() const;
  /// The connection pool key: scheme://host:port.
  std::string origin() const;
};

/// Why a URL was rejected; `message` names the problem but never echoes the URL (it may hold
/// credentials in its userinfo or query).
struct UrlError {
  std::string message;
};

/// Called by boost::system::result<Url, UrlError>::value() on an error; found by ADL.
[[noreturn]] void throw_exception_from_error(const UrlError& e, const boost::source_location& loc);

using UrlResult = boost::system::result<Url, UrlError>;

/// Parses an absolute http or https URL. Rejects other schemes, a missing host, a bad port and
/// userinfo (`user:pass@`); a fragment is dropped. Path and query are kept percent-encoded.
UrlResult parse_url(std::string_view text);

}  // namespace tollgate::adapters::http
