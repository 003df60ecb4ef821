// Listener: accepts connections and starts a session on a strand of its own for each.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/server_context.hpp"

namespace tollgate::server {

class Listener {
 public:
  /// Binds and listens at once; throws std::runtime_error naming the address when it cannot.
  Listener(boost::asio::io_context& io, ServerContext& server, const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Starts the accept loop. Beyond server.max_connections a connection gets a 503 and is closed.
  void start();
  /// Stops accepting (thread-safe); sessions already running go on.
  void stop();

 private:
  boost::asio::io_context& io_;
  ServerContext& server_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace tollgate::server
