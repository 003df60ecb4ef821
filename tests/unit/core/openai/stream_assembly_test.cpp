// Stream assembly: OpenAI chunk transcripts into chat.completion bodies, bodies into chunks, round trips.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/openai/stream_assembly.hpp"

using namespace tollgate::core;
using Json = nlohmann::ordered_json;

namespace {

/// The text of `json` without insignificant whitespace, field order kept.
std::string compact(std::string_view json) { return Json::parse(json).dump(); }

/// A chat.completion.chunk of the plain-text stream below, as OpenAI sends it with include_usage.
std::string plain_chunk(std::string_view choice) {
  return R"({"id":"chatcmpl-C1xPlain","object":"chat.completion.chunk","created":1754000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_34a54ae93c",)"
         R"("choices":[)" + std::string(choice) + R"(],"usage":null,"obfuscation":"Xy1"})";
}

const char* const kUsage =
    R"({"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})";

std::vector<std::string> plain_transcript() {
  return {
      plain_chunk(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})"),
      plain_chunk(R"({"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null})"),
      plain_chunk(R"({"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null})"),
      plain_chunk(R"({"index":0,"delta":{"content":" How can I assist you today?"},"logprobs":null,"finish_reason":null})"),
      plain_chunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})"),
      R"({"id":"chatcmpl-C1xPlain","object":"chat.completion.chunk","created":1754000000,"model":"gpt-4o-mini-2024-07-18",)"
      R"("service_tier":"default","system_fingerprint":"fp_34a54ae93c","choices":[],"usage":)" + std::string(kUsage) +
          R"(,"obfuscation":"Q"})",
  };
}

const std::string kPlainBody =
    R"({"id":"chatcmpl-C1xPlain","object":"chat.completion","created":1754000000,"model":"gpt-4o-mini-2024-07-18",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null},)"
    R"("logprobs":null,"finish_reason":"stop"}],"usage":)" + std::string(kUsage) +
    R"(,"service_tier":"default","system_fingerprint":"fp_34a54ae93c"})";

std::string tools_chunk(std::string_view choice) {
  return R"({"id":"chatcmpl-C1xTools","object":"chat.completion.chunk","created":1754000100,"model":"gpt-4o-2024-08-06",)"
         R"("service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[)" + std::string(choice) + "]}";
}

std::vector<std::string> tools_transcript() {
  return {
      tools_chunk(R"({"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,)"
                  R"("id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}],)"
                  R"("refusal":null},"logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}}]},"logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"cation\":\"Paris, France\"}"}}]},)"
                  R"("logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_8mK2xV0pQeLh3TfWbRz9Yc1N","type":"function",)"
                  R"("function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"location\":"}}]},"logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"Bogotá, Colombia\"}"}}]},)"
                  R"("logprobs":null,"finish_reason":null})"),
      tools_chunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"})"),
  };
}

const std::string kToolsBody =
    R"({"id":"chatcmpl-C1xTools","object":"chat.completion","created":1754000100,"model":"gpt-4o-2024-08-06",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[)"
    R"({"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\"}"}},)"
    R"({"id":"call_8mK2xV0pQeLh3TfWbRz9Yc1N","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Bogotá, Colombia\"}"}}]},)"
    R"("logprobs":null,"finish_reason":"tool_calls"}],"service_tier":"default","system_fingerprint":"fp_07871e2ad8"})";

std::string n2_chunk(std::string_view choice) {
  return R"({"id":"chatcmpl-C1xTwo","object":"chat.completion.chunk","created":1754000200,"model":"gpt-4o-mini-2024-07-18",)"
         R"("system_fingerprint":"fp_34a54ae93c","choices":[)" + std::string(choice) + "]}";
}

std::vector<std::string> n2_transcript() {
  return {
      n2_chunk(R"({"index":1,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":0,"delta":{"content":"Red"},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":1,"delta":{"content":"Blue"},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":1,"delta":{"content":" sky"},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":0,"delta":{"content":" apple"},"logprobs":null,"finish_reason":null})"),
      n2_chunk(R"({"index":1,"delta":{},"logprobs":null,"finish_reason":"stop"})"),
      n2_chunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"length"})"),
  };
}

