// The server's view of one HTTP exchange: the parsed request in, an HttpReply out.
#pragma once

#include <memory>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/pipeline/chunk_stream.hpp"
#include "core/pipeline/reply.hpp"

namespace tollgate::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

/// What a handler answers; the session turns it into bytes. Handlers never touch sockets.
struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  core::Headers headers;
  std::string body;                          // a buffered reply
  std::unique_ptr<core::ChunkStream> stream; // set: answer `text/event-stream` with these chunks

  static HttpReply json(unsigned status, std::string body) {
    HttpReply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  /// tollgate's own error in OpenAI's shape, with Retry-After when the error has one.
  static HttpReply error(const core::GatewayError& error);
};

}  // namespace tollgate::server
