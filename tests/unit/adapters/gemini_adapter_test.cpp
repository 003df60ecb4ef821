// GeminiAdapter: encode, decode, classify and the stream decoder against Gemini API wire bodies.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/gemini/gemini_adapter.hpp"
#include "adapters/sse_parser.hpp"
#include "support/fixtures.hpp"

using nlohmann::json;
using tollgate::adapters::Endpoint;
using tollgate::adapters::GeminiAdapter;
using tollgate::adapters::SseEvent;
using tollgate::adapters::SseParser;
using tollgate::adapters::StreamDecoder;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::FailureKind;
using tollgate::core::Headers;
using tollgate::core::UpstreamCall;

namespace {

constexpr const char* kBase = "https://generativelanguage.googleapis.com/v1beta";

std::string fixture(const std::string& name) { return tollgate::testing::read_fixture("gemini/" + name); }

std::string header(const Headers& headers, const std::string& name) { return tollgate::testing::header_value(headers, name); }

UpstreamCall make_call(const json& body, bool stream) {
  return UpstreamCall{body, "gemini-2.0-flash", stream, "req-1", {}};
}

json encode_ok(const json& body, bool stream = false) {
  GeminiAdapter adapter;
  auto request = adapter.encode(make_call(body, stream), Endpoint{kBase, "AIza-test"});
  REQUIRE(request.has_value());
  const json sent = json::parse(request->body, nullptr, false);
  REQUIRE(sent.is_object());
  return sent;
}

void check_refused(const json& body, const std::string& param, bool stream = false) {
  GeminiAdapter adapter;
  auto request = adapter.encode(make_call(body, stream), Endpoint{kBase, "k"});
  REQUIRE(request.has_error());
  CHECK(request.error().kind == ErrorKind::kInvalidRequest);
  CHECK(request.error().param == param);
}

/// The decoded body with `created` checked (it is the decode time) and then fixed to 0.
json decoded_json(const std::string& body) {
  json out = json::parse(body);
  REQUIRE(out["created"].is_number_integer());
  CHECK(out["created"].get<std::int64_t>() > 1700000000);
  out["created"] = 0;
  return out;
}

/// Feeds `transcript` through SseParser in `piece`-byte reads into a fresh decoder.
std::vector<Chunk> run_stream(const std::string& transcript, std::size_t piece, StreamDecoder& decoder) {
  SseParser parser;
  std::vector<Chunk> chunks;
  for (std::size_t at = 0; at < transcript.size(); at += piece) {
    std::vector<SseEvent> events;
    REQUIRE(parser.feed(std::string_view(transcript).substr(at, piece), events));
    for (const auto& event : events) REQUIRE(decoder.feed(event, chunks).has_value());
  }
  return chunks;
}

/// Chunks as JSON with the shared `created` checked and fixed to 0.
std::vector<json> chunk_json(const std::vector<Chunk>& chunks) {
  std::vector<json> out;
  for (const auto& chunk : chunks) {
    json value = json::parse(chunk.data);
    CHECK(value["created"] == json::parse(chunks.front().data)["created"]);
    value["created"] = 0;
    out.push_back(std::move(value));
  }
  return out;
}

json text_chunk(const std::string& id, const std::string& model, const json& delta, const json& finish) {
  return json{{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", 0},
              {"model", model},
              {"choices", {{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}}}}};
}

}  // namespace

