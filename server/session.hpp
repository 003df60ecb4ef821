// A client connection: HTTP/1.1 keep-alive, limits, timeouts, buffered and SSE replies.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/server_context.hpp"

namespace tollgate::server {

/// Serves one accepted connection until the client closes it, a limit or timeout ends it, or the
/// server drains. Runs on the socket's strand (its executor). Never throws for I/O or bad input:
/// malformed requests get a 4xx in OpenAI's shape and the connection is closed.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, ServerContext& server);

}  // namespace tollgate::server
