// AnthropicAdapter: encode, decode, classify and the stream decoder against Messages API wire bodies.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/anthropic/anthropic_adapter.hpp"
#include "adapters/sse_parser.hpp"
#include "support/fixtures.hpp"

using nlohmann::json;
using tollgate::adapters::AnthropicAdapter;
using tollgate::adapters::Endpoint;
using tollgate::adapters::SseEvent;
using tollgate::adapters::SseParser;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::FailureKind;
using tollgate::core::Headers;
using tollgate::core::UpstreamCall;

namespace {

std::string fixture(const std::string& name) { return tollgate::testing::read_fixture("anthropic/" + name); }

std::string header(const Headers& headers, const std::string& name) { return tollgate::testing::header_value(headers, name); }

UpstreamCall make_call(const json& body, bool stream) {
  return UpstreamCall{body, "claude-sonnet-4-5", stream, "req-1", {}};
}

json encode_ok(const json& body, bool stream = false) {
  AnthropicAdapter adapter;
  auto request = adapter.encode(make_call(body, stream), Endpoint{"https://api.anthropic.com", "sk-ant-test"});
  REQUIRE(request.has_value());
  return json::parse(request->body);
}

/// Replaces `created` (the decode time) by 0 after checking it is a plausible Unix time.
std::string without_created(const std::string& text) {
  nlohmann::ordered_json value = nlohmann::ordered_json::parse(text);
  REQUIRE(value["created"].is_number_integer());
  CHECK(value["created"].get<std::int64_t>() > 1'700'000'000);
  value["created"] = 0;
  return value.dump();
}

}  // namespace

TEST_CASE("encode: URL, headers, system, multi-turn and the max_tokens default", "[anthropic][encode]") {
  const json body = {{"model", "smart"},
                     {"messages",
                      {{{"role", "system"}, {"content", "Be brief."}},
                       {{"role", "user"}, {"content", "Hi"}},
                       {{"role", "assistant"}, {"content", "Hello!"}},
                       {{"role", "user"}, {"content", "Weather?"}}}},
                     {"temperature", 0.5},
                     {"top_p", 0.9},
                     {"stop", "END"},
                     {"user", "u-42"},
                     {"n", 1},
                     {"seed", 7},
                     {"stream_options", {{"include_usage", true}}}};
  AnthropicAdapter adapter;
  for (const char* base : {"https://api.anthropic.com", "https://api.anthropic.com/", "https://api.anthropic.com/v1"}) {
    auto request = adapter.encode(make_call(body, false), Endpoint{base, "sk-ant-test"});
    REQUIRE(request.has_value());
    CHECK(request->url == "https://api.anthropic.com/v1/messages");
    CHECK(request->method == "POST");
    CHECK(header(request->headers, "x-api-key") == "sk-ant-test");
    CHECK(header(request->headers, "anthropic-version") == "2023-06-01");
    CHECK(header(request->headers, "content-type") == "application/json");
    CHECK(header(request->headers, "authorization") == "<absent>");
    CHECK(header(request->headers, "accept") == "<absent>");
    CHECK(request->body ==
          R"({"model":"claude-sonnet-4-5","max_tokens":4096,"system":"Be brief.","messages":[)"
          R"({"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"Weather?"}],)"
          R"("stop_sequences":["END"],"temperature":0.5,"top_p":0.9,"metadata":{"user_id":"u-42"}})");
  }
}

TEST_CASE("encode: stream flag, no key, max_completion_tokens and several system parts", "[anthropic][encode]") {
  const json body = {{"model", "m"},
                     {"stream", true},
                     {"max_tokens", 100},
                     {"max_completion_tokens", 200},
                     {"stop", {"a", "b"}},
                     {"messages",
                      {{{"role", "developer"}, {"content", {{{"type", "text"}, {"text", "One."}}, {{"type", "text"}, {"text", "Two."}}}}},
                       {{"role", "user"}, {"content", "Hi"}}}}};
  AnthropicAdapter adapter;
  auto request = adapter.encode(make_call(body, true), Endpoint{"http://127.0.0.1:9000", ""});
  REQUIRE(request.has_value());
  CHECK(request->url == "http://127.0.0.1:9000/v1/messages");
  CHECK(header(request->headers, "x-api-key") == "<absent>");
  CHECK(header(request->headers, "accept") == "text/event-stream");
  CHECK(json::parse(request->body) ==
        json::parse(R"({"model":"claude-sonnet-4-5","max_tokens":200,
          "system":[{"type":"text","text":"One."},{"type":"text","text":"Two."}],
          "messages":[{"role":"user","content":"Hi"}],"stop_sequences":["a","b"],"stream":true})"));

  // A unary attempt of a streaming body is sent unary.
  auto unary = adapter.encode(make_call(body, false), Endpoint{"http://127.0.0.1:9000", ""});
  REQUIRE(unary.has_value());
  CHECK_FALSE(json::parse(unary->body).contains("stream"));
}