const std::string kN2Body =
    R"({"id":"chatcmpl-C1xTwo","object":"chat.completion","created":1754000200,"model":"gpt-4o-mini-2024-07-18","choices":[)"
    R"({"index":0,"message":{"role":"assistant","content":"Red apple","refusal":null},"logprobs":null,"finish_reason":"length"},)"
    R"({"index":1,"message":{"role":"assistant","content":"Blue sky","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
    R"("system_fingerprint":"fp_34a54ae93c"})";

std::string refusal_chunk(std::string_view choice) {
  return R"({"id":"chatcmpl-C1xNo","object":"chat.completion.chunk","created":1754000300,"model":"gpt-4o-2024-08-06",)"
         R"("service_tier":"default","system_fingerprint":"fp_a288987b44","choices":[)" + std::string(choice) + "]}";
}

std::vector<std::string> refusal_transcript() {
  return {
      refusal_chunk(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})"),
      refusal_chunk(R"({"index":0,"delta":{"refusal":"I'm sorry, I "},"logprobs":null,"finish_reason":null})"),
      refusal_chunk(R"({"index":0,"delta":{"refusal":"cannot assist with that request."},"logprobs":null,"finish_reason":null})"),
      refusal_chunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})"),
  };
}

const std::string kRefusalBody =
    R"({"id":"chatcmpl-C1xNo","object":"chat.completion","created":1754000300,"model":"gpt-4o-2024-08-06","choices":[)"
    R"({"index":0,"message":{"role":"assistant","content":null,"refusal":"I'm sorry, I cannot assist with that request."},)"
    R"("logprobs":null,"finish_reason":"stop"}],"service_tier":"default","system_fingerprint":"fp_a288987b44"})";

const char* const kHelloLogprob =
    R"({"token":"Hello","logprob":-0.31725305,"bytes":[72,101,108,108,111],"top_logprobs":[)"
    R"({"token":"Hello","logprob":-0.31725305,"bytes":[72,101,108,108,111]},{"token":"Hi","logprob":-1.3190403,"bytes":[72,105]}]})";
const char* const kBangLogprob =
    R"({"token":"!","logprob":-0.02380986,"bytes":[33],"top_logprobs":[)"
    R"({"token":"!","logprob":-0.02380986,"bytes":[33]},{"token":".","logprob":-3.787621,"bytes":[46]}]})";

std::string logprobs_chunk(std::string_view choice) {
  return R"({"id":"chatcmpl-C1xLp","object":"chat.completion.chunk","created":1754000400,"model":"gpt-4o-mini-2024-07-18",)"
         R"("system_fingerprint":"fp_34a54ae93c","choices":[)" + std::string(choice) + "]}";
}

std::vector<std::string> logprobs_transcript() {
  return {
      logprobs_chunk(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})"),
      logprobs_chunk(R"({"index":0,"delta":{"content":"Hello"},"logprobs":{"content":[)" + std::string(kHelloLogprob) +
                     R"(],"refusal":null},"finish_reason":null})"),
      logprobs_chunk(R"({"index":0,"delta":{"content":"!"},"logprobs":{"content":[)" + std::string(kBangLogprob) +
                     R"(],"refusal":null},"finish_reason":null})"),
      logprobs_chunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})"),
  };
}

const std::string kLogprobsBody =
    R"({"id":"chatcmpl-C1xLp","object":"chat.completion","created":1754000400,"model":"gpt-4o-mini-2024-07-18","choices":[)"
    R"({"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":{"content":[)" +
    std::string(kHelloLogprob) + "," + kBangLogprob +
    R"(],"refusal":null},"finish_reason":"stop"}],"system_fingerprint":"fp_34a54ae93c"})";

std::vector<std::string> data_of(const std::vector<SplitChunk>& chunks) {
  std::vector<std::string> out;
  for (const auto& chunk : chunks) out.push_back(chunk.data);
  return out;
}

