// OpenAiAdapter: encode, decode, classify and the stream decoder against real OpenAI wire bodies.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/openai/openai_adapter.hpp"
#include "adapters/sse_parser.hpp"
#include "support/fixtures.hpp"

using nlohmann::json;
using tollgate::adapters::Endpoint;
using tollgate::adapters::OpenAiAdapter;
using tollgate::adapters::SseEvent;
using tollgate::adapters::SseParser;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::FailureKind;
using tollgate::core::Headers;
using tollgate::core::UpstreamCall;

namespace {

std::string fixture(const std::string& name) { return tollgate::testing::read_fixture("openai/" + name); }

std::string header(const Headers& headers, const std::string& name) { return tollgate::testing::header_value(headers, name); }

/// The `data:` payloads of a transcript, as written on the wire (one line each in these fixtures).
std::vector<std::string> data_lines(const std::string& transcript) {
  std::vector<std::string> out;
  std::istringstream in(transcript);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  return out;
}

UpstreamCall make_call(const json& body, bool stream) {
  return UpstreamCall{body, "gpt-4o-2024-08-06", stream, "req-1", {}};
}

}  // namespace

TEST_CASE("encode replaces the model and forwards every other field untouched", "[openai][encode]") {
  const json body = {{"model", "smart"},
                     {"messages", {{{"role", "user"}, {"content", "Hi \"there\" caf\u00e9"}}}},
                     {"temperature", 0.2},
                     {"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", json::object()}}}}}},
                     {"x_vendor_extension", {{"nested", {1, 2, 3}}}}};
  OpenAiAdapter adapter;
  auto request = adapter.encode(make_call(body, false), Endpoint{"https://api.openai.com/v1", "sk-test-123"});
  REQUIRE(request.has_value());

  CHECK(request->method == "POST");
  CHECK(request->url == "https://api.openai.com/v1/chat/completions");
  json expected = body;
  expected["model"] = "gpt-4o-2024-08-06";
  const json sent = json::parse(request->body);
  CHECK(sent == expected);
  CHECK_FALSE(sent.contains("stream_options"));
  CHECK(header(request->headers, "content-type") == "application/json");
  CHECK(header(request->headers, "authorization") == "Bearer sk-test-123");
  CHECK(header(request->headers, "accept") == "<absent>");
}

TEST_CASE("encode sends no authorization without a key and tolerates a trailing slash", "[openai][encode]") {
  const json body = {{"model", "local"}, {"messages", json::array()}};
  OpenAiAdapter adapter;
  auto request = adapter.encode(make_call(body, false), Endpoint{"http://127.0.0.1:11434/v1/", ""});
  REQUIRE(request.has_value());
  CHECK(request->url == "http://127.0.0.1:11434/v1/chat/completions");
  CHECK(header(request->headers, "authorization") == "<absent>");
  CHECK(request->headers.size() == 1);
}