TEST_CASE("encode: images by base64 and by URL", "[anthropic][encode]") {
  const json body = json::parse(R"({"model":"m","max_tokens":50,"messages":[{"role":"user","content":[
      {"type":"text","text":"Compare"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
      {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]})");
  CHECK(encode_ok(body)["messages"] == json::parse(R"([{"role":"user","content":[
      {"type":"text","text":"Compare"},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
      {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}])"));
}

TEST_CASE("encode: tools, tool_choice, assistant tool_calls and merged tool results", "[anthropic][encode]") {
  const json body = json::parse(R"({"model":"m","parallel_tool_calls":false,
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
              "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]},"strict":true}},
             {"type":"function","function":{"name":"get_time"}}],
    "tool_choice":{"type":"function","function":{"name":"get_weather"}},
    "messages":[{"role":"user","content":"Weather and time in SF?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"SF\"}"}},
        {"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":""}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"15 degrees"},
      {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"09:00"}]},
      {"role":"user","content":"Thanks"}]})");
  const json sent = encode_ok(body);
  CHECK(sent["tools"] == json::parse(R"([
      {"name":"get_weather","description":"Weather now",
       "input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},
      {"name":"get_time","input_schema":{"type":"object","properties":{}}}])"));
  CHECK(sent["tool_choice"] == json::parse(R"({"type":"tool","name":"get_weather","disable_parallel_tool_use":true})"));
  CHECK(sent["messages"] == json::parse(R"([
      {"role":"user","content":"Weather and time in SF?"},
      {"role":"assistant","content":[
        {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"SF"}},
        {"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":"15 degrees"},
        {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"09:00"}]}]},
      {"role":"user","content":"Thanks"}])"));

  json choices = body;
  choices.erase("parallel_tool_calls");
  choices["tool_choice"] = "required";
  CHECK(encode_ok(choices)["tool_choice"] == json{{"type", "any"}});
  choices["tool_choice"] = "auto";
  CHECK(encode_ok(choices)["tool_choice"] == json{{"type", "auto"}});
  choices["tool_choice"] = "none";
  CHECK(encode_ok(choices)["tool_choice"] == json{{"type", "none"}});
}

TEST_CASE("encode: parameters Anthropic cannot express are a 400 naming them", "[anthropic][encode]") {
  const json base = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
  struct Case {
    const char* field;
    json value;
    const char* param;
  };
  const std::vector<Case> cases = {
      {"temperature", 1.5, "temperature"},
      {"top_p", -0.1, "top_p"},
      {"n", 2, "n"},
      {"frequency_penalty", 0.5, "frequency_penalty"},
      {"presence_penalty", 1, "presence_penalty"},
      {"logprobs", true, "logprobs"},
      {"logit_bias", {{"50256", -100}}, "logit_bias"},
      {"response_format", {{"type", "xml"}}, "response_format.type"},
      {"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "array"}}}}}},
       "response_format.json_schema.schema"},
      {"reasoning_effort", "high", "reasoning_effort"},
      {"functions", json::array(), "functions"},
      {"max_tokens", 0, "max_tokens"},
      {"stop", 5, "stop"},
  };
  AnthropicAdapter adapter;
  for (const Case& c : cases) {
    json body = base;
    body[c.field] = c.value;
    auto request = adapter.encode(make_call(body, false), Endpoint{"https://api.anthropic.com", "k"});
    INFO(c.field);
    REQUIRE(request.has_error());
    CHECK(request.error().kind == ErrorKind::kInvalidRequest);
    CHECK(request.error().param == c.param);
  }
  SECTION("neutral values pass") {
    json body = base;
    body["n"] = 1;
    body["temperature"] = 1.0;
    body["frequency_penalty"] = 0;
    body["logprobs"] = false;
    body["response_format"] = {{"type", "text"}};
    body["top_p"] = nullptr;
    CHECK(encode_ok(body).size() == 4);  // model, max_tokens, messages, temperature
  }
  SECTION("bad messages name the part") {
    json body = base;
    body["messages"] = json::parse(R"([{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}])");
    auto request = adapter.encode(make_call(body, false), Endpoint{"https://api.anthropic.com", "k"});
    REQUIRE(request.has_error());
    CHECK(request.error().param == "messages[0].content[0].type");
    body["messages"] = json::parse(R"([{"role":"assistant","tool_calls":[{"id":"t","type":"function",
        "function":{"name":"f","arguments":"[1]"}}]}])");
    request = adapter.encode(make_call(body, false), Endpoint{"https://api.anthropic.com", "k"});
    REQUIRE(request.has_error());
    CHECK(request.error().param == "messages[0].tool_calls[0].function.arguments");
    body.erase("messages");
    request = adapter.encode(make_call(body, false), Endpoint{"https://api.anthropic.com", "k"});
    REQUIRE(request.has_error());
    CHECK(request.error().param == "messages");
  }
}