/// split then assemble.
std::optional<std::string> round_trip(std::string_view body) {
  const auto chunks = split_completion(body);
  if (!chunks) return std::nullopt;
  return assemble_completion(data_of(*chunks));
}

}  // namespace

TEST_CASE("a plain text stream with a usage chunk assembles into OpenAI's chat.completion", "[stream_assembly]") {
  const auto body = assemble_completion(plain_transcript());
  REQUIRE(body);
  CHECK(*body == compact(kPlainBody));
}

TEST_CASE("two parallel tool calls streamed in pieces merge by index", "[stream_assembly]") {
  const auto body = assemble_completion(tools_transcript());
  REQUIRE(body);
  CHECK(*body == compact(kToolsBody));
}

TEST_CASE("n=2 interleaved choices come back sorted by index, each with its own finish_reason", "[stream_assembly]") {
  const auto body = assemble_completion(n2_transcript());
  REQUIRE(body);
  CHECK(*body == compact(kN2Body));
}

TEST_CASE("a streamed refusal becomes the message's refusal with null content", "[stream_assembly]") {
  const auto body = assemble_completion(refusal_transcript());
  REQUIRE(body);
  CHECK(*body == compact(kRefusalBody));
}

TEST_CASE("logprobs content arrays are concatenated across chunks", "[stream_assembly]") {
  const auto body = assemble_completion(logprobs_transcript());
  REQUIRE(body);
  CHECK(*body == compact(kLogprobsBody));
}

TEST_CASE("names repeated on every chunk by compatible servers are not doubled", "[stream_assembly]") {
  // vLLM- and Ollama-style: role, call id, type and function name sent again with each fragment.
  const std::vector<std::string> chunks = {
      R"({"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]},"finish_reason":null}]})",
      R"({"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"\"x\"}"}}]},"finish_reason":"tool_calls"}]})",
  };
  const auto body = assemble_completion(chunks);
  REQUIRE(body);
  CHECK(*body == compact(R"({"id":"cmpl-1","object":"chat.completion","created":1,"model":"llama3","choices":[{"index":0,)"
                         R"("message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
                         R"("function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]})"));
}

TEST_CASE("other delta text such as reasoning_content is concatenated in first-seen order", "[stream_assembly]") {
  const std::vector<std::string> chunks = {
      R"({"id":"r1","object":"chat.completion.chunk","created":7,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"r1","object":"chat.completion.chunk","created":7,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"2+2 "},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"r1","object":"chat.completion.chunk","created":7,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"is 4."},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"r1","object":"chat.completion.chunk","created":7,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"4"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11,"completion_tokens_details":{"reasoning_tokens":5}}})",
  };
  const auto body = assemble_completion(chunks);
  REQUIRE(body);
  CHECK(*body == compact(R"({"id":"r1","object":"chat.completion","created":7,"model":"deepseek-reasoner","choices":[{"index":0,)"
                         R"("message":{"role":"assistant","content":"4","reasoning_content":"2+2 is 4."},"logprobs":null,"finish_reason":"stop"}],)"
                         R"("usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11,"completion_tokens_details":{"reasoning_tokens":5}}})"));
}

TEST_CASE("a transcript that is not a stream of chunks assembles to nothing", "[stream_assembly]") {
  const std::string ok = R"({"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]})";
  CHECK(assemble_completion({ok}));  // the fixture itself is fine
  CHECK_FALSE(assemble_completion({}));
  CHECK_FALSE(assemble_completion({ok, "not json"}));
  CHECK_FALSE(assemble_completion({ok, "[DONE]"}));
  CHECK_FALSE(assemble_completion({ok, R"([1,2])"}));
  CHECK_FALSE(assemble_completion({ok, R"("chunk")"}));
  CHECK_FALSE(assemble_completion({ok, R"({"error":{"message":"upstream broke","type":"server_error"}})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":{"index":0}})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":["hi"]})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":[{"index":-1,"delta":{}}]})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":[{"index":"0","delta":{}}]})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":[{"index":0,"delta":"hi"}]})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":[{"index":0,"delta":{"tool_calls":{"index":0}}}]})"}));
  CHECK_FALSE(assemble_completion({ok, R"({"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1.5}]}}]})"}));
  // A usage chunk alone, or chunks with empty choices, carry no answer.
  CHECK_FALSE(assemble_completion({R"({"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}})"}));
}