TEST_CASE("encode: system, multi-turn, sampling and stop become a generateContent body", "[gemini][encode]") {
  const json body = {{"model", "smart"},
                     {"messages",
                      {{{"role", "system"}, {"content", "Be brief."}},
                       {{"role", "user"}, {"content", "Hi \"there\" caf\u00e9"}},
                       {{"role", "assistant"}, {"content", "Hello!"}},
                       {{"role", "developer"}, {"content", "Answer in English."}},
                       {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "And now?"}}}}}}},
                     {"temperature", 0.2},
                     {"top_p", 0.9},
                     {"max_tokens", 100},
                     {"stop", "END"},
                     {"seed", 7},
                     {"n", 1},
                     {"user", "u-1"},
                     {"stream_options", {{"include_usage", true}}}};
  GeminiAdapter adapter;
  auto request = adapter.encode(make_call(body, false), Endpoint{kBase, "AIza-test"});
  REQUIRE(request.has_value());
  CHECK(request->method == "POST");
  CHECK(request->url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent");
  CHECK(header(request->headers, "content-type") == "application/json");
  CHECK(header(request->headers, "x-goog-api-key") == "AIza-test");
  CHECK(header(request->headers, "authorization") == "<absent>");
  CHECK(header(request->headers, "accept") == "<absent>");
  const json expected = {
      {"systemInstruction", {{"parts", {{{"text", "Be brief."}}, {{"text", "Answer in English."}}}}}},
      {"contents",
       {{{"role", "user"}, {"parts", {{{"text", "Hi \"there\" caf\u00e9"}}}}},
        {{"role", "model"}, {"parts", {{{"text", "Hello!"}}}}},
        {{"role", "user"}, {"parts", {{{"text", "And now?"}}}}}}},
      {"generationConfig",
       {{"temperature", 0.2}, {"topP", 0.9}, {"maxOutputTokens", 100}, {"seed", 7}, {"stopSequences", {"END"}}}}};
  CHECK(json::parse(request->body) == expected);
}

TEST_CASE("encode: stream URL, bare host, no key, models/ prefix", "[gemini][encode]") {
  const json body = {{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "x"}}}}};
  GeminiAdapter adapter;
  auto streamed = adapter.encode(make_call(body, true), Endpoint{"https://generativelanguage.googleapis.com/v1beta/", "k"});
  REQUIRE(streamed.has_value());
  CHECK(streamed->url ==
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  CHECK(header(streamed->headers, "accept") == "text/event-stream");

  auto bare = adapter.encode(UpstreamCall{body, "models/gemini-2.5-pro", false, "r", {}},
                             Endpoint{"http://127.0.0.1:9000", ""});
  REQUIRE(bare.has_value());
  CHECK(bare->url == "http://127.0.0.1:9000/v1beta/models/gemini-2.5-pro:generateContent");
  CHECK(header(bare->headers, "x-goog-api-key") == "<absent>");
  CHECK(bare->headers.size() == 1);
  // No max_tokens: Gemini needs none, so no generationConfig at all.
  CHECK(json::parse(bare->body) == json{{"contents", {{{"role", "user"}, {"parts", {{{"text", "x"}}}}}}}});
}

TEST_CASE("encode: images and audio become inlineData / fileData parts", "[gemini][encode]") {
  const json body = {
      {"model", "m"},
      {"max_completion_tokens", 64},
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "What is this?"}},
           {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,iVBORw0KGgo="}, {"detail", "low"}}}},
           {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.jpg"}}}},
           {{"type", "input_audio"}, {"input_audio", {{"data", "UklGRg=="}, {"format", "wav"}}}}}}}}}};
  const json expected = {
      {"contents",
       {{{"role", "user"},
         {"parts",
          {{{"text", "What is this?"}},
           {{"inlineData", {{"mimeType", "image/png"}, {"data", "iVBORw0KGgo="}}}},
           {{"fileData", {{"fileUri", "https://example.com/cat.jpg"}}}},
           {{"inlineData", {{"mimeType", "audio/wav"}, {"data", "UklGRg=="}}}}}}}}},
      {"generationConfig", {{"maxOutputTokens", 64}}}};
  CHECK(encode_ok(body) == expected);
}

