// Tests for UpstreamClient against tiny in-test HTTP(S) servers on 127.0.0.1 (real sockets).
#include "adapters/http/upstream_client.hpp"
#include "adapters/http/url.hpp"
#include "support/fixtures.hpp"
#include "support/run.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

using tollgate::testing::run;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using tollgate::adapters::http::BodyReader;
using tollgate::adapters::http::ClientResult;
using tollgate::adapters::http::Request;
using tollgate::adapters::http::Response;
using tollgate::adapters::http::UpstreamClient;
using tollgate::core::AttemptError;
using tollgate::core::AttemptTimeouts;
using tollgate::core::FailureKind;
using namespace std::chrono_literals;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// A self-signed certificate for DNS:localhost only (valid 2000-2100), test use only.
constexpr const char* kCert = R"(-----BEGIN CERTIFICATE-----
MIIBYTCCAQegAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAlsb2NhbGhv
c3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABJmn8BVJOjAfcW+E
hI+czryXiXqN4IkWDLDcIyZbtN5w3b2zg57aDFfWZV4RTSeNIYVD40nVV/GSD09a
m+bWEK6jSDBGMA8GA1UdEwEB/wQFMAMBAf8wFAYDVR0RBA0wC4IJbG9jYWxob3N0
MB0GA1UdDgQWBBQ5aBvu7UoCbBYMptgENW0WPpf1BzAKBggqhkjOPQQDAgNIADBF
AiEA4VskX3TL8DLaNcNIL3jwGfQCm2I6q2qFc+tsQr0tp3wCIGWtCc+S3KjSXWfU
9GWRTbPm7UsZ+Mo0gxOdz/zdNjuM
-----END CERTIFICATE-----
)";
constexpr const char* kKey = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2SjlcBXuc5RbUMED
+b7eCfiEhF8i4Gcz8JED3/unVlehRANCAASZp/AVSTowH3FvhISPnM68l4l6jeCJ
Fgyw3CMmW7TecN29s4Oe2gxX1mVeEU0njSGFQ+NJ1Vfxkg9PWpvm1hCu
-----END PRIVATE KEY-----
)";

/// What the server saw of one request.
struct Seen {
  std::string method;
  std::string target;
  std::string host;
  std::string content_length;
  std::string authorization;
  std::string custom;
  std::string body;
};

/// State shared by a test and its server coroutines; everything runs on one thread.
struct ServerState {
  explicit ServerState(asio::io_context& ctx)
      : acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), go(ctx) {}

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  std::string url(const std::string& scheme, const std::string& host, const std::string& path) const {
    return scheme + "://" + host + ":" + std::to_string(port()) + path;
  }
  std::string url(const std::string& path) const { return url("http", "127.0.0.1", path); }
  /// Lets a server coroutine blocked in wait_release() go on.
  void release() {
    released = true;
    go.cancel();
  }

  tcp::acceptor acceptor;
  asio::steady_timer go;
  bool released = false;
  bool finished = false;  // the server wrote the last byte of its scripted response
  int connections = 0;
  std::vector<Seen> requests;
  std::optional<ssl::context> tls;
};

using Handler = asio::awaitable<void> (*)(std::shared_ptr<ServerState>, tcp::socket, int);

asio::awaitable<void> accept_loop(std::shared_ptr<ServerState> state, Handler handler) {
  for (int index = 0;; ++index) {
    auto [ec, socket] = co_await state->acceptor.async_accept(kTok);
    if (ec) co_return;
    ++state->connections;
    asio::co_spawn(state->acceptor.get_executor(), handler(state, std::move(socket), index), asio::detached);
  }
}

asio::awaitable<void> wait_release(std::shared_ptr<ServerState> state) {
  if (state->released) co_return;
  state->go.expires_at(asio::steady_timer::time_point::max());
  co_await state->go.async_wait(kTok);
}

template <class Stream>
asio::awaitable<bool> read_request(ServerState& state, Stream& stream, beast::flat_buffer& buffer) {
  bhttp::request<bhttp::string_body> req;
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, kTok);
  if (ec) co_return false;
  Seen seen;
  seen.method = std::string(req.method_string());
  seen.target = std::string(req.target());
  seen.host = std::string(req[bhttp::field::host]);
  seen.content_length = std::string(req[bhttp::field::content_length]);
  seen.authorization = std::string(req[bhttp::field::authorization]);
  seen.custom = std::string(req["X-Custom-Request"]);
  seen.body = req.body();
  state.requests.push_back(std::move(seen));
  co_return true;
}

