// MockProvider: echo answers, truncation, OpenAI's chunk sequence and the scripted failures.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "adapters/mock/mock_provider.hpp"
#include "support/run.hpp"

using nlohmann::json;
using tollgate::adapters::MockProvider;
using tollgate::core::AttemptResult;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::FailureKind;
using tollgate::core::GatewayError;
using tollgate::core::UpstreamCall;

using tollgate::testing::pull_all;
using tollgate::testing::Pulled;
using tollgate::testing::run;

namespace {

AttemptResult call(MockProvider& provider, const json& body, std::string_view model, bool stream) {
  return run(provider.call(UpstreamCall{body, model, stream, "req-1", {}}));
}

json user_body(const std::string& text) {
  return {{"model", "mock-1"},
          {"messages", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", text}}}}};
}

}  // namespace

TEST_CASE("mock echoes the last user message as an OpenAI chat.completion", "[mock]") {
  MockProvider provider("mock");
  CHECK(provider.id() == "mock");
  CHECK(provider.type() == "mock");
  auto result = call(provider, user_body("Hi there friend"), "mock-1", false);
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->is_stream());
  CHECK(result->status == 200);

  const json body = json::parse(result->body);
  CHECK(body["id"].get<std::string>().rfind("chatcmpl-mock-", 0) == 0);
  CHECK(body["object"] == "chat.completion");
  CHECK(body["created"].is_number_integer());
  CHECK(body["model"] == "mock-1");
  CHECK(body["system_fingerprint"] == "fp_mock");
  REQUIRE(body["choices"].size() == 1);
  const json& choice = body["choices"][0];
  CHECK(choice["index"] == 0);
  CHECK(choice["message"] == json{{"role", "assistant"}, {"content", "Hi there friend"}, {"refusal", nullptr}});
  CHECK(choice["logprobs"].is_null());
  CHECK(choice["finish_reason"] == "stop");
  // "Be brief." (9) + "Hi there friend" (15) = 24 bytes → 6 prompt tokens; 3 words.
  CHECK(body["usage"] == json{{"prompt_tokens", 6}, {"completion_tokens", 3}, {"total_tokens", 9}});
  REQUIRE(result->usage.has_value());
  CHECK(result->usage->prompt_tokens == 6);
  CHECK(result->usage->completion_tokens == 3);
  CHECK(result->usage->total_tokens == 9);
}

TEST_CASE("mock ids count up per completion and created comes from the clock", "[mock]") {
  MockProvider provider("mock", std::make_shared<tollgate::core::ManualClock>());
  auto first = call(provider, user_body("a"), "mock-1", false);
  auto second = call(provider, user_body("a"), "mock-1", false);
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(json::parse(first->body)["id"] == "chatcmpl-mock-1");
  CHECK(json::parse(second->body)["id"] == "chatcmpl-mock-2");
  CHECK(json::parse(first->body)["created"] == 1'700'000'000);

  auto stream = call(provider, user_body("a"), "mock-1", true);
  REQUIRE(stream.has_value());
  auto chunk = run(stream->stream->next());
  REQUIRE(chunk.has_value());
  REQUIRE(chunk->has_value());
  const json first_chunk = json::parse((*chunk)->data);
  CHECK(first_chunk["id"] == "chatcmpl-mock-3");
  CHECK(first_chunk["created"] == 1'700'000'000);
}

TEST_CASE("mock reads text parts of an array content and defaults without a user message", "[mock]") {
  MockProvider provider;
  const json parts = {
      {"messages",
       {{{"role", "user"}, {"content", "earlier question"}},
        {{"role", "assistant"}, {"content", "earlier answer"}},
        {{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "first part"}},
           {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.png"}}}},
           {{"type", "text"}, {"text", "second"}}}}}}}};
  auto echoed = call(provider, parts, "mock-1", false);
  REQUIRE(echoed.has_value());
  const json body = json::parse(echoed->body);
  CHECK(body["choices"][0]["message"]["content"] == "first part\nsecond");
  // 16 + 14 + 10 + 6 = 46 bytes → 11 prompt tokens; "first ", "part\n", "second" → 3 words.
  CHECK(body["usage"]["prompt_tokens"] == 11);
  CHECK(body["usage"]["completion_tokens"] == 3);

  const json system_only = {{"messages", {{{"role", "system"}, {"content", "x"}}}}};
  auto fallback = call(provider, system_only, "mock-1", false);
  REQUIRE(fallback.has_value());
  const json fallback_body = json::parse(fallback->body);
  CHECK(fallback_body["choices"][0]["message"]["content"] == "Hello from tollgate's mock provider.");
  CHECK(fallback_body["usage"]["prompt_tokens"] == 1);  // never below 1
  CHECK(fallback_body["usage"]["completion_tokens"] == 5);
}

TEST_CASE("mock honours max_tokens and max_completion_tokens by words", "[mock]") {
  MockProvider provider;
  json body = user_body("one two three four five");
  body["max_tokens"] = 2;
  auto cut = call(provider, body, "mock-1", false);
  REQUIRE(cut.has_value());
  json answer = json::parse(cut->body);
  CHECK(answer["choices"][0]["message"]["content"] == "one two");
  CHECK(answer["choices"][0]["finish_reason"] == "length");
  CHECK(answer["usage"]["completion_tokens"] == 2);

  body["max_completion_tokens"] = 4;  // the newer parameter wins
  auto cut4 = call(provider, body, "mock-1", false);
  REQUIRE(cut4.has_value());
  answer = json::parse(cut4->body);
  CHECK(answer["choices"][0]["message"]["content"] == "one two three four");
  CHECK(answer["choices"][0]["finish_reason"] == "length");

  body["max_completion_tokens"] = 5;  // exactly enough: not cut
  auto whole = call(provider, body, "mock-1", false);
  REQUIRE(whole.has_value());
  answer = json::parse(whole->body);
  CHECK(answer["choices"][0]["message"]["content"] == "one two three four five");
  CHECK(answer["choices"][0]["finish_reason"] == "stop");
}

TEST_CASE("mock streams OpenAI's chunk sequence", "[mock][stream]") {
  MockProvider provider;
  auto result = call(provider, user_body("alpha beta  gamma"), "mock-stream", true);
  REQUIRE(result.has_value());
  REQUIRE(result->is_stream());
  CHECK(result->status == 200);
  CHECK(result->stream->ready());

  const Pulled pulled = pull_all(*result->stream);
  REQUIRE_FALSE(pulled.error.has_value());
  const auto& chunks = pulled.chunks;
  REQUIRE(chunks.size() == 6);  // role, 3 words, finish, usage

  std::vector<json> parsed;
  for (const auto& chunk : chunks) parsed.push_back(json::parse(chunk.data));
  const std::string id = parsed[0]["id"];
  CHECK(id.rfind("chatcmpl-mock-", 0) == 0);
  for (const auto& chunk : parsed) {
    CHECK(chunk["id"] == id);
    CHECK(chunk["object"] == "chat.completion.chunk");
    CHECK(chunk["created"] == parsed[0]["created"]);
    CHECK(chunk["model"] == "mock-stream");
    CHECK(chunk["system_fingerprint"] == "fp_mock");
  }
  CHECK(parsed[0]["choices"][0]["delta"] == json{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}});
  CHECK(parsed[0]["choices"][0]["finish_reason"].is_null());