TEST_CASE("encode: tools, tool_choice, assistant calls and tool results mapped back by name", "[gemini][encode]") {
  const json body = {
      {"model", "m"},
      {"messages",
       {{{"role", "user"}, {"content", "Weather in Paris and Tokyo?"}},
        {{"role", "assistant"},
         {"content", nullptr},
         {"tool_calls",
          {{{"id", "call_0"},
            {"type", "function"},
            {"function", {{"name", "get_weather"}, {"arguments", "{\"location\":\"Paris\"}"}}}},
           {{"id", "call_1"},
            {"type", "function"},
            {"function", {{"name", "get_time"}, {"arguments", "{\"city\":\"Tokyo\"}"}}}}}}},
        {{"role", "tool"}, {"tool_call_id", "call_0"}, {"content", "{\"temp_c\":18}"}},
        {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "09:00"}}}},
      {"tools",
       {{{"type", "function"},
         {"function",
          {{"name", "get_weather"},
           {"description", "Current weather"},
           {"strict", true},
           {"parameters",
            {{"type", "object"},
             {"properties", {{"location", {{"type", "string"}}}}},
             {"required", {"location"}},
             {"additionalProperties", false}}}}}},
        {{"type", "function"},
         {"function", {{"name", "get_time"}, {"parameters", {{"type", "object"}, {"properties", json::object()}}}}}}}},
      {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
      {"parallel_tool_calls", true}};
  const json expected = {
      {"contents",
       {{{"role", "user"}, {"parts", {{{"text", "Weather in Paris and Tokyo?"}}}}},
        {{"role", "model"},
         {"parts",
          {{{"functionCall", {{"name", "get_weather"}, {"args", {{"location", "Paris"}}}}}},
           {{"functionCall", {{"name", "get_time"}, {"args", {{"city", "Tokyo"}}}}}}}}},
        {{"role", "user"},
         {"parts",
          {{{"functionResponse", {{"name", "get_weather"}, {"response", {{"temp_c", 18}}}}}},
           {{"functionResponse", {{"name", "get_time"}, {"response", {{"result", "09:00"}}}}}}}}}}},
      {"tools",
       {{{"functionDeclarations",
          {{{"name", "get_weather"},
            {"description", "Current weather"},
            {"parameters",
             {{"type", "object"}, {"properties", {{"location", {{"type", "string"}}}}}, {"required", {"location"}}}}},
           {{"name", "get_time"}}}}}}},
      {"toolConfig", {{"functionCallingConfig", {{"mode", "ANY"}, {"allowedFunctionNames", {"get_weather"}}}}}}};
  CHECK(encode_ok(body) == expected);

  json none = body;
  none["tool_choice"] = "none";
  CHECK(encode_ok(none)["toolConfig"] == json{{"functionCallingConfig", {{"mode", "NONE"}}}});
  none["tool_choice"] = "required";
  CHECK(encode_ok(none)["toolConfig"] == json{{"functionCallingConfig", {{"mode", "ANY"}}}});
}

TEST_CASE("encode: response_format json_schema becomes responseMimeType + responseSchema", "[gemini][encode]") {
  const json body = {{"model", "m"},
                     {"messages", {{{"role", "user"}, {"content", "x"}}}},
                     {"response_format",
                      {{"type", "json_schema"},
                       {"json_schema",
                        {{"name", "r"},
                         {"schema",
                          {{"type", "object"},
                           {"properties", {{"a", {{"type", "integer"}}}}},
                           {"additionalProperties", false}}}}}}}};
  CHECK(encode_ok(body)["generationConfig"] ==
        json{{"responseMimeType", "application/json"},
             {"responseSchema", {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}}}});
}

TEST_CASE("encode: parameters Gemini cannot express are 400s naming them", "[gemini][encode]") {
  const json base = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}};
  auto with = [&base](const std::string& key, const json& value) {
    json body = base;
    body[key] = value;
    return body;
  };
  check_refused(with("logit_bias", {{"50256", -100}}), "logit_bias");
  check_refused(with("parallel_tool_calls", false), "parallel_tool_calls");
  check_refused(with("logprobs", true), "logprobs");
  check_refused(with("top_logprobs", 2), "top_logprobs");
  check_refused(with("reasoning_effort", "low"), "reasoning_effort");
  check_refused(with("temperature", 2.5), "temperature");
  check_refused(with("temperature", "hot"), "temperature");
  check_refused(with("max_tokens", 0), "max_tokens");
  check_refused(with("stop", {"a", "b", "c", "d", "e", "f"}), "stop");
  check_refused(with("n", 2), "n", true);
  check_refused(with("tool_choice", "sometimes"), "tool_choice");
  check_refused(with("tools", {{{"type", "code_interpreter"}}}), "tools[0]");
  check_refused(json{{"model", "m"}}, "messages");
  check_refused(json{{"model", "m"}, {"messages", {{{"role", "tool"}, {"tool_call_id", "nope"}, {"content", "1"}}}}},
                "messages[0].tool_call_id");
  check_refused(json{{"model", "m"},
                     {"messages",
                      {{{"role", "assistant"},
                        {"tool_calls", {{{"id", "c"}, {"function", {{"name", "f"}, {"arguments", "[1]"}}}}}}}}}},
                "messages[0].tool_calls[0].function.arguments");
  check_refused(json{{"model", "m"},
                     {"messages", {{{"role", "user"}, {"content", {{{"type", "video"}, {"video", "x"}}}}}}}},
                "messages[0].content[0].type");

  // n: 2 on a unary call is candidateCount.
  CHECK(encode_ok(with("n", 2))["generationConfig"] == json{{"candidateCount", 2}});
  // A null optional field is the same as an absent one.
  CHECK_FALSE(encode_ok(with("logit_bias", nullptr)).contains("generationConfig"));

  GeminiAdapter adapter;
  const json array = json::array({1});
  auto not_object = adapter.encode(make_call(array, false), Endpoint{kBase, "k"});
  REQUIRE(not_object.has_error());
  CHECK(not_object.error().kind == ErrorKind::kInvalidRequest);
}

