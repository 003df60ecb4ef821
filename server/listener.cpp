// The accept loop, the connection limit, and session start-up.
#include "server/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "server/session.hpp"

namespace tollgate::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string busy_response() {
  const std::string body =
      R"({"error":{"message":"Too many connections; retry later.","type":"service_unavailable","param":null,"code":"too_many_connections"}})";
  std::string response =
      "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\n";
  response.append("content-length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  return response;
}

asio::awaitable<void> refuse(tcp::socket socket) {
  static const std::string kBusy = busy_response();
  co_await asio::async_write(socket, asio::buffer(kBusy), kTuple);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection task failed: {}", ex.what());
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::io_context& io, ServerContext& server) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(io, std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (server.connections.size() >= server.limits.max_connections) {
      asio::co_spawn(socket.get_executor(), refuse(std::move(socket)), log_exception);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, run_session(std::move(socket), server), log_exception);
  }
}

}  // namespace

Listener::Listener(asio::io_context& io, ServerContext& server, const tcp::endpoint& endpoint)
    : io_(io), server_(server), acceptor_(asio::make_strand(io)) {
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + what + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
}

void Listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(acceptor_, io_, server_), log_exception);
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

}  // namespace tollgate::server