TEST_CASE("encode asks a stream for usage and keeps the other stream_options", "[openai][encode]") {
  OpenAiAdapter adapter;
  SECTION("existing stream_options are merged") {
    const json body = {{"model", "m"},
                       {"stream", true},
                       {"stream_options", {{"include_usage", false}, {"continuous_usage_stats", true}}},
                       {"messages", json::array()}};
    auto request = adapter.encode(make_call(body, true), Endpoint{"https://api.openai.com/v1", "k"});
    REQUIRE(request.has_value());
    const json sent = json::parse(request->body);
    CHECK(sent["stream"] == true);
    CHECK(sent["stream_options"] == json{{"include_usage", true}, {"continuous_usage_stats", true}});
    CHECK(sent["model"] == "gpt-4o-2024-08-06");
    CHECK(header(request->headers, "accept") == "text/event-stream");
  }
  SECTION("absent stream_options are added") {
    const json body = {{"model", "m"}, {"stream", true}, {"messages", json::array()}};
    auto request = adapter.encode(make_call(body, true), Endpoint{"https://api.openai.com/v1", "k"});
    REQUIRE(request.has_value());
    const json sent = json::parse(request->body);
    CHECK(sent["stream_options"] == json{{"include_usage", true}});
    CHECK(sent.size() == 4);
  }
  SECTION("a unary attempt of a streaming body is sent unary") {
    const json body = {{"model", "m"}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
    auto request = adapter.encode(make_call(body, false), Endpoint{"https://api.openai.com/v1", "k"});
    REQUIRE(request.has_value());
    const json sent = json::parse(request->body);
    CHECK(sent["stream"] == false);
    CHECK_FALSE(sent.contains("stream_options"));
  }
}

TEST_CASE("encode rejects a body that is not an object", "[openai][encode]") {
  OpenAiAdapter adapter;
  const json body = json::array({1, 2});
  auto request = adapter.encode(make_call(body, false), Endpoint{"https://api.openai.com/v1", "k"});
  REQUIRE(request.has_error());
  CHECK(request.error().kind == ErrorKind::kInvalidRequest);
}

TEST_CASE("decode passes the body byte-identical and reads usage", "[openai][decode]") {
  const std::string wire = fixture("chat_completion.json");
  const json body = json::object();
  OpenAiAdapter adapter;
  auto decoded = adapter.decode(wire, make_call(body, false));
  REQUIRE(decoded.has_value());
  CHECK(decoded->body == wire);  // \u escapes and indentation intact: never re-serialized
  REQUIRE(decoded->usage.has_value());
  CHECK(decoded->usage->prompt_tokens == 1117);
  CHECK(decoded->usage->completion_tokens == 12);
  CHECK(decoded->usage->total_tokens == 1129);
  CHECK(decoded->usage->cached_tokens == 1024);
  CHECK_FALSE(decoded->usage->estimated);
}

TEST_CASE("decode rejects a body that is not a JSON object", "[openai][decode]") {
  const json body = json::object();
  OpenAiAdapter adapter;
  for (const char* wire : {"<html><body>502 Bad Gateway</body></html>", "[1,2]", "", "{\"id\": "}) {
    auto decoded = adapter.decode(wire, make_call(body, false));
    REQUIRE(decoded.has_error());
    CHECK(decoded.error().kind == ErrorKind::kUpstreamError);
    CHECK(decoded.error().message == "upstream returned a malformed body");
  }
}

TEST_CASE("decode without usage leaves it unknown", "[openai][decode]") {
  const json body = json::object();
  OpenAiAdapter adapter;
  auto decoded = adapter.decode(R"({"id":"x","choices":[]})", make_call(body, false));
  REQUIRE(decoded.has_value());
  CHECK_FALSE(decoded->usage.has_value());
}

TEST_CASE("classify: a 400 is not retryable and its OpenAI body passes as is", "[openai][classify]") {
  const std::string wire = fixture("error_400.json");
  OpenAiAdapter adapter;
  const auto error = adapter.classify(400, {}, wire);
  CHECK(error.kind == FailureKind::kStatus);
  CHECK(error.status == 400);
  CHECK_FALSE(error.retryable);
  CHECK(error.body == wire);
  CHECK(error.message == "upstream answered 400");
  CHECK_FALSE(error.retry_after.has_value());
}

TEST_CASE("classify: a 429 is retryable with its Retry-After", "[openai][classify]") {
  const std::string wire = fixture("error_429.json");
  OpenAiAdapter adapter;
  const auto error = adapter.classify(429, {{"x-request-id", "abc"}, {"retry-after", "20"}}, wire);
  CHECK(error.retryable);
  CHECK(error.status == 429);
  REQUIRE(error.retry_after.has_value());
  CHECK(error.retry_after->count() == 20);
  CHECK(error.body == wire);

  const auto from_ms = adapter.classify(429, {{"Retry-After-Ms", "1500"}}, wire);
  REQUIRE(from_ms.retry_after.has_value());
  CHECK(from_ms.retry_after->count() == 2);

  const auto http_date = adapter.classify(429, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}, wire);
  CHECK_FALSE(http_date.retry_after.has_value());
}

TEST_CASE("classify: a 503 with an empty body is retryable and gets an OpenAI body", "[openai][classify]") {
  OpenAiAdapter adapter;
  const auto error = adapter.classify(503, {}, "");
  CHECK(error.retryable);
  CHECK(error.message == "upstream answered 503");
  const json body = json::parse(error.body);
  CHECK(body == json{{"error",
                      {{"message", "upstream returned HTTP 503"},
                       {"type", "upstream_error"},
                       {"param", nullptr},
                       {"code", nullptr}}}});
}

