// UpstreamClient: Beast HTTP/1.1 client with a keep-alive pool per origin, TLS and deadlines.
#include "adapters/http/upstream_client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include "adapters/http/url.hpp"

namespace tollgate::adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;
using core::AttemptError;
using core::FailureKind;
using std::chrono::milliseconds;

namespace client_detail {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kReadAllStep = 64 * 1024;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr milliseconds kMaxBudget{365LL * 24 * 3600 * 1000};  // keeps now() + budget from overflowing
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

/// One upstream connection: plain TCP or TLS over TCP, with the read buffer that outlives a
/// single response (it may hold the start of the next one only on a protocol error).
struct Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::string head;  // the request head being written; its capacity is reused
  SteadyClock::time_point idle_since{};

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

/// When a phase must be over, and how to name it when it is not.
struct Deadline {
  SteadyClock::time_point at = SteadyClock::time_point::max();
  milliseconds budget{0};
  const char* what = "";
};

Deadline deadline_in(const char* what, milliseconds budget, SteadyClock::time_point now,
                     const std::optional<Deadline>& total) {
  Deadline d{now + std::min(std::max(budget, milliseconds{0}), kMaxBudget), budget, what};
  if (total && total->at < d.at) return *total;
  return d;
}

void arm(beast::tcp_stream& stream, const Deadline& d) {
  if (d.at == SteadyClock::time_point::max()) {
    stream.expires_never();
  } else {
    stream.expires_at(d.at);
  }
}

AttemptError failure(FailureKind kind, std::string message) {
  AttemptError e;
  e.kind = kind;
  e.retryable = true;
  e.message = std::move(message);
  return e;
}

AttemptError timeout_failure(const Deadline& d) {
  return failure(FailureKind::kTimeout,
                 std::string(d.what) + " timeout after " + std::to_string(d.budget.count()) + "ms");
}

bool is_http_error(const error_code& ec) { return ec.category() == bhttp::make_error_code(bhttp::error::need_more).category(); }

bool closed_by_peer(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

/// An error while writing the request or reading the response head.
AttemptError head_failure(const error_code& ec, const Deadline& d, const std::string& peer) {
  if (ec == beast::error::timeout) return timeout_failure(d);
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return failure(FailureKind::kConnect, "connection to " + peer + " closed before a response");
  }
  if (ec == bhttp::error::partial_message) {
    return failure(FailureKind::kProtocol, "truncated response head from " + peer);
  }
  if (ec == bhttp::error::header_limit) {
    return failure(FailureKind::kProtocol, "response head from " + peer + " over " + std::to_string(kHeaderLimit) + " bytes");
  }
  if (ec == bhttp::error::body_limit) {
    return failure(FailureKind::kProtocol, "response body from " + peer + " over the size limit");
  }
  if (is_http_error(ec)) return failure(FailureKind::kProtocol, "bad response from " + peer + ": " + ec.message());
  return failure(FailureKind::kConnect, "connection to " + peer + " failed: " + ec.message());
}

/// An error while reading the body.
AttemptError body_failure(const error_code& ec, const Deadline& d, const std::string& peer) {
  if (ec == beast::error::timeout) return timeout_failure(d);
  if (ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream ||
      ec == asio::error::eof) {
    return failure(FailureKind::kProtocol, "truncated response body from " + peer);
  }
  if (ec == bhttp::error::body_limit) {
    return failure(FailureKind::kProtocol, "response body from " + peer + " over the size limit");
  }
  if (is_http_error(ec)) return failure(FailureKind::kProtocol, "bad response body from " + peer + ": " + ec.message());
  return failure(FailureKind::kConnect, "connection to " + peer + " failed: " + ec.message());
}

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c < 127 && c != ':' && c != '(' && c != ')' && c != ',' && c != ';' && c != '"' && c != '/' &&
           c != '[' && c != ']' && c != '?' && c != '=' && c != '{' && c != '}' && c != '<' && c != '>' && c != '@' &&
           c != '\\';
  });
}