template <class Stream>
asio::awaitable<bool> write_text(Stream& stream, std::string text) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), kTok);
  co_return !ec;
}

std::string ok_response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Upstream-Thing: Yes\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Answers every request on the connection with a small JSON naming the connection and request.
template <class Stream>
asio::awaitable<void> serve_requests(std::shared_ptr<ServerState> state, Stream& stream, beast::flat_buffer& buffer,
                                     int index) {
  while (co_await read_request(*state, stream, buffer)) {
    const std::string body = "{\"connection\":" + std::to_string(index) +
                             ",\"request\":" + std::to_string(state->requests.size()) + "}";
    if (!co_await write_text(stream, ok_response(body))) co_return;
  }
}

asio::awaitable<void> serve_ok(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  co_await serve_requests(state, socket, buffer, index);
}

asio::awaitable<void> serve_chunked_with_pause(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nfirst\r\n");
  co_await wait_release(state);
  co_await write_text(socket, "6\r\nsecond\r\n0\r\n\r\n");
  state->finished = true;
  co_await serve_requests(state, socket, buffer, index);
}

asio::awaitable<void> serve_chunk_burst(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  // Four chunks in the same write as the head, as when several SSE events arrive at once.
  co_await write_text(socket,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\naaa\r\n3\r\nbbb\r\n3\r\nccc\r\n3\r\nddd\r\n");
  co_await wait_release(state);
  co_await write_text(socket, "3\r\neee\r\n0\r\n\r\n");
  state->finished = true;
  co_await serve_requests(state, socket, buffer, index);
}

asio::awaitable<void> serve_then_close_idle(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (index > 0) {
    co_await serve_requests(state, socket, buffer, index);
    co_return;
  }
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, ok_response("{\"first\":true}"));
  // Takes the next request and hangs up without a byte, like a server whose idle timer fired.
  co_await read_request(*state, socket, buffer);
}

asio::awaitable<void> serve_then_cut_head(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, ok_response("{\"first\":true}"));
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, "HTTP/1.1 200 OK\r\nContent-Le");
}

asio::awaitable<void> serve_silence(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  co_await read_request(*state, socket, buffer);
  co_await wait_release(state);
}

asio::awaitable<void> serve_truncated_chunked(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket,
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc");
}

asio::awaitable<void> serve_then_stall(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  // Holds the connection open and silent until the test ends.
  asio::steady_timer forever(socket.get_executor(), asio::steady_timer::time_point::max());
  co_await forever.async_wait(kTok);
}

asio::awaitable<void> serve_connection_close(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
}

