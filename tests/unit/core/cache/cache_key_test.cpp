// Cache key: field order, every answer-changing field, every ignored field, partitions, numbers, unicode.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cache/cache_key.hpp"
#include "core/security/tokens.hpp"

using namespace tollgate::core;
using nlohmann::json;

namespace {

constexpr std::string_view kModel = "gpt-4o-mini";
constexpr std::string_view kPartition = "key:vk_123";

// A request that sets every answer-changing field, so each can be changed (or removed) alone.
json full_request() {
  return json::parse(R"({
    "model": "gpt-4o-mini",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Weather in Paris?", "name": "alice"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}
    ],
    "tools": [{"type": "function", "function": {
      "name": "get_weather", "description": "Current weather",
      "parameters": {"type": "object",
                     "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                     "required": ["city"]}}}],
    "tool_choice": "auto",
    "response_format": {"type": "json_object"},
    "seed": 7,
    "temperature": 0.7,
    "top_p": 0.9,
    "max_tokens": 100,
    "max_completion_tokens": 100,
    "n": 1,
    "stop": ["\n\n"],
    "presence_penalty": 0.1,
    "frequency_penalty": 0.2,
    "logit_bias": {"50256": -100},
    "logprobs": true,
    "top_logprobs": 2,
    "parallel_tool_calls": true,
    "reasoning_effort": "low",
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "It is sunny."},
    "x_vendor_option": 1
  })");
}

std::string key_of(const json& body) { return cache_key(body, kModel, kPartition); }

struct Change {
  const char* field;
  const char* pointer;  // what to change, as a JSON pointer
  json value;           // its new value
};

std::vector<Change> answer_changes() {
  return {
      {"messages content", "/messages/1/content", "Weather in Lyon?"},
      {"messages content parts", "/messages/1/content", json::array({{{"type", "text"}, {"text", "Weather in Paris?"}}})},
      {"messages role", "/messages/0/role", "developer"},
      {"messages name", "/messages/1/name", "bob"},
      {"messages tool_calls", "/messages/2/tool_calls/0/function/arguments", R"({"city":"Lyon"})"},
      {"messages tool_call_id", "/messages/3/tool_call_id", "call_2"},
      {"tools", "/tools/0/function/parameters/properties/city/type", "integer"},
      {"tools description", "/tools/0/function/description", "Weather now"},
      {"tool_choice", "/tool_choice", "required"},
      {"response_format", "/response_format/type", "text"},
      {"seed", "/seed", 8},
      {"temperature", "/temperature", 0.8},
      {"top_p", "/top_p", 0.95},
      {"max_tokens", "/max_tokens", 101},
      {"max_completion_tokens", "/max_completion_tokens", 101},
      {"n", "/n", 2},
      {"stop", "/stop/0", "\n"},
      {"presence_penalty", "/presence_penalty", 0.3},
      {"frequency_penalty", "/frequency_penalty", 0.4},
      {"logit_bias", "/logit_bias/50256", -99},
      {"logprobs", "/logprobs", false},
      {"top_logprobs", "/top_logprobs", 3},
      {"parallel_tool_calls", "/parallel_tool_calls", false},
      {"reasoning_effort", "/reasoning_effort", "high"},
      {"modalities", "/modalities", json::array({"text"})},
      {"audio", "/audio/voice", "verse"},
      {"prediction", "/prediction/content", "It is raining."},
      {"an unknown field", "/x_vendor_option", 2},
  };
}

json changed(const Change& change) {
  const json::json_pointer pointer(change.pointer);
  auto body = full_request();
  body.at(pointer) = change.value;
  return body;
}

json without(const Change& change) {
  const json::json_pointer pointer(change.pointer);
  auto body = full_request();
  auto& parent = body.at(pointer.parent_pointer());
  if (parent.is_array())
    parent.erase(std::stoul(pointer.back()));
  else
    parent.erase(pointer.back());
  return body;
}

}  // namespace

TEST_CASE("a key is 64 lowercase hex digits and the same for the same request", "[cache_key]") {
  const auto key = key_of(full_request());
  CHECK(key.size() == 64);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(key_of(full_request()) == key);
}

TEST_CASE("the key is SHA-256 of the documented canonical text", "[cache_key]") {
  // Members sorted, ignored fields dropped, 1.0 written as 1, no whitespace; then model and partition.
  const auto body = json::parse(R"({"stream": true, "b": 1.0, "a": ["x\n", {"d": null, "c": false}], "model": "alias"})");
  const std::string expected_text =
      "tollgate.cache_key.v1\n"
      R"({"body":{"a":["x\n",{"c":false,"d":null}],"b":1},"model":"gpt-4o-mini","partition":"global"})";
  CHECK(cache_key(body, "gpt-4o-mini", "global") == sha256_hex(expected_text));
}

TEST_CASE("field order is irrelevant at the top level and nested", "[cache_key]") {
  SECTION("top level") {
    const auto a = json::parse(R"({"model":"m","temperature":0.5,"messages":[{"role":"user","content":"hi"}]})");
    const auto b = json::parse(R"({"messages":[{"content":"hi","role":"user"}],"temperature":0.5,"model":"m"})");
    CHECK(key_of(a) == key_of(b));
  }
  SECTION("inside tools[].function.parameters") {
    const auto a = json::parse(R"({"tools":[{"type":"function","function":{"name":"f","parameters":
      {"type":"object","properties":{"x":{"type":"string","description":"d"},"y":{"type":"integer"}},"required":["x"]}}}]})");
    const auto b = json::parse(R"({"tools":[{"function":{"parameters":
      {"required":["x"],"properties":{"y":{"type":"integer"},"x":{"description":"d","type":"string"}},"type":"object"},
      "name":"f"},"type":"function"}]})");
    CHECK(key_of(a) == key_of(b));
  }
  SECTION("inside response_format json_schema") {
    const auto a = json::parse(R"({"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,
      "schema":{"type":"object","properties":{"a":{"type":"number"}}}}}})");
    const auto b = json::parse(R"({"response_format":{"json_schema":{"schema":{"properties":{"a":{"type":"number"}},
      "type":"object"},"strict":true,"name":"s"},"type":"json_schema"}})");
    CHECK(key_of(a) == key_of(b));
  }
}