TEST_CASE("a plain answer splits into OpenAI's chunk sequence with a final usage-only chunk", "[stream_assembly]") {
  const auto chunks = split_completion(kPlainBody);
  REQUIRE(chunks);
  const std::string head =
      R"({"id":"chatcmpl-C1xPlain","object":"chat.completion.chunk","created":1754000000,"model":"gpt-4o-mini-2024-07-18",)"
      R"("service_tier":"default","system_fingerprint":"fp_34a54ae93c",)";
  const std::vector<std::string> expected = {
      head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})",
      head + R"("choices":[{"index":0,"delta":{"content":"Hello! How can I assist you today?"},"logprobs":null,"finish_reason":null}]})",
      head + R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})",
      head + R"("choices":[],"usage":)" + compact(kUsage) + "}",
  };
  CHECK(data_of(*chunks) == expected);
  REQUIRE(chunks->size() == 4);
  CHECK_FALSE((*chunks)[0].usage_only);
  CHECK_FALSE((*chunks)[2].usage_only);
  CHECK((*chunks)[3].usage_only);
}

TEST_CASE("tool calls split into one chunk per call, and no usage chunk without usage", "[stream_assembly]") {
  const auto chunks = split_completion(kToolsBody);
  REQUIRE(chunks);
  const std::string head =
      R"({"id":"chatcmpl-C1xTools","object":"chat.completion.chunk","created":1754000100,"model":"gpt-4o-2024-08-06",)"
      R"("service_tier":"default","system_fingerprint":"fp_07871e2ad8",)";
  const std::vector<std::string> expected = {
      head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null}]})",
      head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function",)"
             R"("function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\"}"}}]},"logprobs":null,"finish_reason":null}]})",
      head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_8mK2xV0pQeLh3TfWbRz9Yc1N","type":"function",)"
             R"("function":{"name":"get_weather","arguments":"{\"location\":\"Bogotá, Colombia\"}"}}]},"logprobs":null,"finish_reason":null}]})",
      head + R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]})",
  };
  CHECK(data_of(*chunks) == expected);
  for (const auto& chunk : *chunks) CHECK_FALSE(chunk.usage_only);
}

TEST_CASE("each choice of an n=2 answer gets its own chunks, in body order", "[stream_assembly]") {
  const auto chunks = split_completion(kN2Body);
  REQUIRE(chunks);
  std::vector<std::string> deltas;
  for (const auto& chunk : *chunks) {
    const Json parsed = Json::parse(chunk.data);
    REQUIRE(parsed["choices"].size() == 1);
    deltas.push_back(std::to_string(parsed["choices"][0]["index"].get<int>()) + " " + parsed["choices"][0]["delta"].dump() +
                     " " + parsed["choices"][0]["finish_reason"].dump());
  }
  CHECK(deltas == std::vector<std::string>{
                      R"(0 {"role":"assistant","content":"","refusal":null} null)",
                      R"(0 {"content":"Red apple"} null)",
                      R"(0 {} "length")",
                      R"(1 {"role":"assistant","content":"","refusal":null} null)",
                      R"(1 {"content":"Blue sky"} null)",
                      R"(1 {} "stop")",
                  });
}