asio::awaitable<void> serve_big_body(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  beast::flat_buffer buffer;
  if (!co_await read_request(*state, socket, buffer)) co_return;
  co_await write_text(socket, "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
}

asio::awaitable<void> serve_plain_bytes(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  char scratch[512];
  co_await socket.async_read_some(asio::buffer(scratch), kTok);
  co_await write_text(socket, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
}

asio::awaitable<void> serve_tls(std::shared_ptr<ServerState> state, tcp::socket socket, int index) {
  ssl::stream<tcp::socket> stream(std::move(socket), *state->tls);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
  if (ec) co_return;
  beast::flat_buffer buffer;
  co_await serve_requests(state, stream, buffer, index);
}

std::shared_ptr<ServerState> start_server(asio::io_context& ctx, Handler handler) {
  auto state = std::make_shared<ServerState>(ctx);
  asio::co_spawn(ctx, accept_loop(state, handler), asio::detached);
  return state;
}

Request post(std::string url, std::string body = "{\"model\":\"m\"}") {
  Request request;
  request.url = std::move(url);
  request.headers = {{"Authorization", "Bearer sk-test-secret"},
                     {"Content-Type", "application/json"},
                     {"X-Custom-Request", "yes"}};
  request.body = std::move(body);
  return request;
}

AttemptTimeouts short_timeouts() {
  AttemptTimeouts t;
  t.connect = 2000ms;
  t.first_byte = 100ms;
  t.total = 5000ms;
  t.stream_idle = 100ms;
  return t;
}

std::string header(const tollgate::core::Headers& headers, const std::string& name) {
  return tollgate::testing::header_value(headers, name);
}

/// Everything observed while reading one streamed response.
struct StreamOutcome {
  int status = 0;
  std::string content_type;
  std::vector<std::string> pieces;
  std::vector<bool> server_finished;  // per piece: had the server written its last byte by then
  bool ended = false;
  std::optional<AttemptError> error;
};

asio::awaitable<StreamOutcome> read_stream(UpstreamClient& client, std::shared_ptr<ServerState> state, Request request,
                                           AttemptTimeouts timeouts) {
  StreamOutcome out;
  auto opened = co_await client.open(std::move(request), timeouts);
  if (!opened) {
    out.error = opened.error();
    co_return out;
  }
  BodyReader& reader = **opened;
  out.status = reader.status();
  out.content_type = header(reader.headers(), "content-type");
  for (;;) {
    auto piece = co_await reader.read_some();
    if (!piece) {
      out.error = piece.error();
      break;
    }
    if (!*piece) {
      out.ended = true;
      break;
    }
    out.pieces.push_back(**piece);
    out.server_finished.push_back(state->finished);
    state->release();
  }
  co_return out;
}

/// Sends two requests one after the other.
asio::awaitable<std::pair<ClientResult<Response>, ClientResult<Response>>> send_twice(UpstreamClient& client,
                                                                                      std::string url,
                                                                                      AttemptTimeouts timeouts) {
  auto first = co_await client.send(post(url, "{\"n\":1}"), timeouts);
  auto second = co_await client.send(post(url, "{\"n\":2}"), timeouts);
  co_return std::make_pair(std::move(first), std::move(second));
}

/// Writes the test certificate to a file for Options::ca_file; removed on destruction.
struct CaFile {
  CaFile() : path(std::filesystem::temp_directory_path() / ("tollgate-test-ca-" + std::to_string(::getpid()) + ".pem")) {
    std::ofstream(path) << kCert;
  }
  ~CaFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

void enable_tls(ServerState& state) {
  state.tls.emplace(ssl::context::tls_server);
  state.tls->use_certificate_chain(asio::buffer(std::string_view(kCert)));
  state.tls->use_private_key(asio::buffer(std::string_view(kKey)), ssl::context::pem);
}

}  // namespace

TEST_CASE("UpstreamClient sends a request and reads a Content-Length response") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_ok);
  UpstreamClient client(ctx.get_executor(), {});

  auto result = run(ctx, client.send(post(server->url("/v1/chat/completions?x=1")), short_timeouts()));
  REQUIRE(result.has_value());
  CHECK(result->status == 200);
  CHECK(result->body == "{\"connection\":0,\"request\":1}");
  CHECK(header(result->headers, "content-type") == "application/json");
  CHECK(header(result->headers, "x-upstream-thing") == "Yes");
  CHECK(header(result->headers, "content-length") == "28");

  REQUIRE(server->requests.size() == 1);
  const Seen& seen = server->requests[0];
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/v1/chat/completions?x=1");
  CHECK(seen.host == "127.0.0.1:" + std::to_string(server->port()));
  CHECK(seen.content_length == "13");
  CHECK(seen.authorization == "Bearer sk-test-secret");
  CHECK(seen.custom == "yes");
  CHECK(seen.body == "{\"model\":\"m\"}");
}

TEST_CASE("UpstreamClient hands over a burst of chunks that arrived together in one read") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_chunk_burst);
  UpstreamClient client(ctx.get_executor(), {});

  auto out = run(ctx, read_stream(client, server, post(server->url("/stream")), short_timeouts()));
  REQUIRE_FALSE(out.error.has_value());
  REQUIRE(out.pieces.size() == 2);
  CHECK(out.pieces[0] == "aaabbbcccddd");
  CHECK(out.server_finished[0] == false);
  CHECK(out.pieces[1] == "eee");
  CHECK(out.ended);
  CHECK(client.idle_connections() == 1);
}

TEST_CASE("UpstreamClient streams a chunked body piece by piece as it arrives") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_chunked_with_pause);
  UpstreamClient client(ctx.get_executor(), {});

  auto out = run(ctx, read_stream(client, server, post(server->url("/stream")), short_timeouts()));
  REQUIRE_FALSE(out.error.has_value());
  CHECK(out.status == 200);
  CHECK(out.content_type == "text/event-stream");
  REQUIRE(out.pieces.size() >= 2);
  CHECK(out.pieces.front() == "first");
  CHECK(out.server_finished.front() == false);  // it came while the server was still paused
  std::string all;
  for (const auto& p : out.pieces) all += p;
  CHECK(all == "firstsecond");
  CHECK(out.ended);
  CHECK(server->finished);
  // Read to the clean end: the connection went back to the pool.
  CHECK(client.idle_connections() == 1);
}