TEST_CASE("decode: a text answer with usage, cached and thinking tokens", "[gemini][decode]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto decoded = adapter.decode(fixture("generate_content.json"), make_call(body, false));
  REQUIRE(decoded.has_value());
  const json expected = {{"id", "chatcmpl-tTCwacuEBMvnitYP06qsgQY"},
                         {"object", "chat.completion"},
                         {"created", 0},
                         {"model", "gemini-2.5-flash"},
                         {"choices",
                          {{{"index", 0},
                            {"message", {{"role", "assistant"}, {"content", "Hello! \"Quoted\" caf\u00e9.\n"}}},
                            {"logprobs", nullptr},
                            {"finish_reason", "stop"}}}},
                         {"usage",
                          {{"prompt_tokens", 1117},
                           {"completion_tokens", 62},
                           {"total_tokens", 1179},
                           {"prompt_tokens_details", {{"cached_tokens", 1024}}},
                           {"completion_tokens_details", {{"reasoning_tokens", 50}}}}}};
  CHECK(decoded_json(decoded->body) == expected);
  // OpenAI's field order: id first, usage last.
  CHECK(decoded->body.rfind("{\"id\":\"chatcmpl-", 0) == 0);
  REQUIRE(decoded->usage.has_value());
  CHECK(decoded->usage->prompt_tokens == 1117);
  CHECK(decoded->usage->completion_tokens == 62);
  CHECK(decoded->usage->total_tokens == 1179);
  CHECK(decoded->usage->cached_tokens == 1024);
  CHECK(decoded->usage->reasoning_tokens == 50);
  CHECK_FALSE(decoded->usage->estimated);
}

TEST_CASE("decode: function calls get synthesised ids and finish_reason tool_calls", "[gemini][decode]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto decoded = adapter.decode(fixture("generate_content_tools.json"), make_call(body, false));
  REQUIRE(decoded.has_value());
  const json out = decoded_json(decoded->body);
  const json expected_choice = {
      {"index", 0},
      {"message",
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         {{{"id", "call_0"},
           {"type", "function"},
           {"function", {{"name", "get_weather"}, {"arguments", "{\"location\":\"Paris\"}"}}}},
          {{"id", "call_1"},
           {"type", "function"},
           {"function", {{"name", "get_weather"}, {"arguments", "{\"location\":\"Tokyo\",\"unit\":\"celsius\"}"}}}}}}}},
      {"logprobs", nullptr},
      {"finish_reason", "tool_calls"}};
  CHECK(out["choices"] == json::array({expected_choice}));
  CHECK(out["usage"]["total_tokens"] == 110);
  CHECK(out["model"] == "gemini-2.0-flash");
}

TEST_CASE("decode: safety blocks and length stops are clear finish reasons", "[gemini][decode]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto blocked = adapter.decode(fixture("generate_content_blocked.json"), make_call(body, false));
  REQUIRE(blocked.has_value());
  const json out = decoded_json(blocked->body);
  CHECK(out["id"] == "chatcmpl-req-1");
  CHECK(out["choices"] == json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", nullptr}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", "content_filter"}}}));
  REQUIRE(blocked->usage.has_value());
  CHECK(blocked->usage->prompt_tokens == 8);
  CHECK(blocked->usage->completion_tokens == 0);

  for (const auto& [reason, expected] : std::vector<std::pair<std::string, std::string>>{
           {"MAX_TOKENS", "length"}, {"SAFETY", "content_filter"}, {"RECITATION", "content_filter"},
           {"PROHIBITED_CONTENT", "content_filter"}, {"OTHER", "stop"}}) {
    const std::string wire = R"({"candidates":[{"content":{"parts":[{"text":"a"},{"text":"thinking","thought":true}],"role":"model"},"finishReason":")" +
                             reason + R"("}]})";
    auto decoded = adapter.decode(wire, make_call(body, false));
    REQUIRE(decoded.has_value());
    const json choice = json::parse(decoded->body)["choices"][0];
    CHECK(choice["finish_reason"] == expected);
    CHECK(choice["message"]["content"] == "a");
    CHECK_FALSE(decoded->usage.has_value());
    CHECK_FALSE(json::parse(decoded->body).contains("usage"));
  }
}