TEST_CASE("array order matters", "[cache_key]") {
  auto swapped_messages = full_request();
  std::swap(swapped_messages["messages"][0], swapped_messages["messages"][1]);
  CHECK(key_of(swapped_messages) != key_of(full_request()));

  auto swapped_stops = json{{"stop", {"a", "b"}}};
  CHECK(key_of(swapped_stops) != key_of(json{{"stop", {"b", "a"}}}));
}

TEST_CASE("every answer-changing field changes the key", "[cache_key]") {
  const auto base = key_of(full_request());
  for (const auto& change : answer_changes()) {
    DYNAMIC_SECTION(change.field) {
      REQUIRE(full_request().at(json::json_pointer(change.pointer)) != change.value);
      CHECK(key_of(changed(change)) != base);
      // Leaving the field out is a different request too.
      CHECK(key_of(without(change)) != base);
    }
  }
}

TEST_CASE("no two answer-changing edits give the same key", "[cache_key]") {
  std::set<std::string> keys{key_of(full_request())};
  for (const auto& change : answer_changes()) CHECK(keys.insert(key_of(changed(change))).second);
  CHECK(keys.size() == 1 + answer_changes().size());
}

TEST_CASE("adding an unknown field changes the key", "[cache_key]") {
  auto body = full_request();
  body["web_search_options"] = json::object();
  CHECK(key_of(body) != key_of(full_request()));
}

TEST_CASE("the ignored fields are the decided ones, each with a reason", "[cache_key]") {
  std::set<std::string> names;
  for (const auto& field : cache_ignored_fields()) {
    CHECK(names.insert(std::string(field.name)).second);
    CHECK(field.reason.size() > 20);
    CHECK(is_cache_ignored_field(field.name));
  }
  CHECK(names == std::set<std::string>{"model", "stream", "stream_options", "user", "safety_identifier",
                                       "prompt_cache_key", "prompt_cache_retention", "metadata", "store",
                                       "service_tier"});
  CHECK_FALSE(is_cache_ignored_field("temperature"));
  CHECK_FALSE(is_cache_ignored_field("Stream"));
}