TEST_CASE("UpstreamClient reuses a keep-alive connection") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_ok);
  UpstreamClient client(ctx.get_executor(), {});

  auto [first, second] = run(ctx, send_twice(client, server->url("/v1/x"), short_timeouts()));
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->body == "{\"connection\":0,\"request\":1}");
  CHECK(second->body == "{\"connection\":0,\"request\":2}");
  CHECK(server->connections == 1);
  CHECK(client.idle_connections() == 1);
}

TEST_CASE("UpstreamClient drops pooled connections older than pool_idle_timeout") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_ok);
  UpstreamClient::Options options;
  options.pool_idle_timeout = 0ms;
  UpstreamClient client(ctx.get_executor(), options);

  auto [first, second] = run(ctx, send_twice(client, server->url("/v1/x"), short_timeouts()));
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(second->body == "{\"connection\":1,\"request\":2}");
  CHECK(server->connections == 2);
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("UpstreamClient does not pool a connection the response closes") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_connection_close);
  UpstreamClient client(ctx.get_executor(), {});

  auto result = run(ctx, client.send(post(server->url("/")), short_timeouts()));
  REQUIRE(result.has_value());
  CHECK(result->body == "ok");
  CHECK(client.idle_connections() == 0);
}

namespace {

/// Opens two responses at once (two connections), then reads both to the end.
asio::awaitable<std::pair<std::string, std::string>> read_two_at_once(UpstreamClient& client, std::string url) {
  auto first = co_await client.open(post(url), short_timeouts());
  auto second = co_await client.open(post(url), short_timeouts());
  if (!first || !second) co_return std::make_pair(std::string("open failed"), std::string());
  auto a = co_await (*first)->read_all();
  auto b = co_await (*second)->read_all();
  co_return std::make_pair(a ? *a : "read failed", b ? *b : "read failed");
}

}  // namespace

TEST_CASE("UpstreamClient keeps at most max_idle_per_origin idle connections") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_ok);
  UpstreamClient::Options options;
  options.max_idle_per_origin = 1;
  UpstreamClient client(ctx.get_executor(), options);

  auto [a, b] = run(ctx, read_two_at_once(client, server->url("/")));
  CHECK(a == "{\"connection\":0,\"request\":1}");
  CHECK(b == "{\"connection\":1,\"request\":2}");
  CHECK(server->connections == 2);
  CHECK(client.idle_connections() == 1);
}

TEST_CASE("UpstreamClient retries once on a fresh connection when a pooled one was closed meanwhile") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_then_close_idle);
  UpstreamClient client(ctx.get_executor(), {});

  auto [first, second] = run(ctx, send_twice(client, server->url("/v1/x"), short_timeouts()));
  REQUIRE(first.has_value());
  CHECK(first->body == "{\"first\":true}");
  REQUIRE(second.has_value());
  CHECK(second->status == 200);
  CHECK(second->body == "{\"connection\":1,\"request\":3}");
  CHECK(server->connections == 2);
  REQUIRE(server->requests.size() == 3);
  CHECK(server->requests[1].body == "{\"n\":2}");
  CHECK(server->requests[2].body == "{\"n\":2}");
}

TEST_CASE("UpstreamClient never re-sends once response bytes arrived") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_then_cut_head);
  UpstreamClient client(ctx.get_executor(), {});

  auto [first, second] = run(ctx, send_twice(client, server->url("/v1/x"), short_timeouts()));
  REQUIRE(first.has_value());
  REQUIRE(second.has_error());
  CHECK(second.error().kind == FailureKind::kProtocol);
  CHECK(second.error().retryable);
  CHECK(server->connections == 1);
  CHECK(server->requests.size() == 2);
}

TEST_CASE("UpstreamClient reports a refused connection as kConnect") {
  asio::io_context ctx;
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  UpstreamClient client(ctx.get_executor(), {});

  auto result = run(ctx, client.send(post("http://127.0.0.1:" + std::to_string(port) + "/"), short_timeouts()));
  REQUIRE(result.has_error());
  CHECK(result.error().kind == FailureKind::kConnect);
  CHECK(result.error().retryable);
  CHECK(result.error().message == "connect to 127.0.0.1:" + std::to_string(port) + " failed: Connection refused");
}