TEST_CASE("decode: text blocks joined, usage with cache reads and writes", "[anthropic][decode]") {
  AnthropicAdapter adapter;
  const json body = json::object();
  auto decoded = adapter.decode(fixture("message.json"), make_call(body, false));
  REQUIRE(decoded.has_value());
  CHECK(without_created(decoded->body) ==
        R"({"id":"msg_01XFDUDYJgAACzvnptvVoYEL","object":"chat.completion","created":0,)"
        R"("model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"message":{"role":"assistant",)"
        R"("content":"Hello! How can I help?"},"logprobs":null,"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":2160,"completion_tokens":9,"total_tokens":2169,)"
        R"("prompt_tokens_details":{"cached_tokens":2048}}})");
  REQUIRE(decoded->usage.has_value());
  CHECK(decoded->usage->prompt_tokens == 2160);
  CHECK(decoded->usage->completion_tokens == 9);
  CHECK(decoded->usage->total_tokens == 2169);
  CHECK(decoded->usage->cached_tokens == 2048);
  CHECK(decoded->usage->cache_creation_tokens == 100);
}

TEST_CASE("decode: tool_use blocks become tool_calls", "[anthropic][decode]") {
  AnthropicAdapter adapter;
  const json body = json::object();
  auto decoded = adapter.decode(fixture("message_tool_use.json"), make_call(body, false));
  REQUIRE(decoded.has_value());
  CHECK(without_created(decoded->body) ==
        R"({"id":"msg_01Aq9w938a90dw8q","object":"chat.completion","created":0,)"
        R"("model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"message":{"role":"assistant",)"
        R"("content":"I'll check the weather.","tool_calls":[)"
        R"({"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather",)"
        R"("arguments":"{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}},)"
        R"({"id":"toolu_01B","type":"function","function":{"name":"get_time","arguments":"{}"}}]},)"
        R"("logprobs":null,"finish_reason":"tool_calls"}],)"
        R"("usage":{"prompt_tokens":472,"completion_tokens":91,"total_tokens":563}})");
}

TEST_CASE("decode: stop reasons map to OpenAI finish reasons; malformed bodies are upstream errors",
          "[anthropic][decode]") {
  AnthropicAdapter adapter;
  const json body = json::object();
  const std::vector<std::pair<std::string, json>> reasons = {{"end_turn", "stop"},       {"stop_sequence", "stop"},
                                                             {"max_tokens", "length"},   {"tool_use", "tool_calls"},
                                                             {"refusal", "content_filter"}};
  for (const auto& [reason, expected] : reasons) {
    const std::string wire = R"({"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":")" +
                             reason + R"("})";
    auto decoded = adapter.decode(wire, make_call(body, false));
    REQUIRE(decoded.has_value());
    const json out = json::parse(decoded->body);
    CHECK(out["choices"][0]["finish_reason"] == expected);
    CHECK(out["choices"][0]["message"]["content"] == "");
    CHECK_FALSE(out.contains("usage"));
    CHECK_FALSE(decoded->usage.has_value());
  }
  for (const char* wire : {"<html>502</html>", "[1]", "", R"({"type":"error","error":{}})", R"({"type":"message"})"}) {
    auto decoded = adapter.decode(wire, make_call(body, false));
    REQUIRE(decoded.has_error());
    CHECK(decoded.error().kind == ErrorKind::kUpstreamError);
  }
}