bool valid_value(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

/// Framing headers are the client's to write, whatever the caller passed.
bool is_framing_header(std::string_view name) {
  return beast::iequals(name, "host") || beast::iequals(name, "content-length") ||
         beast::iequals(name, "transfer-encoding");
}

/// The request head is written by hand into one reused buffer and sent with the body in a single
/// write: Beast's request<> + serializer costs a fields container (an allocation per header) and
/// separate buffers on every proxied request; headers are validated above instead.
void build_head(std::string& head, const Request& request, const Url& url, const std::string& host_header) {
  head.clear();
  head.append(request.method).append(" ").append(url.target).append(" HTTP/1.1\r\nHost: ").append(host_header);
  head.append("\r\n");
  bool has_user_agent = false;
  for (const auto& [name, value] : request.headers) {
    if (is_framing_header(name)) continue;
    has_user_agent = has_user_agent || beast::iequals(name, "user-agent");
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_user_agent) head.append("User-Agent: tollgate\r\n");
  const bool expects_body = request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
  if (!request.body.empty() || expects_body) {
    head.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  head.append("\r\n");
}

/// True when an idle pooled socket still looks usable: the peer has not closed it. Unsolicited
/// bytes on plain HTTP mean a confused peer; on TLS they may be a session ticket, so keep it.
bool still_open(Connection& c) {
  char byte = 0;
  const auto n = ::recv(c.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return n > 0 && c.tls.has_value();
}

struct ResolveState {
  explicit ResolveState(asio::any_io_executor ex) : wake(std::move(ex)) {}
  asio::steady_timer wake;
  bool done = false;
  error_code ec;
  tcp::resolver::results_type results;
};

/// Runs detached on the caller's executor so the caller can stop waiting at its deadline even
/// though getaddrinfo cannot be interrupted.
asio::awaitable<void> resolve_into(std::shared_ptr<ResolveState> state, asio::any_io_executor io, std::string host,
                                   std::string port) {
  tcp::resolver resolver(io);
  auto [ec, results] = co_await resolver.async_resolve(host, port, kTok);
  state->ec = ec;
  state->results = std::move(results);
  state->done = true;
  state->wake.cancel();
}

}  // namespace client_detail

using namespace client_detail;

struct UpstreamClient::Impl {
  Impl(asio::any_io_executor io_executor, Options opts)
      : io(std::move(io_executor)), options(std::move(opts)), tls_context(ssl::context::tls_client) {
    tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
    if (options.ca_file.empty()) {
      tls_context.set_default_verify_paths();
    } else {
      tls_context.load_verify_file(options.ca_file);
    }
    tls_context.set_verify_mode(ssl::verify_peer);
  }

  bool expired(const Connection& c, SteadyClock::time_point now) const {
    return now - c.idle_since >= options.pool_idle_timeout;
  }

  /// Moves every expired idle connection into `doomed`, at most a few times per idle timeout.
  void sweep_locked(SteadyClock::time_point now, std::vector<std::unique_ptr<Connection>>& doomed) {
    if (now < next_sweep) return;
    next_sweep = now + std::max<SteadyClock::duration>(options.pool_idle_timeout / 4, milliseconds{100});
    for (auto it = idle.begin(); it != idle.end();) {
      auto& list = it->second;
      auto fresh = std::find_if(list.begin(), list.end(), [&](const auto& c) { return !expired(*c, now); });
      std::move(list.begin(), fresh, std::back_inserter(doomed));
      list.erase(list.begin(), fresh);
      it = list.empty() ? idle.erase(it) : std::next(it);
    }
  }

  /// The most recently used idle connection to `origin` that still looks open, or null.
  std::unique_ptr<Connection> take(const std::string& origin) {
    std::vector<std::unique_ptr<Connection>> doomed;  // closed after the lock is released
    for (;;) {
      std::unique_ptr<Connection> found;
      const auto now = SteadyClock::now();
      {
        std::lock_guard lock(mutex);
        sweep_locked(now, doomed);
        auto it = idle.find(origin);
        if (it == idle.end()) return nullptr;
        auto& list = it->second;
        if (!list.empty() && expired(*list.back(), now)) {
          // The newest is expired, so all of them are (the list is oldest first).
          std::move(list.begin(), list.end(), std::back_inserter(doomed));
          list.clear();
        }
        if (list.empty()) {
          idle.erase(it);
          return nullptr;
        }
        found = std::move(list.back());
        list.pop_back();
      }
      if (still_open(*found)) return found;
      doomed.push_back(std::move(found));
    }
  }

  void put_back(const std::string& origin, std::unique_ptr<Connection> conn) {
    std::vector<std::unique_ptr<Connection>> doomed;
    const auto now = SteadyClock::now();
    conn->idle_since = now;
    conn->tcp().expires_never();
    std::lock_guard lock(mutex);
    sweep_locked(now, doomed);
    if (options.max_idle_per_origin == 0) {
      doomed.push_back(std::move(conn));
      return;
    }
    auto& list = idle[origin];
    if (list.size() >= options.max_idle_per_origin) {
      doomed.push_back(std::move(list.front()));
      list.erase(list.begin());
    }
    list.push_back(std::move(conn));
  }

  std::size_t idle_count() const {
    const auto now = SteadyClock::now();
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [origin, list] : idle) {
      n += static_cast<std::size_t>(std::count_if(list.begin(), list.end(), [&](const auto& c) { return !expired(*c, now); }));
    }
    return n;
  }

  asio::any_io_executor io;
  Options options;
  ssl::context tls_context;
  mutable std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // oldest first
  SteadyClock::time_point next_sweep{};
};

namespace client_detail {

/// The body of one response. Owns its connection until the body ends, then pools or closes it.
class Reader final : public BodyReader {
 public:
  Reader(std::shared_ptr<UpstreamClient::Impl> impl, std::string origin, std::string peer)
      : impl_(std::move(impl)), origin_(std::move(origin)), peer_(std::move(peer)) {}

  int status() const noexcept override { return status_; }
  const core::Headers& headers() const noexcept override { return headers_; }
  asio::awaitable<ClientResult<std::optional<std::string>>> read_some() override;
  asio::awaitable<ClientResult<std::string>> read_all() override;

  /// Reads body bytes into [data, data + size): the count, 0 at the end of the body.
  asio::awaitable<ClientResult<std::size_t>> read_into(char* data, std::size_t size);

  std::shared_ptr<UpstreamClient::Impl> impl_;
  std::string origin_;
  std::string peer_;
  std::unique_ptr<Connection> conn_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  int status_ = 0;
  core::Headers headers_;
  std::optional<Deadline> total_;  // send(): every read ends by then
  milliseconds idle_{0};           // open(): the longest wait for the next bytes
  std::optional<AttemptError> failed_;
  std::unique_ptr<char[]> chunk_;  // read_some's landing area, allocated on first use

 private:
  void finish();
  std::size_t take_buffered(char* data, std::size_t size);
  Deadline read_deadline() const;
};

Deadline Reader::read_deadline() const {
  if (total_) return *total_;
  return deadline_in("stream idle", idle_, SteadyClock::now(), std::nullopt);
}

std::size_t Reader::take_buffered(char* data, std::size_t size) {
  // Beast hands over one chunk of a chunked body per read; a burst of SSE events that arrived in
  // one segment sits in the buffer as several chunks. Parsing those here, without I/O, hands the
  // burst over at once: one decode, one client write. It stops at the first incomplete element
  // (eager parsing would instead wait on the socket for the rest) and leaves errors to the next read.
  auto& p = *parser_;
  std::size_t taken = 0;
  while (taken < size && !p.is_done() && conn_->buffer.size() > 0) {
    p.get().body().data = data + taken;
    p.get().body().size = size - taken;
    error_code ec;
    const std::size_t used = p.put(conn_->buffer.data(), ec);
    conn_->buffer.consume(used);
    taken = size - p.get().body().size;
    if (ec == bhttp::error::need_buffer) continue;
    if (ec || used == 0) break;
  }
  return taken;
}

void Reader::finish() {
  auto conn = std::move(conn_);
  auto& p = *parser_;
  p.get().body().data = nullptr;
  if (p.keep_alive() && !p.need_eof() && conn->buffer.size() == 0) impl_->put_back(origin_, std::move(conn));
}

asio::awaitable<ClientResult<std::size_t>> Reader::read_into(char* data, std::size_t size) {
  if (failed_) co_return *failed_;
  if (!conn_) co_return std::size_t{0};
  auto& p = *parser_;
  while (!p.is_done()) {
    p.get().body().data = data;
    p.get().body().size = size;
    const Deadline d = read_deadline();
    arm(conn_->tcp(), d);
    error_code ec;
    if (conn_->tls) {
      std::tie(ec, std::ignore) = co_await bhttp::async_read_some(*conn_->tls, conn_->buffer, p, kTok);
    } else {
      std::tie(ec, std::ignore) = co_await bhttp::async_read_some(*conn_->plain, conn_->buffer, p, kTok);
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == ssl::error::stream_truncated && p.need_eof()) {
      // A TLS peer that ends an EOF-delimited body without close_notify: accepted like curl does.
      ec = {};
      p.put_eof(ec);
    }
    const std::size_t got = size - p.get().body().size;
    if (ec) {
      conn_.reset();
      failed_ = body_failure(ec, d, peer_);
      co_return *failed_;
    }
    if (got > 0) {
      const std::size_t more = take_buffered(data + got, size - got);
      if (p.is_done()) finish();
      co_return got + more;
    }
  }
  finish();
  co_return std::size_t{0};
}

asio::awaitable<ClientResult<std::optional<std::string>>> Reader::read_some() {
  if (!chunk_) chunk_ = std::make_unique<char[]>(kReadChunk);
  auto got = co_await read_into(chunk_.get(), kReadChunk);
  if (!got) co_return got.error();
  if (*got == 0) co_return std::optional<std::string>{};
  co_return std::optional<std::string>{std::string(chunk_.get(), *got)};
}

asio::awaitable<ClientResult<std::string>> Reader::read_all() {
  const std::uint64_t limit = impl_->options.max_response_bytes;
  std::string out;
  bool exact = false;  // sized by Content-Length: never grown
  if (conn_) {
    if (auto length = parser_->content_length(); length && *length <= limit) {
      out.reserve(static_cast<std::size_t>(*length));
      exact = true;
    }
  }
  for (;;) {
    if (failed_) co_return *failed_;
    if (!conn_) co_return std::move(out);
    const std::size_t free = out.capacity() - out.size();
    if (free == 0 || (!exact && free < kReadChunk / 4)) out.reserve(std::max(out.capacity() * 2, kReadChunk));
    const std::size_t old = out.size();
    // Bounded so a large reserve is not zero-filled again on every read.
    const std::size_t room = std::min(out.capacity() - old, kReadAllStep);
    out.resize(old + room);
    auto got = co_await read_into(out.data() + old, room);
    if (!got) co_return got.error();
    out.resize(old + *got);
    if (out.size() > limit) {
      conn_.reset();
      failed_ = failure(FailureKind::kProtocol, "response body from " + peer_ + " over " + std::to_string(limit) + " bytes");
      co_return *failed_;
    }
  }
}

/// DNS (unless the host is an IP literal), TCP connect and, for https, the TLS handshake with
/// SNI and certificate + host name verification, all within `deadline`.
asio::awaitable<ClientResult<std::unique_ptr<Connection>>> connect_new(std::shared_ptr<UpstreamClient::Impl> impl,
                                                                       const Url& url, const std::string& peer,
                                                                       Deadline deadline) {
  std::vector<tcp::endpoint> endpoints;
  error_code ec;
  const auto literal = asio::ip::make_address(url.host, ec);
  const bool is_literal = !ec;
  if (is_literal) {
    endpoints.emplace_back(literal, url.port);
  } else {
    auto ex = co_await asio::this_coro::executor;
    auto state = std::make_shared<ResolveState>(ex);
    state->wake.expires_at(deadline.at);
    asio::co_spawn(ex, resolve_into(state, impl->io, url.host, std::to_string(url.port)), asio::detached);
    co_await state->wake.async_wait(kTok);
    if (!state->done) co_return timeout_failure(deadline);
    if (state->ec) co_return failure(FailureKind::kConnect, "resolve " + url.host + " failed: " + state->ec.message());
    for (const auto& entry : state->results) endpoints.push_back(entry.endpoint());
    if (endpoints.empty()) co_return failure(FailureKind::kConnect, "resolve " + url.host + " found no address");
  }

  auto conn = std::make_unique<Connection>();
  if (url.is_tls()) {
    conn->tls.emplace(impl->io, impl->tls_context);
    // SNI carries names only, never IP literals (RFC 6066).
    if (!is_literal && ::SSL_set_tlsext_host_name(conn->tls->native_handle(), url.host.c_str()) != 1) {
      co_return failure(FailureKind::kConnect, "TLS setup for " + peer + " failed");
    }
    conn->tls->set_verify_mode(ssl::verify_peer);
    conn->tls->set_verify_callback(ssl::host_name_verification(url.host));
  } else {
    conn->plain.emplace(impl->io);
  }

  auto& stream = conn->tcp();
  arm(stream, deadline);
  auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kTok);
  if (connect_ec == beast::error::timeout) co_return timeout_failure(deadline);
  if (connect_ec) co_return failure(FailureKind::kConnect, "connect to " + peer + " failed: " + connect_ec.message());
  stream.socket().set_option(tcp::no_delay(true), ec);

  if (conn->tls) {
    arm(stream, deadline);
    auto [handshake_ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kTok);
    if (handshake_ec == beast::error::timeout) co_return timeout_failure(deadline);
    if (handshake_ec) {
      co_return failure(FailureKind::kConnect, "TLS handshake with " + peer + " failed: " + handshake_ec.message());
    }
  }
  co_return std::move(conn);
}

void start_parser(Reader& reader, const Request& request, std::optional<std::uint64_t> body_limit) {
  auto& p = reader.parser_.emplace();
  p.header_limit(kHeaderLimit);
  if (body_limit) {
    p.body_limit(*body_limit);
  } else {
    p.body_limit(boost::none);
  }
  if (request.method == "HEAD") p.skip(true);
}

template <class Stream>
asio::awaitable<error_code> write_request(Stream& stream, const std::string& head, const std::string& body) {
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
  auto [ec, n] = co_await asio::async_write(stream, buffers, kTok);
  co_return ec;
}

/// Reads a response head, skipping interim 1xx responses.
template <class Stream>
asio::awaitable<error_code> read_head(Stream& stream, Connection& conn, Reader& reader, const Request& request,
                                      std::optional<std::uint64_t> body_limit) {
  for (;;) {
    auto [ec, n] = co_await bhttp::async_read_header(stream, conn.buffer, *reader.parser_, kTok);
    if (ec) co_return ec;
    const int status = reader.parser_->get().result_int();
    if (status >= 200 || status == 101) co_return error_code{};
    start_parser(reader, request, body_limit);
  }
}

/// Sends the request on a pooled or new connection and reads the response head. A pooled
/// connection that fails before any response byte arrived is replaced once by a new one.
asio::awaitable<ClientResult<std::unique_ptr<Reader>>> start_exchange(std::shared_ptr<UpstreamClient::Impl> impl,
                                                                       const Request& request,
                                                                       core::AttemptTimeouts timeouts,
                                                                       std::optional<Deadline> total,
                                                                       std::optional<std::uint64_t> body_limit) {
  auto parsed = parse_url(request.url);
  if (!parsed) co_return failure(FailureKind::kConnect, "bad upstream URL: " + parsed.error().message);
  const Url& url = *parsed;
  if (!valid_token(request.method)) co_return failure(FailureKind::kProtocol, "bad request method");
  for (const auto& [name, value] : request.headers) {
    if (!valid_token(name) || !valid_value(value)) co_return failure(FailureKind::kProtocol, "bad request header name or value");
  }

  const std::string origin = url.origin();
  const std::string host_header = url.host_header();
  auto reader = std::make_unique<Reader>(impl, origin, origin.substr(url.scheme.size() + 3));

  for (int attempt = 0;; ++attempt) {
    // Only the first attempt may use the pool: the retry is on a fresh connection.
    std::unique_ptr<Connection> conn = attempt == 0 ? impl->take(origin) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto connected = co_await connect_new(impl, url, reader->peer_,
                                            deadline_in("connect", timeouts.connect, SteadyClock::now(), total));
      if (!connected) co_return connected.error();
      conn = std::move(*connected);
    }

    build_head(conn->head, request, url, host_header);
    const Deadline head_deadline = deadline_in("first byte", timeouts.first_byte, SteadyClock::now(), total);
    arm(conn->tcp(), head_deadline);
    error_code ec;
    if (conn->tls) {
      ec = co_await write_request(*conn->tls, conn->head, request.body);
    } else {
      ec = co_await write_request(*conn->plain, conn->head, request.body);
    }
    bool nothing_received = true;
    if (!ec) {
      start_parser(*reader, request, body_limit);
      if (conn->tls) {
        ec = co_await read_head(*conn->tls, *conn, *reader, request, body_limit);
      } else {
        ec = co_await read_head(*conn->plain, *conn, *reader, request, body_limit);
      }
      nothing_received = !reader->parser_->got_some() && conn->buffer.size() == 0;
    }
    if (ec) {
      // The peer closed an idle keep-alive connection meanwhile; the request never reached it.
      if (reused && nothing_received && closed_by_peer(ec)) continue;
      co_return head_failure(ec, head_deadline, reader->peer_);
    }

    const auto& head = reader->parser_->get();
    reader->status_ = head.result_int();
    reader->headers_.reserve(static_cast<std::size_t>(std::distance(head.begin(), head.end())));
    for (const auto& field : head) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      reader->headers_.emplace_back(std::move(name), std::string(field.value()));
    }
    reader->conn_ = std::move(conn);
    co_return std::move(reader);
  }
}

}  // namespace client_detail