TEST_CASE("classify: an HTML error page is wrapped, cut to 512 bytes", "[openai][classify]") {
  OpenAiAdapter adapter;
  const std::string html = "<html><head><title>502 Bad Gateway</title></head></html>";
  const auto error = adapter.classify(502, {}, html);
  CHECK(error.retryable);
  const json body = json::parse(error.body);
  CHECK(body["error"]["message"] == html);
  CHECK(body["error"]["type"] == "upstream_error");
  CHECK(body["error"]["param"].is_null());
  CHECK(body["error"]["code"].is_null());

  // A JSON object that is not OpenAI's error shape is wrapped too.
  const auto detail = adapter.classify(404, {}, R"({"detail":"Not Found"})");
  CHECK_FALSE(detail.retryable);
  CHECK(json::parse(detail.body)["error"]["message"] == R"({"detail":"Not Found"})");

  // Long and not valid UTF-8 past the cut: the message is the first 512 bytes, still valid JSON.
  std::string long_page(600, 'x');
  long_page[100] = '\xff';
  const auto cut = adapter.classify(500, {}, long_page);
  const json cut_body = json::parse(cut.body);
  CHECK(cut_body["error"]["message"].get<std::string>().size() == 512 + 2);  // U+FFFD is 3 bytes
}

TEST_CASE("the stream decoder passes the transcript's chunks through byte-identical", "[openai][stream]") {
  const std::string transcript = fixture("stream.sse");
  const std::vector<std::string> lines = data_lines(transcript);
  REQUIRE(lines.size() == 7);
  REQUIRE(lines.back() == "[DONE]");

  const json body = json::object();
  OpenAiAdapter adapter;
  auto decoder = adapter.stream_decoder(make_call(body, true));
  SseParser parser;
  std::vector<Chunk> chunks;
  // Odd-sized pieces: events split across reads, as they come off a socket.
  for (std::size_t at = 0; at < transcript.size(); at += 7) {
    std::vector<SseEvent> events;
    REQUIRE(parser.feed(std::string_view(transcript).substr(at, 7), events));
    for (const auto& event : events) {
      REQUIRE_FALSE(decoder->done());
      REQUIRE(decoder->feed(event, chunks).has_value());
    }
  }
  CHECK(decoder->done());
  REQUIRE(chunks.size() == 6);
  for (std::size_t i = 0; i < chunks.size(); ++i) CHECK(chunks[i].data == lines[i]);
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    CHECK_FALSE(chunks[i].usage.has_value());  // "usage": null on content chunks
    CHECK_FALSE(chunks[i].usage_only);
  }
  const Chunk& last = chunks.back();
  REQUIRE(last.usage.has_value());
  CHECK(last.usage->prompt_tokens == 19);
  CHECK(last.usage->completion_tokens == 10);
  CHECK(last.usage->total_tokens == 29);
  CHECK(last.usage_only);

  // Anything after [DONE] is ignored.
  std::vector<Chunk> after;
  REQUIRE(decoder->feed(SseEvent{"", R"({"choices":[]})", ""}, after).has_value());
  CHECK(after.empty());
}

TEST_CASE("the stream decoder reports an in-band error after the chunks before it", "[openai][stream]") {
  const std::string transcript = fixture("stream_error.sse");
  const json body = json::object();
  OpenAiAdapter adapter;
  auto decoder = adapter.stream_decoder(make_call(body, true));
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(transcript, events));
  REQUIRE(events.size() == 3);

  std::vector<Chunk> chunks;
  REQUIRE(decoder->feed(events[0], chunks).has_value());
  REQUIRE(decoder->feed(events[1], chunks).has_value());
  auto failed = decoder->feed(events[2], chunks);
  REQUIRE(failed.has_error());
  CHECK(failed.error().kind == ErrorKind::kUpstreamError);
  CHECK(failed.error().message == "The server had an error while processing your request. Sorry about that!");
  CHECK(chunks.size() == 2);
  CHECK_FALSE(decoder->done());
}