TEST_CASE("classify: 529 overloaded_error is retryable, in OpenAI's shape", "[anthropic][classify]") {
  AnthropicAdapter adapter;
  auto error = adapter.classify(529, {}, fixture("error_overloaded.json"));
  CHECK(error.kind == FailureKind::kStatus);
  CHECK(error.status == 529);
  CHECK(error.retryable);
  CHECK_FALSE(error.retry_after.has_value());
  CHECK(error.message == "upstream answered 529 (overloaded_error)");
  CHECK(error.body == R"({"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}})");
}

TEST_CASE("classify: 429 rate_limit_error is retryable with its Retry-After", "[anthropic][classify]") {
  AnthropicAdapter adapter;
  const Headers headers = {{"Retry-After", "17"}, {"anthropic-ratelimit-tokens-remaining", "0"}};
  auto error = adapter.classify(429, headers, fixture("error_rate_limit.json"));
  CHECK(error.retryable);
  REQUIRE(error.retry_after.has_value());
  CHECK(error.retry_after->count() == 17);
  CHECK(json::parse(error.body) == json::parse(R"({"error":{"message":
      "Number of request tokens has exceeded your per-minute rate limit","type":"rate_limit_error","param":null,"code":null}})"));
}

TEST_CASE("classify: 400 invalid_request_error is returned as is and flags a context overflow",
          "[anthropic][classify]") {
  AnthropicAdapter adapter;
  auto error = adapter.classify(400, {}, fixture("error_invalid.json"));
  CHECK_FALSE(error.retryable);
  CHECK(error.context_overflow);
  CHECK(error.body == R"({"error":{"message":"prompt is too long: 215000 tokens > 200000 maximum",)"
                      R"("type":"invalid_request_error","param":null,"code":null}})");
  auto other = adapter.classify(400, {}, R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})");
  CHECK_FALSE(other.context_overflow);
  auto html = adapter.classify(502, {}, "<html>Bad Gateway</html>");
  CHECK(html.retryable);
  CHECK(html.body == R"({"error":{"message":"<html>Bad Gateway</html>","type":"upstream_error","param":null,"code":null}})");
  auto empty = adapter.classify(503, {}, "");
  CHECK(json::parse(empty.body)["error"]["message"] == "upstream returned HTTP 503");
}

