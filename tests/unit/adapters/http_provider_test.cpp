// HttpProvider (OpenAI adapter over the real UpstreamClient) and ProviderRegistry, against a
// scripted HTTP/1.1 server on 127.0.0.1.
#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "adapters/http/upstream_client.hpp"
#include "adapters/http_provider.hpp"
#include "adapters/openai/openai_adapter.hpp"
#include "adapters/registry.hpp"
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "support/fixtures.hpp"
#include "support/run.hpp"

using tollgate::testing::pull_all;
using tollgate::testing::Pulled;
using tollgate::testing::run;

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using nlohmann::json;
using tollgate::adapters::HttpProvider;
using tollgate::adapters::OpenAiAdapter;
using tollgate::adapters::ProviderRegistry;
using tollgate::adapters::http::UpstreamClient;
using tollgate::core::AttemptResult;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::FailureKind;
using tollgate::core::GatewayError;
using tollgate::core::UpstreamCall;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

std::string fixture(const std::string& name) { return tollgate::testing::read_fixture("openai/" + name); }

/// Answers each request, in arrival order, with the next scripted raw response; records requests.
struct FakeUpstream {
  explicit FakeUpstream(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/v1"; }

  tcp::acceptor acceptor;
  std::deque<std::string> responses;
  std::vector<bhttp::request<bhttp::string_body>> requests;
};

asio::awaitable<void> serve_connection(FakeUpstream* upstream, tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    bhttp::request<bhttp::string_body> request;
    auto [read_error, read] = co_await bhttp::async_read(socket, buffer, request, kTok);
    if (read_error || upstream->responses.empty()) co_return;
    upstream->requests.push_back(std::move(request));
    const std::string response = std::move(upstream->responses.front());
    upstream->responses.pop_front();
    auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(response), kTok);
    if (write_error || response.find("Connection: close") != std::string::npos) co_return;
  }
}

asio::awaitable<void> serve(FakeUpstream* upstream) {
  for (;;) {
    auto [error, socket] = co_await upstream->acceptor.async_accept(kTok);
    if (error) co_return;
    asio::co_spawn(upstream->acceptor.get_executor(), serve_connection(upstream, std::move(socket)), asio::detached);
  }
}

std::string response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

/// A chunked SSE response cutting `body` into pieces of `piece` bytes.
std::string sse_response(const std::string& body, std::size_t piece) {
  std::ostringstream out;
  out << "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += piece) {
    const std::string part = body.substr(at, piece);
    out << std::hex << part.size() << "\r\n" << part << "\r\n";
  }
  out << "0\r\n\r\n";
  return out.str();
}

struct Fixture {
  Fixture() : upstream(io), client(io.get_executor(), UpstreamClient::Options{}) {
    asio::co_spawn(io, serve(&upstream), asio::detached);
  }
  HttpProvider provider(std::vector<std::string> keys) {
    return HttpProvider(tollgate::config::ProviderConfig{"openai", "openai", upstream.base_url(), std::move(keys)},
                        std::make_shared<const OpenAiAdapter>(), client);
  }
  AttemptResult call(HttpProvider& provider, const json& body, bool stream) {
    return run(io, provider.call(UpstreamCall{body, "gpt-4o-mini", stream, "req-1", {}}));
  }

  asio::io_context io;
  FakeUpstream upstream;
  UpstreamClient client;
};

const json kBody = {{"model", "smart"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"seed", 7}};

}  // namespace

TEST_CASE("HttpProvider returns a 2xx body as is with its usage, rotating keys", "[http_provider]") {
  Fixture f;
  const std::string completion = fixture("chat_completion.json");
  for (int i = 0; i < 3; ++i) f.upstream.responses.push_back(response(200, completion));
  auto provider = f.provider({"sk-one", "", "sk-two"});
  CHECK(provider.id() == "openai");
  CHECK(provider.type() == "openai");

  for (int i = 0; i < 3; ++i) {
    auto result = f.call(provider, kBody, false);
    REQUIRE(result.has_value());
    CHECK(result->status == 200);
    CHECK(result->body == completion);
    REQUIRE(result->usage.has_value());
    CHECK(result->usage->prompt_tokens == 1117);
    CHECK(result->usage->cached_tokens == 1024);
  }
  REQUIRE(f.upstream.requests.size() == 3);
  const auto& first = f.upstream.requests[0];
  CHECK(first.method() == bhttp::verb::post);
  CHECK(first.target() == "/v1/chat/completions");
  json expected = kBody;
  expected["model"] = "gpt-4o-mini";
  CHECK(json::parse(first.body()) == expected);
  // The empty key ("${VAR}" unset) is dropped: two keys, used in turn.
  CHECK(first[bhttp::field::authorization] == "Bearer sk-one");
  CHECK(f.upstream.requests[1][bhttp::field::authorization] == "Bearer sk-two");
  CHECK(f.upstream.requests[2][bhttp::field::authorization] == "Bearer sk-one");
}