TEST_CASE("decode: several candidates are several choices", "[gemini][decode]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto decoded = adapter.decode(
      R"({"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"finishReason":"STOP","index":0},{"content":{"parts":[{"text":"B"}],"role":"model"},"finishReason":"MAX_TOKENS","index":1}]})",
      make_call(body, false));
  REQUIRE(decoded.has_value());
  const json choices = json::parse(decoded->body)["choices"];
  REQUIRE(choices.size() == 2);
  CHECK(choices[1]["index"] == 1);
  CHECK(choices[1]["message"]["content"] == "B");
  CHECK(choices[1]["finish_reason"] == "length");
}

TEST_CASE("decode: a body that is not a GenerateContentResponse is an upstream error", "[gemini][decode]") {
  const json body = json::object();
  GeminiAdapter adapter;
  for (const char* wire : {"<html>502</html>", "[1,2]", "", "{\"candidates\": ", "{}", R"({"candidates":[7]})"}) {
    auto decoded = adapter.decode(wire, make_call(body, false));
    REQUIRE(decoded.has_error());
    CHECK(decoded.error().kind == ErrorKind::kUpstreamError);
    CHECK(decoded.error().message == "upstream returned a malformed body");
  }
}

TEST_CASE("classify: a 400 keeps its status and is rewritten into OpenAI's shape", "[gemini][classify]") {
  GeminiAdapter adapter;
  const auto error = adapter.classify(400, {}, fixture("error_400.json"));
  CHECK(error.kind == FailureKind::kStatus);
  CHECK(error.status == 400);
  CHECK_FALSE(error.retryable);
  CHECK(error.message == "upstream answered 400");
  CHECK_FALSE(error.retry_after.has_value());
  CHECK_FALSE(error.context_overflow);
  CHECK(error.body ==
        R"({"error":{"message":"* GenerateContentRequest.contents: contents is not specified\n","type":"invalid_request_error","param":null,"code":"invalid_argument"}})");

  const auto overflow = adapter.classify(
      400, {},
      R"({"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})");
  CHECK(overflow.context_overflow);
  CHECK_FALSE(overflow.retryable);
}

TEST_CASE("classify: an invalid key is reported as 401 so the key leaves rotation", "[gemini][classify]") {
  GeminiAdapter adapter;
  const auto error = adapter.classify(400, {}, fixture("error_400_key.json"));
  CHECK(error.status == 401);
  CHECK_FALSE(error.retryable);
  CHECK(json::parse(error.body) == json{{"error",
                                         {{"message", "API key not valid. Please pass a valid API key."},
                                          {"type", "authentication_error"},
                                          {"param", nullptr},
                                          {"code", "invalid_api_key"}}}});
}

TEST_CASE("classify: a 429 is retryable with RetryInfo's delay unless Retry-After says otherwise", "[gemini][classify]") {
  GeminiAdapter adapter;
  const std::string wire = fixture("error_429.json");
  const auto error = adapter.classify(429, {}, wire);
  CHECK(error.retryable);
  REQUIRE(error.retry_after.has_value());
  CHECK(error.retry_after->count() == 37);
  const json body = json::parse(error.body);
  CHECK(body["error"]["type"] == "rate_limit_error");
  CHECK(body["error"]["code"] == "resource_exhausted");
  CHECK(body["error"]["message"] == "You exceeded your current quota, please check your plan and billing details.");

  const auto header_wins = adapter.classify(429, {{"Retry-After", "5"}}, wire);
  REQUIRE(header_wins.retry_after.has_value());
  CHECK(header_wins.retry_after->count() == 5);

  const auto fractional = adapter.classify(
      429, {},
      R"([{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.2s"}]}}])");
  REQUIRE(fractional.retry_after.has_value());
  CHECK(fractional.retry_after->count() == 2);
}