TEST_CASE("UpstreamClient times out when the upstream never answers") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_silence);
  UpstreamClient client(ctx.get_executor(), {});

  const auto started = std::chrono::steady_clock::now();
  auto result = run(ctx, client.send(post(server->url("/")), short_timeouts()));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(result.has_error());
  CHECK(result.error().kind == FailureKind::kTimeout);
  CHECK(result.error().retryable);
  CHECK(result.error().message == "first byte timeout after 100ms");
  CHECK(elapsed >= 90ms);
  CHECK(elapsed < 2000ms);
  CHECK(server->requests.size() == 1);
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("UpstreamClient times out a stream that goes quiet") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_then_stall);
  UpstreamClient client(ctx.get_executor(), {});
  auto timeouts = short_timeouts();
  timeouts.first_byte = 2000ms;

  auto out = run(ctx, read_stream(client, server, post(server->url("/")), timeouts));
  REQUIRE(out.pieces.size() == 1);
  CHECK(out.pieces[0] == "hello");
  REQUIRE(out.error.has_value());
  CHECK(out.error->kind == FailureKind::kTimeout);
  CHECK(out.error->message == "stream idle timeout after 100ms");
}

TEST_CASE("UpstreamClient reports a truncated chunked body as kProtocol") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_truncated_chunked);
  UpstreamClient client(ctx.get_executor(), {});

  SECTION("send") {
    auto result = run(ctx, client.send(post(server->url("/")), short_timeouts()));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == FailureKind::kProtocol);
    CHECK(result.error().retryable);
  }
  SECTION("open and read_some") {
    auto out = run(ctx, read_stream(client, server, post(server->url("/")), short_timeouts()));
    CHECK(out.status == 200);
    REQUIRE(out.error.has_value());
    CHECK(out.error->kind == FailureKind::kProtocol);
    CHECK_FALSE(out.ended);
    std::string all;
    for (const auto& p : out.pieces) all += p;
    CHECK(all.substr(0, 5) == "hello");
  }
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("UpstreamClient bounds a buffered body by max_response_bytes") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_big_body);
  UpstreamClient::Options options;
  options.max_response_bytes = 10;
  UpstreamClient client(ctx.get_executor(), options);

  auto result = run(ctx, client.send(post(server->url("/")), short_timeouts()));
  REQUIRE(result.has_error());
  CHECK(result.error().kind == FailureKind::kProtocol);
}

TEST_CASE("UpstreamClient fails the TLS handshake with a plain TCP server as kConnect") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_plain_bytes);
  UpstreamClient client(ctx.get_executor(), {});

  auto result = run(ctx, client.send(post(server->url("https", "127.0.0.1", "/")), short_timeouts()));
  REQUIRE(result.has_error());
  CHECK(result.error().kind == FailureKind::kConnect);
  CHECK(result.error().message.rfind("TLS handshake with 127.0.0.1:" + std::to_string(server->port()) + " failed", 0) == 0);
}

TEST_CASE("UpstreamClient speaks TLS with certificate and host name verification") {
  asio::io_context ctx;
  auto server = start_server(ctx, &serve_tls);
  enable_tls(*server);
  CaFile ca;
  UpstreamClient::Options options;
  options.ca_file = ca.path.string();

  SECTION("trusted certificate for the name: works and pools") {
    UpstreamClient client(ctx.get_executor(), options);
    auto [first, second] = run(ctx, send_twice(client, server->url("https", "localhost", "/v1/x"), short_timeouts()));
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(second->body == "{\"connection\":0,\"request\":2}");
    CHECK(server->connections == 1);
    CHECK(server->requests[0].host == "localhost:" + std::to_string(server->port()));
    CHECK(client.idle_connections() == 1);
  }
  SECTION("the certificate does not name the host") {
    UpstreamClient client(ctx.get_executor(), options);
    auto result = run(ctx, client.send(post(server->url("https", "127.0.0.1", "/")), short_timeouts()));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == FailureKind::kConnect);
    CHECK(result.error().message.find("certificate verify failed") != std::string::npos);
    CHECK(server->requests.empty());
  }
  SECTION("the certificate is not trusted") {
    UpstreamClient client(ctx.get_executor(), {});
    auto result = run(ctx, client.send(post(server->url("https", "localhost", "/")), short_timeouts()));
    REQUIRE(result.has_error());
    CHECK(result.error().kind == FailureKind::kConnect);
    CHECK(result.error().message.find("certificate verify failed") != std::string::npos);
    CHECK(server->requests.empty());
  }
}

