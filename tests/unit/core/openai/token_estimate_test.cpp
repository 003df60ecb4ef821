// Token estimate: text, parts, images, tools and schemas, malformed bodies, and the output budget.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <limits>

#include "core/openai/token_estimate.hpp"

using namespace tollgate::core;
using nlohmann::json;

namespace {
std::int64_t estimate(std::string_view text) { return estimate_prompt_tokens(json::parse(text)); }
std::int64_t ceil4(std::size_t bytes) { return static_cast<std::int64_t>((bytes + 3) / 4); }
}  // namespace

TEST_CASE("string content counts 4 bytes a token, 4 per message and 3 for the reply", "[estimate]") {
  // 3 reply + 4 message + ceil(12 / 4)
  CHECK(estimate(R"({"messages":[{"role":"user","content":"hello world!"}]})") == 10);
  // 13 bytes round up to 4 tokens.
  CHECK(estimate(R"({"messages":[{"role":"user","content":"hello world!!"}]})") == 11);
  CHECK(estimate(R"({"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})") ==
        3 + 4 + 2 + 4 + 1);
  // Bytes, not characters: "é" is two.
  CHECK(estimate(R"({"messages":[{"role":"user","content":"éé"}]})") == 3 + 4 + 1);
  CHECK(estimate(R"({"messages":[{"role":"user","content":"ééé"}]})") == 3 + 4 + 2);
}

TEST_CASE("text parts count their text, image parts a fixed 765", "[estimate]") {
  CHECK(estimate(R"({"messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"text","text":"abcde"}]}]})") ==
        3 + 4 + 1 + 2);
  const std::string image = R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)" + std::string(40000, 'A') + R"("}})";
  CHECK(estimate(R"({"messages":[{"role":"user","content":[{"type":"text","text":"describe"},)" + image + "]}]}") ==
        3 + 4 + 2 + 765);
  CHECK(estimate(R"({"messages":[{"role":"user","content":[)" + image + "," + image + "]}]}") == 3 + 4 + 2 * 765);
}

TEST_CASE("names, tool calls and tool results count", "[estimate]") {
  const json calls = json::parse(R"([{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}])");
  json body = {{"messages",
                {{{"role", "user"}, {"content", "hi"}, {"name", "alice"}},
                 {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}},
                 {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny, 21 C"}}}}};
  CHECK(estimate_prompt_tokens(body) == 3 + (4 + 1 + 2) + (4 + ceil4(calls.dump().size())) + (4 + 3));
}

TEST_CASE("tools, functions and response_format add their JSON", "[estimate]") {
  json body = json::parse(R"({"messages":[{"role":"user","content":"hi"}]})");
  const auto plain = estimate_prompt_tokens(body);
  REQUIRE(plain == 8);
  const json tools = json::parse(
      R"([{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])");
  body["tools"] = tools;
  CHECK(estimate_prompt_tokens(body) == plain + ceil4(tools.dump().size()));
  const json format = json::parse(R"({"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"}}})");
  body["response_format"] = format;
  CHECK(estimate_prompt_tokens(body) == plain + ceil4(tools.dump().size()) + ceil4(format.dump().size()));
  json legacy = json::parse(R"({"messages":[{"role":"user","content":"hi"}],"functions":[{"name":"f"}]})");
  CHECK(estimate_prompt_tokens(legacy) == plain + ceil4(legacy["functions"].dump().size()));
}

TEST_CASE("empty and malformed bodies count what can be read", "[estimate]") {
  CHECK(estimate_prompt_tokens(json()) == 3);
  CHECK(estimate_prompt_tokens(json::array()) == 3);
  CHECK(estimate_prompt_tokens(json::object()) == 3);
  CHECK(estimate(R"({"messages":"hello"})") == 3);
  CHECK(estimate(R"({"messages":[1, null, {"content": 5}, {"content": [7, {"type": 3}, {"text": 9}]}]})") == 3 + 4 * 4);
  CHECK(estimate(R"({"messages":[{"role":"user"}, {"role":"user","content":"abcd"}], "tools": null})") == 3 + 4 + 4 + 1);
  // Built in code rather than parsed: invalid UTF-8 must not make the estimate throw.
  json odd = {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}, {"tools", {"\xff\xfe"}}};
  CHECK(estimate_prompt_tokens(odd) > 8);
}

TEST_CASE("requested_output_tokens prefers max_completion_tokens, then max_tokens", "[estimate]") {
  const auto requested = [](std::string_view text) { return requested_output_tokens(json::parse(text)); };
  CHECK(requested("{}") == 0);
  CHECK(requested(R"({"max_tokens":100})") == 100);
  CHECK(requested(R"({"max_completion_tokens":50})") == 50);
  CHECK(requested(R"({"max_completion_tokens":50,"max_tokens":100})") == 50);
  CHECK(requested(R"({"max_tokens":-1})") == 0);
  CHECK(requested(R"({"max_tokens":0})") == 0);
  CHECK(requested(R"({"max_tokens":1.5})") == 0);
  CHECK(requested(R"({"max_tokens":100.0})") == 0);
  CHECK(requested(R"({"max_tokens":"100"})") == 0);
  CHECK(requested(R"({"max_tokens":true})") == 0);
  CHECK(requested(R"({"max_tokens":null})") == 0);
  CHECK(requested(R"({"max_completion_tokens":-3,"max_tokens":7})") == 7);
  CHECK(requested(R"({"max_completion_tokens":"a lot","max_tokens":7})") == 7);
  CHECK(requested(R"({"max_tokens":18446744073709551615})") == std::numeric_limits<std::int64_t>::max());
  CHECK(requested_output_tokens(json()) == 0);
  CHECK(requested_output_tokens(json::array({1})) == 0);
}

TEST_CASE("an embeddings input counts 4 bytes a token per text and one per token id, no framing", "[estimate]") {
  CHECK(estimate_embedding_tokens(json{{"input", "abcdefghi"}}) == 3);
  CHECK(estimate_embedding_tokens(json{{"input", {"abcd", "abcde"}}}) == 1 + 2);
  CHECK(estimate_embedding_tokens(json{{"input", {1, 2, 3}}}) == 3);
  CHECK(estimate_embedding_tokens(json{{"input", {{1, 2}, {3}}}}) == 3);
  CHECK(estimate_embedding_tokens(json{{"model", "e"}}) == 0);
  CHECK(estimate_embedding_tokens(json{{"input", 5}}) == 0);
}
