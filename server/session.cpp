// Client sessions: read with limits, dispatch to the endpoint table, write buffered or SSE replies.
#include "server/session.hpp"

#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "server/access_log.hpp"
#include "core/time_format.hpp"
#include "server/credentials.hpp"
#include "server/request_audit.hpp"

namespace tollgate::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kWriteBatchBytes = 64 * 1024;

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

/// Header values we emit come from config and our own code; CR/LF must never reach the wire.
std::string_view header_safe(std::string_view value) {
  const auto bad = value.find_first_of("\r\n");
  return bad == std::string_view::npos ? value : value.substr(0, bad);
}

/// Read errors that just mean "the connection is over", with nothing to answer. A timeout is one:
/// tcp_stream closes the socket when its deadline passes, so a slow client cannot be answered.
bool is_quiet_close(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == http::error::partial_message || ec == beast::error::timeout;
}

core::GatewayError read_error(const beast::error_code& ec, const config::ServerConfig& limits) {
  using core::ErrorKind;
  if (ec == http::error::header_limit)
    return core::make_error(ErrorKind::kHeadersTooLarge,
                            "Request headers exceed the limit of " + std::to_string(limits.max_header_bytes) + " bytes.");
  if (ec == http::error::body_limit)
    return core::make_error(ErrorKind::kRequestTooLarge,
                            "Request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes.");
  return core::make_error(ErrorKind::kInvalidRequest, "Malformed HTTP request: " + ec.message() + ".");
}

/// Answers a request we could not read, then closes gracefully: stop sending, and read (a bounded
/// amount, briefly) what the client still sends, so it sees our answer instead of a reset.
asio::awaitable<void> reject(beast::tcp_stream& stream, const core::GatewayError& error) {
  http::response<http::string_body> res{static_cast<http::status>(error.info().status), 11};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = core::to_openai_json(error);
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  auto [ec, n] = co_await http::async_write(stream, res, kTuple);
  if (ec) co_return;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, 16 * 1024> sink;
  std::size_t drained = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (drained < (4u << 20)) {
    auto [read_ec, got] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (read_ec) break;
    drained += got;
  }
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(header_safe(value)).append("\r\n");
}

/// Appends one SSE event, framed as one HTTP chunk when `chunked`.
void append_event(std::string& out, std::string_view payload, bool chunked) {
  constexpr std::string_view kData = "data: ";
  constexpr std::string_view kEnd = "\n\n";
  if (chunked) {
    char size[24];
    auto [end, ec] = std::to_chars(size, size + 16, kData.size() + payload.size() + kEnd.size(), 16);
    *end++ = '\r';
    *end++ = '\n';
    out.append(size, end);
  }
  out.append(kData).append(payload).append(kEnd);
  if (chunked) out.append("\r\n");
}

asio::awaitable<bool> write_all(beast::tcp_stream& stream, const std::string& bytes, const config::ServerConfig& limits) {
  stream.expires_after(limits.idle_timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), kTuple);
  co_return !ec;
}

asio::awaitable<bool> write_buffered(beast::tcp_stream& stream, const Request& request, HttpReply& reply,
                                     const Exchange& exchange, bool keep_alive, const config::ServerConfig& limits) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), request.version()};
  res.set(http::field::content_type, reply.content_type);
  res.set("x-request-id", exchange.request_id);
  for (const auto& [name, value] : reply.headers) res.insert(name, header_safe(value));
  res.keep_alive(keep_alive);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  stream.expires_after(limits.idle_timeout);
  auto [ec, n] = co_await http::async_write(stream, res, kTuple);
  co_return !ec;
}

/// Writes an SSE reply. The head goes out with the first chunk (the executor has already
/// received it), and chunks already buffered upstream are batched into one write. The HTTP/1.1
/// chunked framing is written by hand for that batching: Beast's serializer writes one chunk per
/// call. An upstream failure mid-stream becomes an SSE error event; the reply still ends cleanly.
asio::awaitable<bool> write_stream(beast::tcp_stream& stream, const Request& request, HttpReply& reply,
                                   Exchange& exchange, bool keep_alive, const config::ServerConfig& limits) {
  const bool chunked = request.version() >= 11;  // HTTP/1.0: no chunking, the close ends the body
  std::string out;
  out.reserve(8 * 1024);
  out.append("HTTP/1.1 200 OK\r\n");
  append_header(out, "content-type", "text/event-stream");
  append_header(out, "cache-control", "no-cache");
  append_header(out, "x-request-id", exchange.request_id);
  for (const auto& [name, value] : reply.headers) append_header(out, name, value);
  if (chunked) append_header(out, "transfer-encoding", "chunked");
  if (!keep_alive) append_header(out, "connection", "close");
  out.append("\r\n");

  for (;;) {
    auto next = co_await reply.stream->next();
    if (!next) {
      exchange.stream_error = next.error().message;
      append_event(out, core::to_openai_json(next.error()), chunked);
      break;
    }
    if (!next->has_value()) {
      append_event(out, "[DONE]", chunked);
      break;
    }
    append_event(out, (*next)->data, chunked);
    if (reply.stream->ready() && out.size() < kWriteBatchBytes) continue;
    if (!co_await write_all(stream, out, limits)) co_return false;
    out.clear();
  }
  if (chunked) out.append("0\r\n\r\n");
  co_return co_await write_all(stream, out, limits);
}