TEST_CASE("classify: 5xx are retryable; a non-Google body is wrapped", "[gemini][classify]") {
  GeminiAdapter adapter;
  const auto empty = adapter.classify(503, {}, "");
  CHECK(empty.retryable);
  CHECK(json::parse(empty.body) == json{{"error",
                                         {{"message", "upstream returned HTTP 503"},
                                          {"type", "upstream_error"},
                                          {"param", nullptr},
                                          {"code", nullptr}}}});
  const auto html = adapter.classify(502, {}, "<html>Bad Gateway</html>");
  CHECK(html.retryable);
  CHECK(json::parse(html.body)["error"]["message"] == "<html>Bad Gateway</html>");
  const auto not_found = adapter.classify(
      404, {}, R"({"error":{"code":404,"message":"models/nope is not found","status":"NOT_FOUND"}})");
  CHECK_FALSE(not_found.retryable);
  CHECK(json::parse(not_found.body)["error"]["code"] == "not_found");
}

TEST_CASE("stream: text deltas, a finish chunk and a usage chunk, in pieces and with CRLF", "[gemini][stream]") {
  const json body = json::object();
  GeminiAdapter adapter;
  const std::string id = "chatcmpl-tTCwacuEBMvnitYP06qsgQY";
  const std::string model = "gemini-2.0-flash";
  const std::vector<json> expected = {
      text_chunk(id, model, {{"role", "assistant"}, {"content", ""}}, nullptr),
      text_chunk(id, model, {{"content", "Hello"}}, nullptr),
      text_chunk(id, model, {{"content", "! \"Quoted\" caf\u00e9"}}, nullptr),
      text_chunk(id, model, {{"content", " How can I help?"}}, nullptr),
      text_chunk(id, model, json::object(), "stop"),
      json{{"id", id},
           {"object", "chat.completion.chunk"},
           {"created", 0},
           {"model", model},
           {"choices", json::array()},
           {"usage",
            {{"prompt_tokens", 9},
             {"completion_tokens", 10},
             {"total_tokens", 19},
             {"prompt_tokens_details", {{"cached_tokens", 0}}},
             {"completion_tokens_details", {{"reasoning_tokens", 0}}}}}}};
  for (const std::string& transcript : {fixture("stream.sse"), tollgate::testing::with_crlf(fixture("stream.sse"))}) {
    for (std::size_t piece : {std::size_t{7}, std::size_t{1}, transcript.size()}) {
      auto decoder = adapter.stream_decoder(make_call(body, true));
      const auto chunks = run_stream(transcript, piece, *decoder);
      CHECK(decoder->done());
      CHECK(chunk_json(chunks) == expected);
      REQUIRE(chunks.size() == 6);
      for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
        CHECK_FALSE(chunks[i].usage.has_value());
        CHECK_FALSE(chunks[i].usage_only);
      }
      REQUIRE(chunks.back().usage.has_value());
      CHECK(chunks.back().usage->prompt_tokens == 9);
      CHECK(chunks.back().usage->completion_tokens == 10);
      CHECK(chunks.back().usage->total_tokens == 19);
      CHECK(chunks.back().usage_only);
    }
  }
}

TEST_CASE("stream: parallel function calls with indexes, pings and unknown events ignored", "[gemini][stream]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto decoder = adapter.stream_decoder(make_call(body, true));
  const auto chunks = run_stream(fixture("stream_tools.sse"), 5, *decoder);
  CHECK(decoder->done());
  const std::string id = "chatcmpl-Pz3UZ9ivBMqf1MkP5t6T4Ac";
  const std::string model = "gemini-2.5-flash";
  const std::vector<json> expected = {
      text_chunk(id, model, {{"role", "assistant"}, {"content", ""}}, nullptr),
      text_chunk(id, model, {{"content", "Checking both cities."}}, nullptr),
      text_chunk(id, model,
                 {{"tool_calls",
                   {{{"index", 0},
                     {"id", "call_0"},
                     {"type", "function"},
                     {"function", {{"name", "get_weather"}, {"arguments", "{\"location\":\"Paris\"}"}}}}}}},
                 nullptr),
      text_chunk(id, model,
                 {{"tool_calls",
                   {{{"index", 1},
                     {"id", "call_1"},
                     {"type", "function"},
                     {"function",
                      {{"name", "get_weather"}, {"arguments", "{\"location\":\"Tokyo\",\"unit\":\"celsius\"}"}}}}}}},
                 nullptr),
      text_chunk(id, model, json::object(), "tool_calls"),
      json{{"id", id},
           {"object", "chat.completion.chunk"},
           {"created", 0},
           {"model", model},
           {"choices", json::array()},
           {"usage",
            {{"prompt_tokens", 74},
             {"completion_tokens", 76},
             {"total_tokens", 150},
             {"prompt_tokens_details", {{"cached_tokens", 0}}},
             {"completion_tokens_details", {{"reasoning_tokens", 40}}}}}}};
  CHECK(chunk_json(chunks) == expected);
  REQUIRE(chunks.back().usage.has_value());
  CHECK(chunks.back().usage->reasoning_tokens == 40);

  // Anything after the finishing event is ignored.
  std::vector<Chunk> after;
  REQUIRE(decoder->feed(SseEvent{"", R"({"candidates":[{"content":{"parts":[{"text":"late"}]}}]})", ""}, after)
              .has_value());
  CHECK(after.empty());
}