TEST_CASE("each ignored field leaves the key unchanged", "[cache_key]") {
  const auto base = key_of(full_request());
  for (const auto& field : cache_ignored_fields()) {
    DYNAMIC_SECTION(field.name) {
      const std::string name(field.name);
      for (const json& value : {json("some-value"), json(true), json(42), json{{"include_usage", true}},
                                json{{"team", "a"}}, json(nullptr)}) {
        auto body = full_request();
        body[name] = value;
        CHECK(key_of(body) == base);
      }
      auto removed = full_request();
      removed.erase(name);
      CHECK(key_of(removed) == base);
    }
  }
}

TEST_CASE("ignored names are only ignored at the top level", "[cache_key]") {
  auto body = full_request();
  body["tools"][0]["function"]["parameters"]["properties"]["user"] = {{"type", "string"}};
  CHECK(key_of(body) != key_of(full_request()));

  auto message = full_request();
  message["messages"][1]["metadata"] = {{"k", "v"}};
  CHECK(key_of(message) != key_of(full_request()));
}

TEST_CASE("partitions and resolved models separate keys", "[cache_key]") {
  const auto body = full_request();
  SECTION("partition") {
    const std::set<std::string> keys{cache_key(body, kModel, "key:vk_1"), cache_key(body, kModel, "key:vk_2"),
                                     cache_key(body, kModel, "team:vk_1"), cache_key(body, kModel, "global"),
                                     cache_key(body, kModel, "")};
    CHECK(keys.size() == 5);
  }
  SECTION("resolved model") {
    CHECK(cache_key(body, "gpt-4o-mini", kPartition) != cache_key(body, "gpt-4o", kPartition));
    CHECK(cache_key(body, "smart", kPartition) != cache_key(body, "", kPartition));
  }
  SECTION("the body's model does not count, the resolved one does") {
    auto aliased = body;
    aliased["model"] = "my-alias";
    CHECK(cache_key(aliased, kModel, kPartition) == cache_key(body, kModel, kPartition));
  }
  SECTION("a value cannot leak from one part into another") {
    // The parts are quoted strings in a fixed structure, so shifting text between them changes the key.
    CHECK(cache_key(json::object(), "a\",\"partition\":\"b", "c") != cache_key(json::object(), "a", "b\",\"c"));
    CHECK(cache_key(json::object(), "ab", "c") != cache_key(json::object(), "a", "bc"));
  }
}

TEST_CASE("numbers: one spelling per value; integral values are integers", "[cache_key]") {
  const auto key_with = [](const char* field, const char* number) {
    return key_of(json::parse(std::string(R"({"messages":[],")") + field + "\":" + number + "}"));
  };
  SECTION("1, 1.0 and 1e0 are the same temperature") {
    CHECK(key_with("temperature", "1") == key_with("temperature", "1.0"));
    CHECK(key_with("temperature", "1") == key_with("temperature", "1e0"));
    CHECK(key_with("temperature", "1") == key_with("temperature", "10e-1"));
  }
  SECTION("0.7 and 0.70 are the same, 0.7 and 0.71 are not") {
    CHECK(key_with("temperature", "0.7") == key_with("temperature", "0.70"));
    CHECK(key_with("temperature", "0.7") == key_with("temperature", "7e-1"));
    CHECK(key_with("temperature", "0.7") != key_with("temperature", "0.71"));
    CHECK(key_with("temperature", "0.1") != key_with("temperature", "0.10000000000000002"));
  }
  SECTION("seed 7 and 7.0 are the same; -0.0 is 0") {
    CHECK(key_with("seed", "7") == key_with("seed", "7.0"));
    CHECK(key_with("seed", "-7") == key_with("seed", "-7.0"));
    CHECK(key_with("presence_penalty", "-0.0") == key_with("presence_penalty", "0"));
  }
  SECTION("large integers stay exact") {
    CHECK(key_with("seed", "9007199254740993") != key_with("seed", "9007199254740992"));
    CHECK(key_with("seed", "18446744073709551615") != key_with("seed", "18446744073709551614"));
    CHECK(key_with("seed", "-9223372036854775808") == key_with("seed", "-9223372036854775808.0"));
    CHECK(key_with("seed", "10000000000000000") == key_with("seed", "1e16"));
    CHECK(key_with("seed", "9223372036854775808") == key_with("seed", "9223372036854775808.0"));
  }
  SECTION("a number is not its string, a boolean or null") {
    const std::set<std::string> keys{key_with("n", "1"), key_with("n", "\"1\""), key_with("n", "true"),
                                     key_with("n", "null")};
    CHECK(keys.size() == 4);
  }
  SECTION("null is not the same as absent") {
    CHECK(key_with("temperature", "null") != key_of(json::parse(R"({"messages":[]})")));
  }
}