/// Handles one request; returns whether the connection may carry another.
asio::awaitable<bool> serve(beast::tcp_stream& stream, const Request& request, core::Clock::Steady::time_point received_at,
                            ServerContext& server) {
  Exchange exchange;
  exchange.received_at = received_at;
  if (auto it = request.find("x-request-id"); it != request.end() && RequestIds::acceptable(it->value()))
    exchange.request_id = std::string(it->value());
  else
    exchange.request_id = server.request_ids.next();
  server.metrics.inflight_add(1);
  struct Leave {
    core::Metrics& metrics;
    ~Leave() { metrics.inflight_add(-1); }
  } leave{server.metrics};

  HttpReply reply;
  auto match = server.endpoints.match(request.method(), request.target());
  if (match.endpoint != nullptr) {
    exchange.route = match.endpoint->route;
    exchange.client_route = match.endpoint->access == Access::kCaller;
    std::optional<core::GatewayError> denied;
    if (match.endpoint->access != Access::kPublic) {
      const auto credential = presented_credential(request);
      auto caller = match.endpoint->access == Access::kAdmin ? server.auth.admin(credential) : server.auth.client(credential);
      if (caller) exchange.caller = std::move(*caller);
      else denied = caller.error();
    }
    if (denied) {
      reply = HttpReply::error(*denied);
    } else {
      bool crashed = false;
      try {
        reply = co_await match.endpoint->handler->handle(request, exchange);
      } catch (const std::exception& e) {
        spdlog::error("request {}: handler for {} failed: {}", exchange.request_id, exchange.route, e.what());
        crashed = true;
      }
      if (crashed) reply = HttpReply::error(core::make_error(core::ErrorKind::kInternal, "Internal error."));
    }
  } else {
    reply = HttpReply::error(*match.error);
  }

  const bool streamed = reply.stream != nullptr;
  const bool keep_alive =
      request.keep_alive() && !server.draining.load() && (!streamed || request.version() >= 11);
  const unsigned status = reply.status;
  bool delivered = false;
  if (streamed) delivered = co_await write_stream(stream, request, reply, exchange, keep_alive, server.limits);
  else delivered = co_await write_buffered(stream, request, reply, exchange, keep_alive, server.limits);
  reply.stream.reset();  // ends the upstream attempt (and its metrics) before we read the totals

  const auto total = server.clock.now() - received_at;
  const auto upstream = exchange.request ? exchange.request->upstream_time : std::chrono::nanoseconds{0};
  const auto overhead = std::max(total - upstream, std::chrono::nanoseconds{0});
  server.metrics.request_finished(exchange.route, exchange.model.empty() ? "" : exchange.model, static_cast<int>(status),
                                  seconds(total), seconds(overhead));
  const AccessRecord record{request, exchange, status, total, overhead, delivered, streamed};
  if (auto& ctx = exchange.request) {
    // The pipeline's settlers write its ledger row (which is also the request's audit entry).
    ctx->outcome.status = static_cast<int>(status);
    ctx->outcome.latency_ms = std::chrono::duration<double, std::milli>(total).count();
    if (!exchange.stream_error.empty()) ctx->outcome.error = "stream_error";
    else if (!delivered && ctx->outcome.error.empty()) ctx->outcome.error = "client_gone";
    ctx->settle();
    log_access(record, server.json_logs);
  } else {
    log_access(record, server.json_logs);
    if (exchange.client_route) audit_request(server.store, record, core::unix_now(server.clock));
  }
  co_return delivered && keep_alive;
}

}  // namespace

asio::awaitable<void> run_session(tcp::socket socket, ServerContext& server) {
  beast::tcp_stream stream(std::move(socket));
  auto entry = server.connections.add(stream.get_executor(), stream);
  struct Leave {
    Connections& connections;
    std::shared_ptr<ConnectionEntry>& entry;
    ~Leave() { connections.remove(entry); }
  } leave{server.connections, entry};

  const auto& limits = server.limits;
  beast::flat_buffer buffer;
  for (;;) {
    if (server.draining.load()) break;
    entry->busy = false;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::uint64_t>(limits.max_header_bytes, UINT32_MAX)));
    parser.body_limit(limits.max_body_bytes);

    stream.expires_after(limits.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec) {
      if (!is_quiet_close(ec)) co_await reject(stream, read_error(ec, limits));
      break;
    }
    entry->busy = true;
    const auto received_at = server.clock.now();

    if (!parser.is_done()) {
      const auto& head = parser.get();
      if (auto expect = head.find(http::field::expect);
          expect != head.end() && beast::iequals(expect->value(), "100-continue")) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!co_await write_all(stream, kContinue, limits)) break;
      }
      stream.expires_after(limits.read_timeout);
      auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (body_ec) {
        if (!is_quiet_close(body_ec)) co_await reject(stream, read_error(body_ec, limits));
        break;
      }
    }

    Request request = parser.release();
    if (!co_await serve(stream, request, received_at, server)) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace tollgate::server