  std::string content;
  for (int i = 1; i <= 3; ++i) {
    CHECK(parsed[i]["choices"][0]["index"] == 0);
    CHECK(parsed[i]["choices"][0]["finish_reason"].is_null());
    CHECK_FALSE(parsed[i].contains("usage"));
    CHECK_FALSE(chunks[i].usage.has_value());
    content += parsed[i]["choices"][0]["delta"]["content"].get<std::string>();
  }
  CHECK(parsed[1]["choices"][0]["delta"]["content"] == "alpha ");
  CHECK(parsed[2]["choices"][0]["delta"]["content"] == "beta  ");
  CHECK(content == "alpha beta  gamma");

  CHECK(parsed[4]["choices"][0]["delta"] == json::object());
  CHECK(parsed[4]["choices"][0]["finish_reason"] == "stop");
  CHECK_FALSE(chunks[4].usage_only);

  CHECK(parsed[5]["choices"] == json::array());
  // "Be brief." + "alpha beta  gamma" = 26 bytes → 6 prompt tokens.
  CHECK(parsed[5]["usage"] == json{{"prompt_tokens", 6}, {"completion_tokens", 3}, {"total_tokens", 9}});
  CHECK(chunks[5].usage_only);
  REQUIRE(chunks[5].usage.has_value());
  CHECK(chunks[5].usage->completion_tokens == 3);
  CHECK(chunks[5].usage->total_tokens == 9);
}