UpstreamClient::UpstreamClient(asio::any_io_executor io, Options options)
    : impl_(std::make_shared<Impl>(std::move(io), std::move(options))) {}

UpstreamClient::~UpstreamClient() = default;

asio::awaitable<ClientResult<Response>> UpstreamClient::send(Request request, core::AttemptTimeouts timeouts) {
  const Deadline total = deadline_in("total", timeouts.total, SteadyClock::now(), std::nullopt);
  auto started = co_await start_exchange(impl_, request, timeouts, total, impl_->options.max_response_bytes);
  if (!started) co_return started.error();
  Reader& reader = **started;
  reader.total_ = total;
  auto body = co_await reader.read_all();
  if (!body) co_return body.error();
  Response response;
  response.status = reader.status_;
  response.headers = std::move(reader.headers_);
  response.body = std::move(*body);
  co_return std::move(response);
}

asio::awaitable<ClientResult<std::unique_ptr<BodyReader>>> UpstreamClient::open(Request request,
                                                                                core::AttemptTimeouts timeouts) {
  auto started = co_await start_exchange(impl_, request, timeouts, std::nullopt, std::nullopt);
  if (!started) co_return started.error();
  (*started)->idle_ = timeouts.stream_idle;
  co_return std::unique_ptr<BodyReader>(std::move(*started));
}

std::size_t UpstreamClient::idle_connections() const { return impl_->idle_count(); }

}  // namespace tollgate::adapters::http