TEST_CASE("the stream decoder turns the transcript into OpenAI chunks, split and CRLF alike", "[anthropic][stream]") {
  const std::string base = fixture("stream.sse");
  const std::string head = R"({"id":"msg_014p7gG3wDgGV9EUtLvnow3U","object":"chat.completion.chunk","created":0,)"
                           R"("model":"claude-sonnet-4-5-20250929",)";
  auto delta = [&head](const std::string& d, const std::string& finish = "null") {
    return head + R"("choices":[{"index":0,"delta":)" + d + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}";
  };
  const std::vector<std::string> expected = {
      delta(R"({"role":"assistant","content":""})"),
      delta(R"({"content":"Checking "})"),
      delta(R"({"content":"both."})"),
      delta(R"({"tool_calls":[{"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function",)"
            R"("function":{"name":"get_weather","arguments":""}}]})"),
      delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"location\": \"San Fra"}}]})"),
      delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"ncisco\"}"}}]})"),
      delta(R"({"tool_calls":[{"index":1,"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":""}}]})"),
      delta(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"PST\"}"}}]})"),
      delta("{}", R"("tool_calls")"),
      head + R"("choices":[],"usage":{"prompt_tokens":600,"completion_tokens":89,"total_tokens":689,)"
             R"("prompt_tokens_details":{"cached_tokens":128}}})",
  };

  for (const std::string& transcript : {base, tollgate::testing::with_crlf(base)}) {
    for (std::size_t piece : {std::size_t{5}, std::size_t{64}, transcript.size()}) {
      AnthropicAdapter adapter;
      const json body = json::object();
      auto decoder = adapter.stream_decoder(make_call(body, true));
      SseParser parser;
      std::vector<Chunk> chunks;
      for (std::size_t at = 0; at < transcript.size(); at += piece) {
        std::vector<SseEvent> events;
        REQUIRE(parser.feed(std::string_view(transcript).substr(at, piece), events));
        for (const SseEvent& event : events) REQUIRE(decoder->feed(event, chunks).has_value());
      }
      CHECK(decoder->done());
      REQUIRE(chunks.size() == expected.size());
      std::int64_t created = -1;
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        INFO("chunk " << i << " piece " << piece);
        const std::int64_t this_created = json::parse(chunks[i].data)["created"].get<std::int64_t>();
        if (created < 0) created = this_created;
        CHECK(this_created == created);
        CHECK(without_created(chunks[i].data) == expected[i]);
        CHECK(chunks[i].usage_only == (i + 1 == chunks.size()));
        CHECK(chunks[i].usage.has_value() == (i + 1 == chunks.size()));
      }
      const auto& usage = *chunks.back().usage;
      CHECK(usage.prompt_tokens == 600);
      CHECK(usage.completion_tokens == 89);
      CHECK(usage.total_tokens == 689);
      CHECK(usage.cached_tokens == 128);
      CHECK(usage.cache_creation_tokens == 0);

      // After the end, nothing more comes out.
      std::vector<Chunk> after;
      REQUIRE(decoder->feed(SseEvent{"content_block_delta", R"({"type":"content_block_delta","index":0,
          "delta":{"type":"text_delta","text":"late"}})", ""}, after).has_value());
      CHECK(after.empty());
    }
  }
}

TEST_CASE("the stream decoder reports an in-band error event after the chunks before it", "[anthropic][stream]") {
  AnthropicAdapter adapter;
  const json body = json::object();
  auto decoder = adapter.stream_decoder(make_call(body, true));
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(fixture("stream_error.sse"), events));
  REQUIRE(events.size() == 4);
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < 3; ++i) REQUIRE(decoder->feed(events[i], chunks).has_value());
  REQUIRE(chunks.size() == 2);
  CHECK(json::parse(chunks[1].data)["choices"][0]["delta"] == json{{"content", "Hi"}});
  auto failed = decoder->feed(events[3], chunks);
  REQUIRE(failed.has_error());
  CHECK(failed.error().kind == ErrorKind::kUpstreamError);
  CHECK(failed.error().message == "upstream stream error (overloaded_error): Overloaded");
  CHECK_FALSE(decoder->done());
}

TEST_CASE("the stream decoder: truncation leaves done() false; malformed known events fail", "[anthropic][stream]") {
  AnthropicAdapter adapter;
  const json body = json::object();
  const std::string full = fixture("stream.sse");
  const std::string truncated = full.substr(0, full.find("event: message_delta"));
  auto decoder = adapter.stream_decoder(make_call(body, true));
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(truncated, events));
  std::vector<Chunk> chunks;
  for (const SseEvent& event : events) REQUIRE(decoder->feed(event, chunks).has_value());
  CHECK(chunks.size() == 8);
  CHECK_FALSE(decoder->done());
  for (const Chunk& chunk : chunks) CHECK_FALSE(chunk.usage.has_value());

  auto fresh = adapter.stream_decoder(make_call(body, true));
  std::vector<Chunk> none;
  CHECK(fresh->feed(SseEvent{"ping", "", ""}, none).has_value());
  CHECK(fresh->feed(SseEvent{"", R"({"type":"ping"})", ""}, none).has_value());
  CHECK(fresh->feed(SseEvent{"mystery", "not json", ""}, none).has_value());
  CHECK(none.empty());
  auto malformed = fresh->feed(SseEvent{"content_block_delta", "{oops", ""}, none);
  REQUIRE(malformed.has_error());
  CHECK(malformed.error().kind == ErrorKind::kUpstreamError);
  auto orphan = fresh->feed(SseEvent{"content_block_delta",
      R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}})", ""}, none);
  REQUIRE(orphan.has_error());
}