TEST_CASE("mock stream truncation ends with finish_reason length", "[mock][stream]") {
  MockProvider provider;
  json body = user_body("one two three");
  body["max_tokens"] = 1;
  auto result = call(provider, body, "mock-1", true);
  REQUIRE(result.has_value());
  const Pulled pulled = pull_all(*result->stream);
  REQUIRE(pulled.chunks.size() == 4);
  CHECK(json::parse(pulled.chunks[1].data)["choices"][0]["delta"]["content"] == "one");
  CHECK(json::parse(pulled.chunks[2].data)["choices"][0]["finish_reason"] == "length");
  CHECK(pulled.chunks[3].usage->completion_tokens == 1);
}

TEST_CASE("mock 'error' models fail with a retryable 500", "[mock][failures]") {
  MockProvider provider;
  for (bool stream : {false, true}) {
    auto result = call(provider, user_body("hi"), "mock-error", stream);
    REQUIRE(result.has_error());
    const auto error = result.error();
    CHECK(error.kind == FailureKind::kStatus);
    CHECK(error.status == 500);
    CHECK(error.retryable);
    const json body = json::parse(error.body);
    CHECK(body["error"]["message"] == "mock upstream error");
    CHECK(body["error"]["type"] == "server_error");
  }
}

TEST_CASE("mock '429' models are rate limited with Retry-After 1s", "[mock][failures]") {
  MockProvider provider;
  auto result = call(provider, user_body("hi"), "mock-429", false);
  REQUIRE(result.has_error());
  const auto error = result.error();
  CHECK(error.kind == FailureKind::kStatus);
  CHECK(error.status == 429);
  CHECK(error.retryable);
  REQUIRE(error.retry_after.has_value());
  CHECK(error.retry_after->count() == 1);
  CHECK(json::parse(error.body)["error"]["type"] == "rate_limit_error");
}

TEST_CASE("mock 'broken' models reset unary calls and break streams after two words", "[mock][failures]") {
  MockProvider provider;
  auto unary = call(provider, user_body("one two three four"), "mock-broken", false);
  REQUIRE(unary.has_error());
  CHECK(unary.error().kind == FailureKind::kConnect);
  CHECK(unary.error().retryable);
  CHECK(unary.error().message == "mock connection reset");

  auto stream = call(provider, user_body("one two three four"), "mock-broken", true);
  REQUIRE(stream.has_value());
  const Pulled pulled = pull_all(*stream->stream);
  REQUIRE(pulled.chunks.size() == 3);  // role, "one ", "two "
  CHECK(json::parse(pulled.chunks[2].data)["choices"][0]["delta"]["content"] == "two ");
  REQUIRE(pulled.error.has_value());
  CHECK(pulled.error->kind == ErrorKind::kUpstreamError);
  CHECK(pulled.error->message == "mock stream broken");
}

TEST_CASE("mock embeds each input as a deterministic unit vector in OpenAI's list", "[mock][embeddings]") {
  MockProvider provider;
  const json body = {{"model", "mock-embed"}, {"input", {"red apple", "red apple", "blue sky"}}, {"dimensions", 8}};
  auto result = run(provider.call(UpstreamCall{body, "mock-embed", false, "r", {}, tollgate::core::Operation::kEmbeddings}));
  REQUIRE(result.has_value());
  const json list = json::parse(result->body);
  CHECK(list["object"] == "list");
  CHECK(list["model"] == "mock-embed");
  REQUIRE(list["data"].size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(list["data"][i]["index"] == i);
    REQUIRE(list["data"][i]["embedding"].size() == 8);
    double norm = 0;
    for (const auto& v : list["data"][i]["embedding"]) norm += v.get<double>() * v.get<double>();
    CHECK(norm == Approx(1.0));
  }
  CHECK(list["data"][0]["embedding"] == list["data"][1]["embedding"]);
  CHECK(list["data"][0]["embedding"] != list["data"][2]["embedding"]);
  // "red apple" x2 and "blue sky": 3 + 3 + 2 tokens at 4 bytes a token.
  CHECK(list["usage"] == json{{"prompt_tokens", 8}, {"total_tokens", 8}});
  REQUIRE(result->usage.has_value());
  CHECK(result->usage->prompt_tokens == 8);
  CHECK(result->usage->completion_tokens == 0);

  const json base64 = {{"model", "m"}, {"input", "x"}, {"encoding_format", "base64"}};
  auto encoded = run(provider.call(UpstreamCall{base64, "mock-embed", false, "r", {}, tollgate::core::Operation::kEmbeddings}));
  REQUIRE(encoded.has_value());
  // 16 float32 values: 64 bytes, 88 base64 characters.
  CHECK(json::parse(encoded->body)["data"][0]["embedding"].get<std::string>().size() == 88);
}