TEST_CASE("HttpProvider without keys sends no credentials", "[http_provider]") {
  Fixture f;
  f.upstream.responses.push_back(response(200, R"({"id":"x","choices":[]})"));
  auto provider = f.provider({});
  auto result = f.call(provider, kBody, false);
  REQUIRE(result.has_value());
  CHECK_FALSE(result->usage.has_value());
  REQUIRE(f.upstream.requests.size() == 1);
  CHECK(f.upstream.requests[0].find(bhttp::field::authorization) == f.upstream.requests[0].end());
}

TEST_CASE("HttpProvider classifies non-2xx answers and malformed bodies", "[http_provider]") {
  Fixture f;
  const std::string bad_request = fixture("error_400.json");
  f.upstream.responses.push_back(response(400, bad_request));
  f.upstream.responses.push_back(response(429, fixture("error_429.json"), "Retry-After: 7\r\n"));
  f.upstream.responses.push_back(response(200, "<html>oops</html>"));
  auto provider = f.provider({"k"});

  auto rejected = f.call(provider, kBody, false);
  REQUIRE(rejected.has_error());
  CHECK(rejected.error().kind == FailureKind::kStatus);
  CHECK(rejected.error().status == 400);
  CHECK_FALSE(rejected.error().retryable);
  CHECK(rejected.error().body == bad_request);

  auto limited = f.call(provider, kBody, false);
  REQUIRE(limited.has_error());
  CHECK(limited.error().status == 429);
  CHECK(limited.error().retryable);
  REQUIRE(limited.error().retry_after.has_value());
  CHECK(limited.error().retry_after->count() == 7);

  auto malformed = f.call(provider, kBody, false);
  REQUIRE(malformed.has_error());
  CHECK(malformed.error().kind == FailureKind::kProtocol);
  CHECK(malformed.error().retryable);
  CHECK(malformed.error().message == "upstream returned a malformed body");
}

TEST_CASE("HttpProvider turns a body it cannot encode into a non-retryable 400", "[http_provider]") {
  Fixture f;
  auto provider = f.provider({"k"});
  auto result = f.call(provider, json::array(), false);
  REQUIRE(result.has_error());
  CHECK(result.error().kind == FailureKind::kStatus);
  CHECK(result.error().status == 400);
  CHECK_FALSE(result.error().retryable);
  CHECK(json::parse(result.error().body)["error"]["type"] == "invalid_request_error");
  CHECK(f.upstream.requests.empty());
}

TEST_CASE("HttpProvider streams chunks byte-identical and pools the connection after [DONE]", "[http_provider][stream]") {
  Fixture f;
  const std::string transcript = fixture("stream.sse");
  f.upstream.responses.push_back(sse_response(transcript, 50));
  auto provider = f.provider({"k"});

  auto result = f.call(provider, kBody, true);
  REQUIRE(result.has_value());
  REQUIRE(result->is_stream());
  const Pulled pulled = pull_all(f.io, *result->stream);
  REQUIRE_FALSE(pulled.error.has_value());
  REQUIRE(pulled.chunks.size() == 6);
  CHECK(pulled.chunks[1].data.find(R"("delta":{"content":"Hello"})") != std::string::npos);
  CHECK(pulled.chunks[2].data.find(R"(caf\u00e9)") != std::string::npos);  // not re-serialized
  REQUIRE(pulled.chunks[5].usage.has_value());
  CHECK(pulled.chunks[5].usage->total_tokens == 29);
  CHECK(pulled.chunks[5].usage_only);
  CHECK(f.client.idle_connections() == 1);

  REQUIRE(f.upstream.requests.size() == 1);
  const auto& request = f.upstream.requests[0];
  CHECK(request[bhttp::field::accept] == "text/event-stream");
  const json sent = json::parse(request.body());
  CHECK(sent["stream"] == true);
  CHECK(sent["stream_options"]["include_usage"] == true);
}

TEST_CASE("HttpProvider reports a stream that ends before [DONE]", "[http_provider][stream]") {
  Fixture f;
  std::string transcript = fixture("stream.sse");
  transcript.resize(transcript.find("data: [DONE]"));
  f.upstream.responses.push_back(sse_response(transcript, 200));
  auto provider = f.provider({"k"});

  auto result = f.call(provider, kBody, true);
  REQUIRE(result.has_value());
  const Pulled pulled = pull_all(f.io, *result->stream);
  CHECK(pulled.chunks.size() == 6);  // every complete chunk is delivered first
  REQUIRE(pulled.error.has_value());
  CHECK(pulled.error->kind == ErrorKind::kUpstreamError);
  CHECK(pulled.error->message == "upstream stream ended before [DONE]");
}