TEST_CASE("encode: embeddings are refused with a 400 naming the model", "[anthropic][encode][embeddings]") {
  AnthropicAdapter adapter;
  const json body = {{"model", "e"}, {"input", "hello"}};
  auto request = adapter.encode(UpstreamCall{body, "claude-haiku-4-5", false, "r", {}, tollgate::core::Operation::kEmbeddings},
                                Endpoint{"https://api.anthropic.com", "k"});
  REQUIRE(request.has_error());
  CHECK(request.error().kind == ErrorKind::kInvalidRequest);
  CHECK(request.error().param == "model");
  CHECK(request.error().message ==
        "provider type 'anthropic' has no embeddings endpoint: route model 'claude-haiku-4-5' to an openai or gemini "
        "deployment for embeddings");
}

TEST_CASE("response_format json becomes one forced tool whose input is the answer", "[anthropic][json]") {
  const json schema = {{"type", "object"},
                       {"properties", {{"city", {{"type", "string"}}}}},
                       {"required", {"city"}}};
  const json body = {{"model", "smart"},
                     {"messages", {{{"role", "user"}, {"content", "Where?"}}}},
                     {"response_format", {{"type", "json_schema"},
                                          {"json_schema", {{"name", "place"}, {"strict", true}, {"schema", schema}}}}}};
  const json sent = encode_ok(body);
  CHECK(sent["tools"] == json::array({{{"name", "json_response"},
                                       {"description", "Respond with the answer as JSON matching this schema."},
                                       {"input_schema", schema}}}));
  CHECK(sent["tool_choice"] == json{{"type", "tool"}, {"name", "json_response"}});
  json object_body = body;
  object_body["response_format"] = {{"type", "json_object"}};
  CHECK(encode_ok(object_body)["tools"][0]["input_schema"] == json{{"type", "object"}});

  // Not with the client's own tools: the forced tool would hide them.
  json with_tools = body;
  with_tools["tools"] = json::parse(R"([{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}])");
  AnthropicAdapter adapter;
  auto refused = adapter.encode(make_call(with_tools, false), Endpoint{"https://api.anthropic.com", "k"});
  REQUIRE(refused.has_error());
  CHECK(refused.error().param == "response_format");

  // The answer: the tool's input as content, finish_reason stop, no tool_calls.
  const std::string message =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[)"
      R"({"type":"tool_use","id":"toolu_1","name":"json_response","input":{"city":"Paris"}}],)"
      R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":9}})";
  auto decoded = adapter.decode(message, make_call(body, false));
  REQUIRE(decoded.has_value());
  CHECK(without_created(decoded->body) ==
        R"({"id":"msg_1","object":"chat.completion","created":0,"model":"claude-sonnet-4-5","choices":[{"index":0,)"
        R"("message":{"role":"assistant","content":"{\"city\":\"Paris\"}"},"logprobs":null,"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}})");
  // Without a JSON response_format the same block is an ordinary tool call.
  const json plain = {{"messages", json::array()}};
  CHECK(json::parse(adapter.decode(message, make_call(plain, false))->body)["choices"][0]["finish_reason"] ==
        "tool_calls");

  // Streamed: the tool's argument pieces are content deltas.
  auto decoder = adapter.stream_decoder(make_call(body, true));
  std::vector<Chunk> chunks;
  for (const auto& [event, data] : std::vector<std::pair<std::string, std::string>>{
           {"message_start", R"({"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":20,"output_tokens":1}}})"},
           {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"json_response","input":{}}})"},
           {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}})"},
           {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}})"},
           {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
           {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}})"},
           {"message_stop", R"({"type":"message_stop"})"}}) {
    REQUIRE(decoder->feed(SseEvent{event, data, ""}, chunks).has_value());
  }
  REQUIRE(chunks.size() == 5);  // role, two content pieces, finish, usage
  std::string content;
  for (const auto& chunk : chunks) {
    const json value = json::parse(chunk.data);
    if (!value["choices"].empty() && value["choices"][0]["delta"].contains("content"))
      content += value["choices"][0]["delta"]["content"].get<std::string>();
    CHECK_FALSE((!value["choices"].empty() && value["choices"][0]["delta"].contains("tool_calls")));
  }
  CHECK(content == R"({"city": "Paris"})");
  CHECK(json::parse(chunks[3].data)["choices"][0]["finish_reason"] == "stop");
}