TEST_CASE("UpstreamClient rejects a bad URL and header injection before connecting") {
  asio::io_context ctx;
  UpstreamClient client(ctx.get_executor(), {});

  auto bad_url = run(ctx, client.send(post("ftp://example.com/"), short_timeouts()));
  REQUIRE(bad_url.has_error());
  CHECK(bad_url.error().message.find("bad upstream URL") == 0);

  auto request = post("http://127.0.0.1:9/");
  request.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
  auto injected = run(ctx, client.send(std::move(request), short_timeouts()));
  REQUIRE(injected.has_error());
  CHECK(injected.error().kind == FailureKind::kProtocol);
}

TEST_CASE("parse_url splits http and https URLs") {
  using tollgate::adapters::http::parse_url;
  auto a = parse_url("https://API.openai.com/v1/chat/completions?x=1&y=%20");
  REQUIRE(a.has_value());
  CHECK(a->scheme == "https");
  CHECK(a->host == "api.openai.com");
  CHECK(a->port == 443);
  CHECK(a->target == "/v1/chat/completions?x=1&y=%20");
  CHECK(a->host_header() == "api.openai.com");
  CHECK(a->origin() == "https://api.openai.com:443");

  auto b = parse_url("http://127.0.0.1:11434");
  REQUIRE(b.has_value());
  CHECK(b->port == 11434);
  CHECK(b->target == "/");
  CHECK(b->host_header() == "127.0.0.1:11434");

  auto c = parse_url("http://[::1]:8080/v1");
  REQUIRE(c.has_value());
  CHECK(c->host == "::1");
  CHECK(c->host_header() == "[::1]:8080");
  CHECK(c->origin() == "http://[::1]:8080");

  auto d = parse_url("https://[::1]/");
  REQUIRE(d.has_value());
  CHECK(d->host_header() == "[::1]");
  CHECK(d->port == 443);

  auto e = parse_url("http://example.com:80/a#frag");
  REQUIRE(e.has_value());
  CHECK(e->target == "/a");
  CHECK(e->host_header() == "example.com");

  for (const char* bad : {"ftp://example.com/", "http://exa%00mple.com/", "example.com/v1", "http:///v1", "http://h:99999/", "http://u:p@h/",
                          "http://h:x/", "", "https://"}) {
    INFO(bad);
    auto r = parse_url(bad);
    REQUIRE(r.has_error());
    CHECK_FALSE(r.error().message.empty());
    CHECK(r.error().message.find("u:p") == std::string::npos);
  }
}

namespace {

/// One strand's share of the concurrency test: sequential sends, counting the good answers.
asio::awaitable<int> send_many(UpstreamClient& client, std::string url, int count) {
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    auto result = co_await client.send(post(url), short_timeouts());
    if (result && result->status == 200 && result->body.find("\"request\":") != std::string::npos) ++ok;
  }
  co_return ok;
}

}  // namespace

TEST_CASE("UpstreamClient serves many strands on several threads from one pool") {
  asio::io_context server_ctx;
  auto server = start_server(server_ctx, &serve_ok);
  const std::string url = server->url("/v1/x");
  std::thread server_thread([&server_ctx] { server_ctx.run(); });

  constexpr int kStrands = 4;
  constexpr int kSends = 25;
  int ok = 0;
  std::size_t idle_after = 0;
  {
    asio::io_context ctx;
    UpstreamClient client(ctx.get_executor(), {});
    std::vector<std::future<int>> results;
    for (int i = 0; i < kStrands; ++i) {
      results.push_back(asio::co_spawn(asio::make_strand(ctx), send_many(client, url, kSends), asio::use_future));
    }
    std::thread second([&ctx] { ctx.run(); });
    ctx.run();
    second.join();
    for (auto& r : results) ok += r.get();
    idle_after = client.idle_connections();
  }
  asio::post(server_ctx, [&server_ctx] { server_ctx.stop(); });
  server_thread.join();

  CHECK(ok == kStrands * kSends);
  CHECK(server->requests.size() == static_cast<std::size_t>(kStrands * kSends));
  // Connections were reused: at most one per strand was ever open at once.
  CHECK(server->connections <= kStrands);
  CHECK(idle_after == static_cast<std::size_t>(server->connections));
}
