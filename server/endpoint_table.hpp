// EndpointTable: method + path → handler, with the allowlist of routes that need no credential.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "server/exchange.hpp"
#include "server/http.hpp"

namespace tollgate::server {

/// One route's handler. Called on the connection's strand; `request` and `exchange` are owned by
/// the session and outlive the call (and the reply's stream). Expected failures are answered as
/// HttpReply::error, never thrown. Handlers never touch sockets.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) = 0;
};

/// Who may call a route: callers (a virtual key, or anyone in open mode), the operator (the master
/// key), or anyone — the last only for the allowlist below.
enum class Access { kCaller, kAdmin, kPublic };

struct Endpoint {
  http::verb method;
  std::string path;  // exact, or a prefix when it ends with '/'
  Access access;
  Handler* handler;
  std::string_view route;  // the metrics label
};

/// Routes are matched on the path without its query string: exact paths first, then the longest
/// prefix. A path that exists with another method is a 405, no path at all a 404.
class EndpointTable {
 public:
  void add(http::verb method, std::string path, Access access, Handler& handler);

  struct Match {
    const Endpoint* endpoint = nullptr;         // set on a match
    std::optional<core::GatewayError> error;    // 404 / 405 otherwise
  };
  Match match(http::verb method, std::string_view target) const;

 private:
  std::vector<Endpoint> endpoints_;
};

/// The routes reachable without a caller credential (health probes; /metrics has its own token).
inline constexpr std::string_view kPublicRoutes[] = {"/health", "/health/ready", "/metrics"};

}  // namespace tollgate::server
