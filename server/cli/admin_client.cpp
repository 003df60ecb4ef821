// AdminClient: one blocking admin API call at a time, on top of the gateway's own UpstreamClient.
#include "server/cli/admin_client.hpp"

#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/throw_exception.hpp>

#include "adapters/http/upstream_client.hpp"
#include "adapters/http/url.hpp"

namespace tollgate::server::cli {

namespace asio = boost::asio;
namespace uhttp = adapters::http;

void throw_exception_from_error(const TransportError& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.message), loc);
}

namespace {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

using Outcome = std::optional<uhttp::ClientResult<uhttp::Response>>;

asio::awaitable<void> exchange(uhttp::UpstreamClient& client, uhttp::Request request, core::AttemptTimeouts timeouts,
                               Outcome& outcome) {
  outcome.emplace(co_await client.send(std::move(request), timeouts));
}

TransportError to_transport_error(const core::AttemptError& e) {
  switch (e.kind) {
    case core::FailureKind::kTimeout:
      return {TransportError::Kind::kTimeout, e.message};
    case core::FailureKind::kProtocol:
      return {TransportError::Kind::kProtocol, e.message};
    case core::FailureKind::kConnect:
    case core::FailureKind::kStatus:
      break;
  }
  return {TransportError::Kind::kUnreachable, e.message};
}

}  // namespace

boost::system::result<BaseUrl, std::string> check_base_url(std::string_view text) {
  auto parsed = uhttp::parse_url(text);
  using Checked = boost::system::result<BaseUrl, std::string>;
  if (!parsed) return Checked(boost::system::in_place_error, parsed.error().message);
  if (parsed->target.find('?') != std::string::npos)
    return Checked(boost::system::in_place_error, "a query string is not allowed");
  BaseUrl base;
  base.text = std::string(text);
  // A fragment is never sent, so it has no place in a base that paths are appended to.
  if (base.text.find('#') != std::string::npos) return Checked(boost::system::in_place_error, "a fragment is not allowed");
  while (!base.text.empty() && base.text.back() == '/') base.text.pop_back();
  base.loopback = is_loopback_host(parsed->host);
  base.tls = parsed->is_tls();
  return base;
}

AdminClient::AdminClient(Options options) : options_(std::move(options)) {}

AdminResult AdminClient::send(const AdminRequest& request) const {
  uhttp::Request out;
  out.method = request.method;
  out.url = options_.base.text + request.path;
  out.body = request.body;
  out.headers.emplace_back("accept", "application/json");
  out.headers.emplace_back("user-agent", "tollgate-cli/" TOLLGATE_VERSION);
  if (!request.body.empty()) out.headers.emplace_back("content-type", "application/json");
  if (options_.master_key) out.headers.emplace_back("authorization", "Bearer " + *options_.master_key);

  core::AttemptTimeouts timeouts;
  timeouts.connect = options_.connect_timeout;
  timeouts.first_byte = options_.total_timeout;
  timeouts.total = options_.total_timeout;

  // Declared before the client so that the client (and its pooled sockets) goes first.
  asio::io_context io;
  uhttp::UpstreamClient client(io.get_executor(), uhttp::UpstreamClient::Options{});
  Outcome outcome;
  std::exception_ptr failure;
  asio::co_spawn(io, exchange(client, std::move(out), timeouts, outcome), [&](std::exception_ptr e) {
    failure = e;
    // A DNS lookup abandoned at its deadline may still be running; nothing is waiting for it.
    io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  if (!outcome) return TransportError{TransportError::Kind::kProtocol, "no answer"};
  if (!*outcome) return to_transport_error(outcome->error());
  return AdminResponse{(*outcome)->status, std::move((*outcome)->body)};
}

}  // namespace tollgate::server::cli
