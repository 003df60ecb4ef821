// Matching requests to endpoints.
#include "server/endpoint_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace tollgate::server {
namespace {

bool matches(const Endpoint& endpoint, std::string_view path) {
  if (endpoint.path.ends_with('/')) return path.starts_with(endpoint.path) && path.size() > endpoint.path.size();
  return path == endpoint.path;
}

}  // namespace

void EndpointTable::add(http::verb method, std::string path, Access access, Handler& handler) {
  // Auth covers every route except the declared allowlist: a public route must be on it.
  if (access == Access::kPublic && std::find(std::begin(kPublicRoutes), std::end(kPublicRoutes), path) == std::end(kPublicRoutes))
    throw std::logic_error("route " + path + " is public but not in kPublicRoutes");
  Endpoint endpoint{method, std::move(path), access, &handler, {}};
  endpoints_.push_back(std::move(endpoint));
  // Route labels point into the stored paths, so fix them up after every (re)allocation.
  for (auto& e : endpoints_) e.route = e.path;
  std::stable_sort(endpoints_.begin(), endpoints_.end(),
                   [](const Endpoint& a, const Endpoint& b) { return a.path.size() > b.path.size(); });
  for (auto& e : endpoints_) e.route = e.path;
}

EndpointTable::Match EndpointTable::match(http::verb method, std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  bool path_known = false;
  for (const auto& endpoint : endpoints_) {
    if (!matches(endpoint, path)) continue;
    if (endpoint.method == method) return Match{&endpoint, std::nullopt};
    path_known = true;
  }
  const std::string what = std::string(http::to_string(method)) + " " + std::string(path);
  if (path_known) return Match{nullptr, core::make_error(core::ErrorKind::kMethodNotAllowed, "Invalid method for URL (" + what + ")")};
  return Match{nullptr, core::make_error(core::ErrorKind::kRouteNotFound, "Invalid URL (" + what + ")")};
}

}  // namespace tollgate::server