TEST_CASE("a refusal splits into a role chunk with null content and one refusal chunk", "[stream_assembly]") {
  const auto chunks = split_completion(kRefusalBody);
  REQUIRE(chunks);
  REQUIRE(chunks->size() == 3);
  CHECK(Json::parse((*chunks)[0].data)["choices"][0]["delta"].dump() == R"({"role":"assistant","content":null,"refusal":null})");
  CHECK(Json::parse((*chunks)[1].data)["choices"][0]["delta"].dump() ==
        R"({"refusal":"I'm sorry, I cannot assist with that request."})");
}

TEST_CASE("logprobs travel on the content chunk", "[stream_assembly]") {
  const auto chunks = split_completion(kLogprobsBody);
  REQUIRE(chunks);
  REQUIRE(chunks->size() == 3);
  CHECK(Json::parse((*chunks)[0].data)["choices"][0]["logprobs"].is_null());
  CHECK(Json::parse((*chunks)[1].data)["choices"][0]["logprobs"].dump() ==
        compact(R"({"content":[)" + std::string(kHelloLogprob) + "," + kBangLogprob + R"(],"refusal":null})"));
  CHECK(Json::parse((*chunks)[2].data)["choices"][0]["logprobs"].is_null());
}

TEST_CASE("split then assemble gives the original body back", "[stream_assembly]") {
  for (const std::string& body : {kPlainBody, kToolsBody, kN2Body, kRefusalBody, kLogprobsBody}) {
    INFO(body);
    CHECK(round_trip(body) == compact(body));
  }
  // OpenAI's current non-stream shape: annotations, a legacy function call, reasoning text, a
  // logprobs object on a refusal, and no service_tier/system_fingerprint.
  const std::vector<std::string> more = {
      R"({"id":"chatcmpl-A","object":"chat.completion","created":1,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})",
      R"({"id":"chatcmpl-B","object":"chat.completion","created":2,"model":"gpt-3.5-turbo-0613","choices":[{"index":0,"message":{"role":"assistant","content":null,"function_call":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},"logprobs":null,"finish_reason":"function_call"}]})",
      R"({"id":"chatcmpl-C","object":"chat.completion","created":3,"model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2 is 4."},"logprobs":null,"finish_reason":"stop"}]})",
      R"({"id":"chatcmpl-D","object":"chat.completion","created":4,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"No."},"logprobs":{"content":null,"refusal":[{"token":"No","logprob":-0.5,"bytes":[78,111],"top_logprobs":[]}]},"finish_reason":"stop"}]})",
      R"({"id":"chatcmpl-E","object":"chat.completion","created":5,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"length"}]})",
  };
  for (const std::string& body : more) {
    INFO(body);
    CHECK(round_trip(body) == compact(body));
  }
}

TEST_CASE("assemble then split then assemble is stable for every transcript", "[stream_assembly]") {
  for (const auto& transcript : {plain_transcript(), tools_transcript(), n2_transcript(), refusal_transcript(), logprobs_transcript()}) {
    const auto body = assemble_completion(transcript);
    REQUIRE(body);
    CHECK(round_trip(*body) == body);
  }
}

TEST_CASE("OpenAI's own field order for a tool-call message round-trips as the same JSON", "[stream_assembly]") {
  // The live API puts tool_calls before refusal and adds annotations; the assembled message keeps
  // role, content, refusal, other fields, tool_calls: the same object, another order.
  const std::string body =
      R"({"id":"chatcmpl-F","object":"chat.completion","created":6,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{}"}}],"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})";
  const auto back = round_trip(body);
  REQUIRE(back);
  CHECK(nlohmann::json::parse(*back) == nlohmann::json::parse(body));
  CHECK(*back == compact(R"({"id":"chatcmpl-F","object":"chat.completion","created":6,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"annotations":[],"tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"));
}

TEST_CASE("empty content beside tool calls comes back as null", "[stream_assembly]") {
  const std::string body =
      R"({"id":"g","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]})";
  CHECK(round_trip(body) == compact(R"({"id":"g","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]})"));
}

TEST_CASE("a body that is not a chat.completion does not split", "[stream_assembly]") {
  CHECK(split_completion(kPlainBody));  // the fixture itself is fine
  CHECK_FALSE(split_completion(""));
  CHECK_FALSE(split_completion("not json"));
  CHECK_FALSE(split_completion(R"([{"choices":[]}])"));
  CHECK_FALSE(split_completion(R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{}}]})"));
  CHECK_FALSE(split_completion(R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}]})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion"})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":[]})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":{"index":0}})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop"}]})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":[{"index":"0","message":{"role":"assistant","content":"a"}}]})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":{"id":"c"}}}]})"));
  CHECK_FALSE(split_completion(R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":["c"]}}]})"));
}