TEST_CASE("stream: an in-band error event fails after the chunks before it", "[gemini][stream]") {
  const json body = json::object();
  GeminiAdapter adapter;
  auto decoder = adapter.stream_decoder(make_call(body, true));
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(fixture("stream_error.sse"), events));
  REQUIRE(events.size() == 2);
  std::vector<Chunk> chunks;
  REQUIRE(decoder->feed(events[0], chunks).has_value());
  auto failed = decoder->feed(events[1], chunks);
  REQUIRE(failed.has_error());
  CHECK(failed.error().kind == ErrorKind::kUpstreamError);
  CHECK(failed.error().message == "The model is overloaded. Please try again later.");
  CHECK(chunks.size() == 2);
  CHECK(json::parse(chunks[1].data)["choices"][0]["delta"]["content"] == "Once upon");
  CHECK_FALSE(decoder->done());

  auto malformed = adapter.stream_decoder(make_call(body, true));
  std::vector<Chunk> none;
  auto broken = malformed->feed(SseEvent{"", "not json", ""}, none);
  REQUIRE(broken.has_error());
  CHECK(broken.error().kind == ErrorKind::kUpstreamError);
}

TEST_CASE("stream: truncation leaves done() false; a blocked prompt ends with content_filter", "[gemini][stream]") {
  const json body = json::object();
  GeminiAdapter adapter;
  const std::string transcript = fixture("stream.sse");
  // Everything but the last (finishing) event.
  const std::string cut = transcript.substr(0, transcript.rfind("data: "));
  auto truncated = adapter.stream_decoder(make_call(body, true));
  const auto partial = run_stream(cut, 11, *truncated);
  CHECK_FALSE(truncated->done());
  CHECK(partial.size() == 3);

  auto blocked = adapter.stream_decoder(make_call(body, true));
  std::vector<Chunk> chunks;
  REQUIRE(blocked
              ->feed(SseEvent{"", R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.0-flash"})", ""},
                     chunks)
              .has_value());
  CHECK(blocked->done());
  REQUIRE(chunks.size() == 3);
  CHECK(json::parse(chunks[0].data)["id"] == "chatcmpl-req-1");
  CHECK(json::parse(chunks[1].data)["choices"][0]["finish_reason"] == "content_filter");
  CHECK(chunks[2].usage_only);
  CHECK(chunks[2].usage->prompt_tokens == 8);
}

// ---------------------------------------------------------------------------------------------
// embeddings

namespace {
UpstreamCall embeddings_call(const json& body) {
  return UpstreamCall{body, "gemini-embedding-001", false, "req-1", {}, tollgate::core::Operation::kEmbeddings};
}
}  // namespace