TEST_CASE("the stream decoder skips empty events and splits usage off a chunk with choices", "[openai][stream]") {
  const json body = json::object();
  OpenAiAdapter adapter;
  auto decoder = adapter.stream_decoder(make_call(body, true));
  std::vector<Chunk> chunks;
  REQUIRE(decoder->feed(SseEvent{"", "", ""}, chunks).has_value());
  CHECK(chunks.empty());

  // vLLM's continuous_usage_stats: usage on a content chunk, split into the content and a
  // usage-only chunk as OpenAI sends it.
  const std::string data =
      R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}})";
  REQUIRE(decoder->feed(SseEvent{"", data, ""}, chunks).has_value());
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[0].data == R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})");
  CHECK_FALSE(chunks[0].usage.has_value());
  CHECK(chunks[1].data == R"({"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}})");
  REQUIRE(chunks[1].usage.has_value());
  CHECK(chunks[1].usage->total_tokens == 4);
  CHECK(chunks[1].usage_only);

  // Not JSON: the stream is broken.
  auto malformed = decoder->feed(SseEvent{"", "oops", ""}, chunks);
  REQUIRE(malformed.has_error());
  CHECK(malformed.error().kind == ErrorKind::kUpstreamError);
}

TEST_CASE("decode_embedding reads data[0].embedding and refuses anything else", "[openai][embeddings]") {
  const OpenAiAdapter adapter;
  auto ok = adapter.decode_embedding(
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,-2.5,0.125]}],"model":"m"})");
  REQUIRE(ok.has_value());
  CHECK(*ok == std::vector<float>{1.0f, -2.5f, 0.125f});
  for (const char* bad : {"", "[]", "{}", R"({"data":[]})", R"({"data":[{"embedding":[]}]})",
                          R"({"data":[{"embedding":[1,"2"]}]})", R"({"data":[7]})", R"({"data":{"embedding":[1]}})"}) {
    auto result = adapter.decode_embedding(bad);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorKind::kUpstreamError);
  }
}

TEST_CASE("encode_embedding posts to {base_url}/embeddings with the key", "[openai][embeddings]") {
  const OpenAiAdapter adapter;
  auto request = adapter.encode_embedding(tollgate::core::EmbeddingCall{"text-embedding-3-small", "hi there", 64, {}},
                                          Endpoint{"http://127.0.0.1:9/v1/", "sk-x"});
  REQUIRE(request.has_value());
  CHECK(request->url == "http://127.0.0.1:9/v1/embeddings");
  CHECK(header(request->headers, "authorization") == "Bearer sk-x");
  CHECK(json::parse(request->body) ==
        json{{"model", "text-embedding-3-small"}, {"input", "hi there"}, {"encoding_format", "float"}, {"dimensions", 64}});
  auto bad = adapter.encode_embedding(tollgate::core::EmbeddingCall{"m", "\xff\xfe", std::nullopt, {}}, Endpoint{"http://h/v1", ""});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().kind == ErrorKind::kInvalidRequest);
}

TEST_CASE("embeddings: floats answered to a base64 request are encoded as asked", "[openai][embeddings]") {
  const OpenAiAdapter adapter;
  const json asked = {{"model", "e"}, {"input", {"a", "b"}}, {"encoding_format", "base64"}};
  const UpstreamCall call{asked, "text-embedding-3-small", false, "r", {}, tollgate::core::Operation::kEmbeddings};
  auto decoded = adapter.decode(
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-2.0]},)"
      R"({"object":"embedding","index":1,"embedding":[0.5,-0.25,0.125]}],"model":"text-embedding-3-small",)"
      R"("usage":{"prompt_tokens":2,"total_tokens":2}})",
      call);
  REQUIRE(decoded.has_value());
  CHECK(decoded->body == R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="},)"
                         R"({"object":"embedding","index":1,"embedding":"AAAAPwAAgL4AAAA+"}],)"
                         R"("model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}})");
  REQUIRE(decoded->usage.has_value());
  CHECK(decoded->usage->prompt_tokens == 2);

  // Already base64, or floats asked for: the body passes byte for byte.
  const std::string base64 =
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}})";
  CHECK(adapter.decode(base64, call)->body == base64);
  const json floats = {{"model", "e"}, {"input", "a"}};
  const std::string plain = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]}],"model":"m"})";
  CHECK(adapter.decode(plain, UpstreamCall{floats, "m", false, "r", {}, tollgate::core::Operation::kEmbeddings})->body == plain);
}