TEST_CASE("unicode strings give stable keys", "[cache_key]") {
  const auto raw = json::parse("{\"messages\":[{\"role\":\"user\",\"content\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\"}]}");
  const auto escaped = json::parse(R"({"messages":[{"role":"user","content":"h\u00e9llo \u4e16\u754c \ud83d\ude42"}]})");
  SECTION("\\u escapes and raw UTF-8 are the same text") { CHECK(key_of(raw) == key_of(escaped)); }
  SECTION("the key is the same on every build and run") {
    const std::string expected_text =
        "tollgate.cache_key.v1\n"
        "{\"body\":{\"messages\":[{\"content\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\","
        "\"role\":\"user\"}]},\"model\":\"gpt-4o-mini\",\"partition\":\"key:vk_123\"}";
    CHECK(key_of(raw) == sha256_hex(expected_text));
    CHECK(key_of(raw) == "ee448ec69ecf9864469bf5af321c05b4e1f1ccd091b7531e9a49cc693fd3848d");
  }
  SECTION("composed and decomposed forms are different text (no normalisation)") {
    const auto decomposed = json::parse(R"({"messages":[{"role":"user","content":"he\u0301llo \u4e16\u754c \ud83d\ude42"}]})");
    CHECK(key_of(decomposed) != key_of(raw));
  }
  SECTION("control characters and quotes are escaped one-to-one") {
    CHECK(key_of(json{{"stop", "\x01"}}) != key_of(json{{"stop", "\\u0001"}}));
    CHECK(key_of(json{{"stop", "a\"b"}}) != key_of(json{{"stop", "a\\\"b"}}));
  }
}

TEST_CASE("never throws for odd bodies", "[cache_key]") {
  SECTION("invalid UTF-8 built in code is hashed, distinctly") {
    const json a{{"messages", {{{"role", "user"}, {"content", std::string("\xFF\xFE")}}}}};
    const json b{{"messages", {{{"role", "user"}, {"content", std::string("\xFF\xFD")}}}}};
    std::string key_a;
    REQUIRE_NOTHROW(key_a = key_of(a));
    CHECK(key_a != key_of(b));
  }
  SECTION("non-finite numbers and binary values") {
    CHECK(key_of(json{{"temperature", std::numeric_limits<double>::quiet_NaN()}}) !=
          key_of(json{{"temperature", nullptr}}));
    CHECK(key_of(json{{"temperature", std::numeric_limits<double>::infinity()}}) !=
          key_of(json{{"temperature", -std::numeric_limits<double>::infinity()}}));
    CHECK(key_of(json{{"x", json::binary({1, 2})}}) != key_of(json{{"x", json::binary({1, 3})}}));
  }
  SECTION("a non-object body still gets a key") {
    CHECK(key_of(json::array()) != key_of(json::object()));
    CHECK(key_of(json(nullptr)).size() == 64);
  }
  SECTION("100,000 levels of nesting do not overflow the stack") {
    constexpr int kDepth = 100000;
    std::string text = "{\"messages\":";
    text.append(kDepth, '[');
    text.append(kDepth, ']');
    text += "}";
    const auto deep = json::parse(text, nullptr, false);
    REQUIRE_FALSE(deep.is_discarded());
    CHECK(key_of(deep).size() == 64);
    CHECK(key_of(deep) != key_of(json::parse(R"({"messages":[[]]})")));
  }
}