TEST_CASE("embeddings: one string is an embedContent, an array a batchEmbedContents", "[gemini][embeddings]") {
  GeminiAdapter adapter;
  const json one = {{"model", "emb"}, {"input", "hello world"}, {"dimensions", 256}, {"user", "u1"}};
  auto single = adapter.encode(embeddings_call(one), Endpoint{"https://generativelanguage.googleapis.com", "AIza-k"});
  REQUIRE(single.has_value());
  CHECK(single->url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:embedContent");
  CHECK(single->body == R"({"content":{"parts":[{"text":"hello world"}]},"outputDimensionality":256})");
  CHECK(header(single->headers, "x-goog-api-key") == "AIza-k");

  const json many = {{"model", "emb"}, {"input", {"a", "b"}}, {"encoding_format", "base64"}};
  auto batch = adapter.encode(embeddings_call(many), Endpoint{kBase, ""});
  REQUIRE(batch.has_value());
  CHECK(batch->url == std::string(kBase) + "/models/gemini-embedding-001:batchEmbedContents");
  CHECK(batch->body == R"({"requests":[{"content":{"parts":[{"text":"a"}]},"model":"models/gemini-embedding-001"},)"
                       R"({"content":{"parts":[{"text":"b"}]},"model":"models/gemini-embedding-001"}]})");
  CHECK(header(batch->headers, "x-goog-api-key") == "<absent>");
}

TEST_CASE("embeddings: token ids and fields Gemini cannot express are refused", "[gemini][embeddings]") {
  GeminiAdapter adapter;
  for (const json& body : {json{{"model", "e"}, {"input", {1, 2, 3}}}, json{{"model", "e"}, {"input", {{1, 2}}}}}) {
    auto request = adapter.encode(embeddings_call(body), Endpoint{kBase, "k"});
    REQUIRE(request.has_error());
    CHECK(request.error().param == "input");
    CHECK(request.error().message ==
          "provider type 'gemini' embeds text only: send 'input' as a string or an array of strings");
  }
  auto extra = adapter.encode(embeddings_call(json{{"model", "e"}, {"input", "x"}, {"task", "search"}}), Endpoint{kBase, "k"});
  REQUIRE(extra.has_error());
  CHECK(extra.error().param == "task");
}

TEST_CASE("embeddings: embedContent and batch answers become OpenAI's list, floats or base64", "[gemini][embeddings]") {
  GeminiAdapter adapter;
  const json floats = {{"model", "emb"}, {"input", "x"}};
  auto one = adapter.decode(R"({"embedding":{"values":[0.5,-0.25,0.125]}})", embeddings_call(floats));
  REQUIRE(one.has_value());
  // Gemini reports no tokens: the body shows tollgate's estimate (1 byte: 1 token), and the
  // decoded usage stays empty so the bill is marked estimated.
  CHECK(one->body == R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125]}],)"
                     R"("model":"gemini-embedding-001","usage":{"prompt_tokens":1,"total_tokens":1}})");
  CHECK_FALSE(one->usage.has_value());

  const json base64 = {{"model", "emb"}, {"input", {"a", "b"}}, {"encoding_format", "base64"}};
  auto batch = adapter.decode(R"({"embeddings":[{"values":[1.0,-2.0]},{"values":[0.5,-0.25,0.125]}]})",
                              embeddings_call(base64));
  REQUIRE(batch.has_value());
  CHECK(batch->body == R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="},)"
                       R"({"object":"embedding","index":1,"embedding":"AAAAPwAAgL4AAAA+"}],"model":"gemini-embedding-001",)"
                       R"("usage":{"prompt_tokens":2,"total_tokens":2}})");

  for (const char* bad : {R"({"candidates":[]})", R"({"embedding":{"values":["x"]}})", R"({"embeddings":[{"v":1}]})", "[]"}) {
    auto decoded = adapter.decode(bad, embeddings_call(floats));
    REQUIRE(decoded.has_error());
    CHECK(decoded.error().kind == ErrorKind::kUpstreamError);
  }
}

TEST_CASE("embeddings: the semantic embedder's single text goes through embedContent", "[gemini][embeddings]") {
  GeminiAdapter adapter;
  auto request = adapter.encode_embedding(
      tollgate::core::EmbeddingCall{"text-embedding-004", "what is tollgate", 64, {}}, Endpoint{kBase, "k"});
  REQUIRE(request.has_value());
  CHECK(request->url == std::string(kBase) + "/models/text-embedding-004:embedContent");
  CHECK(request->body == R"({"content":{"parts":[{"text":"what is tollgate"}]},"outputDimensionality":64})");
  auto vector = adapter.decode_embedding(R"({"embedding":{"values":[0.5,0.25]}})");
  REQUIRE(vector.has_value());
  CHECK(*vector == std::vector<float>{0.5f, 0.25f});
  CHECK(adapter.decode_embedding(R"({"embedding":{"values":[]}})").has_error());
}