TEST_CASE("HttpProvider reports an in-band stream error after the chunks before it", "[http_provider][stream]") {
  Fixture f;
  f.upstream.responses.push_back(sse_response(fixture("stream_error.sse"), 1000));
  auto provider = f.provider({"k"});
  auto result = f.call(provider, kBody, true);
  REQUIRE(result.has_value());
  const Pulled pulled = pull_all(f.io, *result->stream);
  CHECK(pulled.chunks.size() == 2);
  REQUIRE(pulled.error.has_value());
  CHECK(pulled.error->kind == ErrorKind::kUpstreamError);
  CHECK(pulled.error->message == "The server had an error while processing your request. Sorry about that!");
}

TEST_CASE("HttpProvider classifies a non-2xx stream head with its body", "[http_provider][stream]") {
  Fixture f;
  f.upstream.responses.push_back(response(503, "upstream overloaded", "Retry-After: 3\r\n"));
  auto provider = f.provider({"k"});
  auto result = f.call(provider, kBody, true);
  REQUIRE(result.has_error());
  CHECK(result.error().status == 503);
  CHECK(result.error().retryable);
  CHECK(result.error().retry_after == std::chrono::seconds{3});
  CHECK(json::parse(result.error().body)["error"]["message"] == "upstream overloaded");
}

TEST_CASE("ProviderRegistry builds one provider per configured provider", "[registry]") {
  asio::io_context io;
  UpstreamClient client(io.get_executor(), UpstreamClient::Options{});
  tollgate::config::Config config;
  config.providers = {{"openai", "openai", "", {"sk-x"}},
                      {"demo", "mock", "", {}},
                      {"claude", "anthropic", "", {"sk-ant"}},
                      {"g", "gemini", "", {}}};
  ProviderRegistry registry(config, client);

  const auto all = registry.all();
  REQUIRE(all.size() == 4);
  CHECK(all[0]->id() == "openai");
  CHECK(all[0]->type() == "openai");
  CHECK(all[1]->type() == "mock");
  CHECK(registry.find("demo") == all[1]);
  CHECK(registry.find("nope") == nullptr);

  const json body = {{"messages", json::array()}};
  auto mock = run(io, registry.find("demo")->call(UpstreamCall{body, "mock-1", false, "r", {}}));
  REQUIRE(mock.has_value());
  CHECK(json::parse(mock->body)["choices"][0]["message"]["content"] == "Hello from tollgate's mock provider.");

  CHECK(registry.find("claude")->type() == "anthropic");
  CHECK(registry.find("claude")->available());
  CHECK(registry.find("g")->type() == "gemini");
  CHECK(registry.find("g")->available());

  config.providers.push_back({"x", "bedrock", "", {}});
  CHECK_THROWS_AS(ProviderRegistry(config, client), tollgate::config::ConfigError);
}

TEST_CASE("HttpProvider embeds through POST /embeddings with a key; errors are classified", "[http_provider][embeddings]") {
  Fixture f;
  f.upstream.responses.push_back(response(
      200, R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,1e-3]}],)"
           R"("model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}})"));
  f.upstream.responses.push_back(response(429, R"({"error":{"message":"slow down","type":"requests","code":null}})"));
  f.upstream.responses.push_back(response(200, R"({"object":"list","data":[]})"));
  auto provider = f.provider({"sk-emb"});
  const auto embed = [&](std::optional<std::size_t> dimensions) {
    return run(f.io, provider.embed(tollgate::core::EmbeddingCall{"text-embedding-3-small", "hello world", dimensions, {}}));
  };

  auto ok = embed(3);
  REQUIRE(ok.has_value());
  CHECK(*ok == std::vector<float>{0.5f, -0.25f, 1e-3f});
  REQUIRE(f.upstream.requests.size() == 1);
  const auto& sent = f.upstream.requests[0];
  CHECK(sent.target() == "/v1/embeddings");
  CHECK(sent[bhttp::field::authorization] == "Bearer sk-emb");
  CHECK(json::parse(sent.body()) == json{{"model", "text-embedding-3-small"}, {"input", "hello world"},
                                         {"encoding_format", "float"}, {"dimensions", 3}});

  auto limited = embed(std::nullopt);
  REQUIRE_FALSE(limited.has_value());
  CHECK(limited.error().kind == FailureKind::kStatus);
  CHECK(limited.error().status == 429);
  CHECK_FALSE(json::parse(f.upstream.requests[1].body()).contains("dimensions"));

  auto empty = embed(3);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().kind == FailureKind::kProtocol);
}
