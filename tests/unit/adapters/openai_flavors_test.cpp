// OpenAI-compatible flavours: per service the exact URL, headers and body, refusals, usage mapping and embeddings.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "adapters/openai/flavors.hpp"
#include "adapters/openai/openai_adapter.hpp"
#include "adapters/registry.hpp"
#include "adapters/sse_parser.hpp"
#include "config/loader.hpp"
#include "support/fixtures.hpp"

using nlohmann::json;
using tollgate::adapters::Endpoint;
using tollgate::adapters::find_flavor;
using tollgate::adapters::OpenAiAdapter;
using tollgate::adapters::OpenAiOptions;
using tollgate::adapters::SseEvent;
using tollgate::core::Chunk;
using tollgate::core::ErrorKind;
using tollgate::core::Headers;
using tollgate::core::Operation;
using tollgate::core::UpstreamCall;

namespace {

std::string header(const Headers& headers, const std::string& name) { return tollgate::testing::header_value(headers, name); }

OpenAiAdapter adapter_for(std::string_view flavor, std::string api_version = {}, Headers headers = {}) {
  const auto* row = find_flavor(flavor);
  REQUIRE(row != nullptr);
  return OpenAiAdapter(OpenAiOptions{row, std::move(api_version), std::move(headers)});
}

UpstreamCall chat(const json& body, std::string_view model, bool stream = false) {
  UpstreamCall call{body, model, stream, "req-1", {}};
  return call;
}

UpstreamCall embeddings(const json& body, std::string_view model) {
  UpstreamCall call{body, model, false, "req-1", {}};
  call.operation = Operation::kEmbeddings;
  return call;
}

const json kMessages = json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}});

/// Encodes `body` for `flavor` expecting a 400 about `param`; returns the message.
std::string refused(const OpenAiAdapter& adapter, const json& body) {
  auto request = adapter.encode(chat(body, "m"), Endpoint{"http://upstream/v1", "k"});
  REQUIRE(request.has_error());
  CHECK(request.error().kind == ErrorKind::kInvalidRequest);
  return request.error().message + " | " + request.error().param;
}

std::vector<Chunk> feed_all(const OpenAiAdapter& adapter, const std::vector<std::string>& events) {
  const json body = json::object();
  auto decoder = adapter.stream_decoder(chat(body, "m", true));
  std::vector<Chunk> chunks;
  for (const std::string& data : events) REQUIRE(decoder->feed(SseEvent{"", data, ""}, chunks).has_value());
  CHECK(decoder->done());
  return chunks;
}

}  // namespace

TEST_CASE("the flavour table has one row per configurable flavour, with the config's default base URLs", "[flavors]") {
  std::vector<std::string> names;
  for (const auto& flavor : tollgate::adapters::all_flavors()) names.emplace_back(flavor.name);
  std::vector<std::string> configured(std::begin(tollgate::config::kProviderFlavors),
                                      std::end(tollgate::config::kProviderFlavors));
  CHECK(names == configured);
  CHECK(&tollgate::adapters::openai_flavor() == find_flavor("openai"));
  CHECK(find_flavor("bedrock") == nullptr);

  // The adapter's table and the config validation fill the same default base URL and agree on
  // which services have no embeddings endpoint.
  for (const auto& flavor : tollgate::adapters::all_flavors()) {
    INFO("flavor " << flavor.name);
    CHECK(flavor.embeddings == (std::ranges::find(tollgate::config::kFlavorsWithoutEmbeddings, flavor.name) ==
                                std::end(tollgate::config::kFlavorsWithoutEmbeddings)));
    const std::string name(flavor.name);
    const std::string base = flavor.default_base_url.empty() ? ", base_url: \"https://given.example/v1\"" : "";
    const auto config = tollgate::config::load_string(
        "providers: [{id: p, type: openai, flavor: " + name + base + "}]\nmodels: [{name: m, deployments: [{provider: p}]}]\n",
        "t.yaml", [](std::string_view) { return std::optional<std::string>(); });
    CHECK(config.providers.at(0).base_url ==
          (flavor.default_base_url.empty() ? std::string("https://given.example/v1") : std::string(flavor.default_base_url)));
  }
}

TEST_CASE("openai: every field passes untouched to {base}/chat/completions with a Bearer key", "[flavors]") {
  const OpenAiAdapter adapter;
  const json body = {{"model", "smart"}, {"messages", kMessages},   {"max_completion_tokens", 50}, {"seed", 7},
                     {"n", 2},           {"logit_bias", {{"50256", -100}}}, {"user", "u-1"}};
  auto request = adapter.encode(chat(body, "gpt-4o"), Endpoint{"https://api.openai.com/v1", "sk-1"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://api.openai.com/v1/chat/completions");
  CHECK(request->body ==
        R"({"model":"gpt-4o","logit_bias":{"50256":-100},"max_completion_tokens":50,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"n":2,"seed":7,"user":"u-1"})");
  CHECK(request->headers == Headers{{"content-type", "application/json"}, {"authorization", "Bearer sk-1"}});
}

TEST_CASE("azure: deployment URL with api-version, api-key header, no Bearer", "[flavors]") {
  const json body = {{"model", "smart"}, {"messages", kMessages}, {"stream", true}};
  const auto adapter = adapter_for("azure");
  for (const char* base : {"https://my-res.openai.azure.com", "https://my-res.openai.azure.com/",
                           "https://my-res.openai.azure.com/openai", "https://my-res.openai.azure.com/openai/"}) {
    INFO(base);
    auto request = adapter.encode(chat(body, "gpt-4o-prod", true), Endpoint{base, "azure-key-1"});
    REQUIRE(request.has_value());
    CHECK(request->url ==
          "https://my-res.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
    CHECK(request->headers == Headers{{"content-type", "application/json"},
                                      {"api-key", "azure-key-1"},
                                      {"accept", "text/event-stream"}});
    CHECK(request->body ==
          R"({"model":"gpt-4o-prod","messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"stream":true,"stream_options":{"include_usage":true}})");
  }

  const auto preview = adapter_for("azure", "2025-04-01-preview");
  auto request = preview.encode(chat(body, "my deployment/1"), Endpoint{"https://r.openai.azure.com", ""});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://r.openai.azure.com/openai/deployments/my%20deployment%2F1/chat/completions"
                        "?api-version=2025-04-01-preview");
  CHECK(request->headers == Headers{{"content-type", "application/json"}});
}

TEST_CASE("azure and openai: kEmbeddings goes to the embeddings endpoint with the client's fields", "[flavors][embeddings]") {
  const json body = {{"model", "embed"}, {"input", json::array({"a", "b"})}, {"dimensions", 256},
                     {"encoding_format", "float"}, {"user", "u-1"}};
  const std::string expected_body =
      R"({"model":"text-embedding-3-small","dimensions":256,"encoding_format":"float","input":["a","b"],"user":"u-1"})";

  const OpenAiAdapter openai;
  auto plain = openai.encode(embeddings(body, "text-embedding-3-small"), Endpoint{"https://api.openai.com/v1/", "sk-1"});
  REQUIRE(plain.has_value());
  CHECK(plain->url == "https://api.openai.com/v1/embeddings");
  CHECK(plain->body == expected_body);
  CHECK(plain->headers == Headers{{"content-type", "application/json"}, {"authorization", "Bearer sk-1"}});

  auto azure = adapter_for("azure").encode(embeddings(body, "text-embedding-3-small"),
                                           Endpoint{"https://my-res.openai.azure.com/openai", "azure-key"});
  REQUIRE(azure.has_value());
  CHECK(azure->url ==
        "https://my-res.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21");
  CHECK(azure->body == expected_body);
  CHECK(azure->headers == Headers{{"content-type", "application/json"}, {"api-key", "azure-key"}});

  // The semantic cache's one-text embedder builds its URL the same way.
  auto one = adapter_for("azure").encode_embedding(
      tollgate::core::EmbeddingCall{"text-embedding-3-small", "hi", 64, {}}, Endpoint{"https://my-res.openai.azure.com", "k"});
  REQUIRE(one.has_value());
  CHECK(one->url ==
        "https://my-res.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21");
  CHECK(header(one->headers, "api-key") == "k");
  CHECK(header(one->headers, "authorization") == "<absent>");
}

TEST_CASE("kEmbeddings decode: the list as is, usage from prompt_tokens; anything else is malformed", "[flavors][embeddings]") {
  const json body = {{"input", "a"}};
  const std::string wire =
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}})";
  for (const auto& adapter : {OpenAiAdapter(), adapter_for("azure")}) {
    auto decoded = adapter.decode(wire, embeddings(body, "m"));
    REQUIRE(decoded.has_value());
    CHECK(decoded->body == wire);
    REQUIRE(decoded->usage.has_value());
    CHECK(decoded->usage->prompt_tokens == 8);
    CHECK(decoded->usage->completion_tokens == 0);
    CHECK(decoded->usage->total_tokens == 8);
  }
  const OpenAiAdapter adapter;
  auto no_usage = adapter.decode(R"({"object":"list","data":[]})", embeddings(body, "m"));
  REQUIRE(no_usage.has_value());
  CHECK_FALSE(no_usage->usage.has_value());
  for (const char* bad : {"", "[]", R"({"object":"list"})", R"({"data":{}})", R"({"choices":[]})", "<html>"}) {
    auto decoded = adapter.decode(bad, embeddings(body, "m"));
    REQUIRE(decoded.has_error());
    CHECK(decoded.error().kind == ErrorKind::kUpstreamError);
    CHECK(decoded.error().message == "upstream returned a malformed embeddings body");
  }
}

TEST_CASE("ollama: max_completion_tokens is sent as max_tokens; logit_bias, n > 1 and tool_choice are refused", "[flavors]") {
  const auto adapter = adapter_for("ollama");
  const json body = {{"model", "x"}, {"messages", kMessages}, {"max_completion_tokens", 100}, {"n", 1},
                     {"tool_choice", "auto"}, {"user", "u-1"}};
  auto request = adapter.encode(chat(body, "llama3.2"), Endpoint{"http://127.0.0.1:11434/v1", ""});
  REQUIRE(request.has_value());
  CHECK(request->url == "http://127.0.0.1:11434/v1/chat/completions");
  CHECK(request->body ==
        R"({"model":"llama3.2","max_tokens":100,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"n":1,"tool_choice":"auto","user":"u-1"})");
  CHECK(request->headers == Headers{{"content-type", "application/json"}});

  CHECK(refused(adapter, {{"messages", kMessages}, {"n", 2}}) ==
        "ollama does not support 'n' other than 1; remove it or route this request to another provider | n");
  CHECK(refused(adapter, {{"messages", kMessages}, {"tool_choice", "required"}}) ==
        "ollama does not support 'tool_choice' other than \"auto\"; remove it or route this request to another "
        "provider | tool_choice");
  CHECK(refused(adapter, {{"messages", kMessages}, {"logit_bias", {{"1", 2}}}}) ==
        "ollama does not support 'logit_bias'; remove it or route this request to another provider | logit_bias");
  // A null is an absent field.
  CHECK(adapter.encode(chat({{"logit_bias", nullptr}}, "m"), Endpoint{"http://h/v1", ""}).has_value());

  auto emb = adapter.encode(embeddings({{"input", "a"}}, "nomic-embed-text"), Endpoint{"http://127.0.0.1:11434/v1", ""});
  REQUIRE(emb.has_value());
  CHECK(emb->url == "http://127.0.0.1:11434/v1/embeddings");
}

TEST_CASE("vllm: a passthrough, its own stream_options kept", "[flavors]") {
  const auto adapter = adapter_for("vllm");
  const json body = {{"messages", kMessages}, {"stream", true}, {"stream_options", {{"continuous_usage_stats", true}}},
                     {"top_k", 20}};
  auto request = adapter.encode(chat(body, "Qwen/Qwen3-8B", true), Endpoint{"http://127.0.0.1:8000/v1", "tok"});
  REQUIRE(request.has_value());
  CHECK(request->url == "http://127.0.0.1:8000/v1/chat/completions");
  CHECK(request->body ==
        R"({"model":"Qwen/Qwen3-8B","messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"stream":true,"stream_options":{"continuous_usage_stats":true,"include_usage":true},"top_k":20})");
  CHECK(header(request->headers, "authorization") == "Bearer tok");
}

TEST_CASE("groq: logprobs, logit_bias, top_logprobs, n > 1 and messages[].name are refused, naming the field", "[flavors]") {
  const auto adapter = adapter_for("groq");
  const json ok = {{"messages", json::array({{{"role", "user"}, {"content", "Hi"}},
                                             {{"role", "tool"}, {"tool_call_id", "c1"}, {"name", "f"}, {"content", "1"}}})},
                   {"logprobs", false},
                   {"n", 1},
                   {"max_completion_tokens", 9}};
  auto request = adapter.encode(chat(ok, "llama-3.3-70b-versatile"), Endpoint{"https://api.groq.com/openai/v1", "gsk"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://api.groq.com/openai/v1/chat/completions");
  CHECK(request->body ==
        R"({"model":"llama-3.3-70b-versatile","logprobs":false,"max_completion_tokens":9,"messages":[{"content":"Hi","role":"user"},{"content":"1","name":"f","role":"tool","tool_call_id":"c1"}],"n":1})");
  CHECK(request->headers == Headers{{"content-type", "application/json"}, {"authorization", "Bearer gsk"}});

  const std::string tail = "; remove it or route this request to another provider";
  CHECK(refused(adapter, {{"logprobs", true}}) == "groq does not support 'logprobs'" + tail + " | logprobs");
  CHECK(refused(adapter, {{"logit_bias", {{"1", 1}}}}) == "groq does not support 'logit_bias'" + tail + " | logit_bias");
  CHECK(refused(adapter, {{"top_logprobs", 2}}) == "groq does not support 'top_logprobs'" + tail + " | top_logprobs");
  CHECK(refused(adapter, {{"n", 3}}) == "groq does not support 'n' other than 1" + tail + " | n");
  const json named = {{"messages", json::array({{{"role", "system"}, {"content", "s"}},
                                                {{"role", "user"}, {"name", "alice"}, {"content", "Hi"}}})}};
  CHECK(refused(adapter, named) ==
        "groq does not support 'messages[].name' on system, user or assistant messages" + tail + " | messages[1].name");

  auto emb = adapter.encode(embeddings({{"input", "a"}}, "e"), Endpoint{"https://api.groq.com/openai/v1", "gsk"});
  REQUIRE(emb.has_error());
  CHECK(emb.error().kind == ErrorKind::kInvalidRequest);
  CHECK(emb.error().message == "groq has no embeddings endpoint; route embeddings to another provider");
}

TEST_CASE("groq stream: usage found only in x_groq.usage becomes an OpenAI usage chunk at [DONE]", "[flavors][stream]") {
  const auto adapter = adapter_for("groq");
  const std::string content =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1745935006,"model":"llama-3.3-70b-versatile","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})";
  const std::string finish =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1745935006,"model":"llama-3.3-70b-versatile","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_01","usage":{"queue_time":0.01,"prompt_tokens":42,"prompt_time":0.002,"completion_tokens":7,"completion_time":0.01,"total_tokens":49,"total_time":0.02}}})";

  SECTION("no usage chunk follows") {
    const auto chunks = feed_all(adapter, {content, finish, "[DONE]"});
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[0].data == content);
    CHECK(chunks[1].data == finish);
    CHECK_FALSE(chunks[1].usage.has_value());
    CHECK(chunks[2].data ==
          R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1745935006,"model":"llama-3.3-70b-versatile","choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}})");
    REQUIRE(chunks[2].usage.has_value());
    CHECK(chunks[2].usage->prompt_tokens == 42);
    CHECK(chunks[2].usage->completion_tokens == 7);
    CHECK(chunks[2].usage->total_tokens == 49);
    CHECK(chunks[2].usage_only);
  }
  SECTION("include_usage honoured: the usage chunk is the only one with usage") {
    const std::string usage_chunk =
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1745935006,"model":"llama-3.3-70b-versatile","choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}})";
    const auto chunks = feed_all(adapter, {content, finish, usage_chunk, "[DONE]"});
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[2].data == usage_chunk);
    REQUIRE(chunks[2].usage.has_value());
    CHECK(chunks[2].usage->total_tokens == 49);
    CHECK(chunks[2].usage_only);
  }
  SECTION("plain openai ignores x_groq") {
    const auto chunks = feed_all(OpenAiAdapter(), {content, finish, "[DONE]"});
    REQUIRE(chunks.size() == 2);
    CHECK_FALSE(chunks[1].usage.has_value());
  }
}

TEST_CASE("deepseek: max_completion_tokens becomes max_tokens; cache hits are read as cached_tokens", "[flavors]") {
  const auto adapter = adapter_for("deepseek");
  auto request = adapter.encode(chat({{"messages", kMessages}, {"max_completion_tokens", 256}, {"stream", true}}, "deepseek-chat", true),
                                Endpoint{"https://api.deepseek.com", "sk-ds"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://api.deepseek.com/chat/completions");
  CHECK(request->body ==
        R"({"model":"deepseek-chat","max_tokens":256,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"stream":true,"stream_options":{"include_usage":true}})");
  CHECK(header(request->headers, "authorization") == "Bearer sk-ds");

  // Both names: the same value is sent once, different values are a 400.
  auto same = adapter.encode(chat({{"max_tokens", 5}, {"max_completion_tokens", 5}}, "m"), Endpoint{"https://h", ""});
  REQUIRE(same.has_value());
  CHECK(same->body == R"({"model":"m","max_tokens":5})");
  CHECK(refused(adapter, {{"max_tokens", 5}, {"max_completion_tokens", 6}}) ==
        "deepseek takes 'max_completion_tokens' as 'max_tokens', and this request sets both to different values | "
        "max_completion_tokens");

  const std::string unary =
      R"({"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1500,"completion_tokens":20,"total_tokens":1520,"prompt_cache_hit_tokens":1024,"prompt_cache_miss_tokens":476}})";
  const json body = json::object();
  auto decoded = adapter.decode(unary, chat(body, "deepseek-chat"));
  REQUIRE(decoded.has_value());
  CHECK(decoded->body == unary);
  REQUIRE(decoded->usage.has_value());
  CHECK(decoded->usage->prompt_tokens == 1500);
  CHECK(decoded->usage->completion_tokens == 20);
  CHECK(decoded->usage->total_tokens == 1520);
  CHECK(decoded->usage->cached_tokens == 1024);
  // The same body through plain openai: the DeepSeek field means nothing there.
  CHECK(OpenAiAdapter().decode(unary, chat(body, "m"))->usage->cached_tokens == 0);

  const std::string usage_chunk =
      R"({"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":3,"total_tokens":903,"prompt_cache_hit_tokens":768,"prompt_cache_miss_tokens":132}})";
  const auto chunks = feed_all(adapter, {R"({"id":"x","choices":[{"index":0,"delta":{"content":"a"}}],"usage":null})",
                                         usage_chunk, "[DONE]"});
  REQUIRE(chunks.size() == 2);
  CHECK_FALSE(chunks[0].usage.has_value());
  REQUIRE(chunks[1].usage.has_value());
  CHECK(chunks[1].usage->prompt_tokens == 900);
  CHECK(chunks[1].usage->cached_tokens == 768);
  CHECK(chunks[1].usage_only);

  auto emb = adapter.encode(embeddings({{"input", "a"}}, "e"), Endpoint{"https://api.deepseek.com", "k"});
  REQUIRE(emb.has_error());
  CHECK(emb.error().message == "deepseek has no embeddings endpoint; route embeddings to another provider");
}

TEST_CASE("mistral: renames, harmless drops, no stream_options, refusals; usage on the last content chunk", "[flavors]") {
  const auto adapter = adapter_for("mistral");
  const json body = {{"messages", kMessages},        {"max_completion_tokens", 64}, {"seed", 42},
                     {"user", "u-1"},                {"stream", true},              {"stream_options", {{"include_usage", true}}},
                     {"tool_choice", "required"},    {"n", 2}};
  auto request = adapter.encode(chat(body, "mistral-large-latest", true), Endpoint{"https://api.mistral.ai/v1", "m-key"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://api.mistral.ai/v1/chat/completions");
  CHECK(request->body ==
        R"({"model":"mistral-large-latest","max_tokens":64,"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}],"n":2,"random_seed":42,"stream":true,"tool_choice":"required"})");
  CHECK(request->headers == Headers{{"content-type", "application/json"},
                                    {"authorization", "Bearer m-key"},
                                    {"accept", "text/event-stream"}});

  const std::string tail = "; remove it or route this request to another provider";
  CHECK(refused(adapter, {{"logprobs", true}}) == "mistral does not support 'logprobs'" + tail + " | logprobs");
  CHECK(refused(adapter, {{"top_logprobs", 1}}) == "mistral does not support 'top_logprobs'" + tail + " | top_logprobs");
  CHECK(refused(adapter, {{"logit_bias", json::object({{"1", 1}})}}) ==
        "mistral does not support 'logit_bias'" + tail + " | logit_bias");
  CHECK(refused(adapter, {{"messages", json::array({{{"role", "assistant"}, {"name", "bot"}, {"content", "x"}}})}}) ==
        "mistral does not support 'messages[].name' on system, user or assistant messages" + tail + " | messages[0].name");
  CHECK(refused(adapter, {{"seed", 1}, {"random_seed", 2}}) ==
        "mistral takes 'seed' as 'random_seed', and this request sets both to different values | seed");

  // Usage arrives on the last content chunk: split into that chunk without it and a usage-only
  // chunk of OpenAI's shape, so clients see what include_usage gives them from OpenAI.
  const std::string last =
      R"({"id":"9472","object":"chat.completion.chunk","created":1754041600,"model":"mistral-medium","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"total_tokens":15,"completion_tokens":8}})";
  const auto chunks = feed_all(adapter, {R"({"id":"9472","choices":[{"index":0,"delta":{"content":"1, 2, 3."},"finish_reason":null}]})",
                                         last, "[DONE]"});
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[1].data ==
        R"({"id":"9472","object":"chat.completion.chunk","created":1754041600,"model":"mistral-medium","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]})");
  CHECK_FALSE(chunks[1].usage.has_value());
  CHECK_FALSE(chunks[1].usage_only);
  CHECK(chunks[2].data ==
        R"({"id":"9472","object":"chat.completion.chunk","created":1754041600,"model":"mistral-medium","choices":[],"usage":{"prompt_tokens":7,"total_tokens":15,"completion_tokens":8}})");
  REQUIRE(chunks[2].usage.has_value());
  CHECK(chunks[2].usage->prompt_tokens == 7);
  CHECK(chunks[2].usage->completion_tokens == 8);
  CHECK(chunks[2].usage->total_tokens == 15);
  CHECK(chunks[2].usage_only);

  // Embeddings: dimensions is output_dimension, user is left out.
  auto emb = adapter.encode(embeddings({{"input", "a"}, {"dimensions", 512}, {"user", "u"}}, "mistral-embed"),
                            Endpoint{"https://api.mistral.ai/v1", "m-key"});
  REQUIRE(emb.has_value());
  CHECK(emb->url == "https://api.mistral.ai/v1/embeddings");
  CHECK(emb->body == R"({"model":"mistral-embed","output_dimension":512,"input":"a"})");
  auto one = adapter.encode_embedding(tollgate::core::EmbeddingCall{"mistral-embed", "hi", 256, {}},
                                      Endpoint{"https://api.mistral.ai/v1", "k"});
  REQUIRE(one.has_value());
  CHECK(json::parse(one->body) ==
        json{{"model", "mistral-embed"}, {"input", "hi"}, {"encoding_format", "float"}, {"output_dimension", 256}});
}

TEST_CASE("openrouter and together: their default URLs; configured extra headers follow the credential", "[flavors]") {
  const json body = {{"messages", kMessages}};
  const auto openrouter =
      adapter_for("openrouter", "", Headers{{"HTTP-Referer", "https://app.example"}, {"X-Title", "Example App"}});
  auto request = openrouter.encode(chat(body, "anthropic/claude-sonnet-4.5"), Endpoint{"https://openrouter.ai/api/v1", "sk-or"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://openrouter.ai/api/v1/chat/completions");
  CHECK(request->headers == Headers{{"content-type", "application/json"},
                                    {"authorization", "Bearer sk-or"},
                                    {"HTTP-Referer", "https://app.example"},
                                    {"X-Title", "Example App"}});
  CHECK(request->body ==
        R"({"model":"anthropic/claude-sonnet-4.5","messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"}]})");

  auto together = adapter_for("together").encode(chat(body, "openai/gpt-oss-20b"), Endpoint{"https://api.together.ai/v1", "t"});
  REQUIRE(together.has_value());
  CHECK(together->url == "https://api.together.ai/v1/chat/completions");
  CHECK(header(together->headers, "authorization") == "Bearer t");
}

TEST_CASE("cloudflare: account URL, Bearer token, and its error envelope's message", "[flavors]") {
  const auto adapter = adapter_for("cloudflare");
  const std::string base = "https://api.cloudflare.com/client/v4/accounts/abc123/ai/v1";
  auto request = adapter.encode(chat({{"messages", kMessages}}, "@cf/meta/llama-3.1-8b-instruct"), Endpoint{base, "cf-token"});
  REQUIRE(request.has_value());
  CHECK(request->url == base + "/chat/completions");
  CHECK(header(request->headers, "authorization") == "Bearer cf-token");
  auto emb = adapter.encode(embeddings({{"input", "a"}}, "@cf/baai/bge-large-en-v1.5"), Endpoint{base, "cf-token"});
  REQUIRE(emb.has_value());
  CHECK(emb->url == base + "/embeddings");

  const std::string envelope =
      R"({"success":false,"errors":[{"code":7003,"message":"Could not route to /accounts/abc123/ai/v1"}],"messages":[],"result":null})";
  const auto error = adapter.classify(400, {}, envelope);
  CHECK_FALSE(error.retryable);
  CHECK(json::parse(error.body) == json{{"error",
                                         {{"message", "Could not route to /accounts/abc123/ai/v1"},
                                          {"type", "upstream_error"},
                                          {"param", nullptr},
                                          {"code", nullptr}}}});
  // Other flavours keep the whole body as the message.
  CHECK(json::parse(OpenAiAdapter().classify(400, {}, envelope).body)["error"]["message"] == envelope);
}

TEST_CASE("for_provider binds flavour, api_version and headers from the config; the registry builds it", "[flavors][registry]") {
  tollgate::config::ProviderConfig provider;
  provider.id = "az";
  provider.type = "openai";
  provider.base_url = "https://my-res.openai.azure.com";
  provider.flavor = "azure";
  provider.api_version = "2025-04-01-preview";
  provider.headers = {{"x-ms-client-request-id", "tollgate"}};
  const auto adapter = OpenAiAdapter::for_provider(provider);
  REQUIRE(adapter != nullptr);
  CHECK(adapter->flavor().name == "azure");
  const json body = {{"messages", kMessages}};
  auto request = adapter->encode(chat(body, "gpt-4o"), Endpoint{provider.base_url, "k"});
  REQUIRE(request.has_value());
  CHECK(request->url == "https://my-res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
                        "?api-version=2025-04-01-preview");
  CHECK(request->headers == Headers{{"content-type", "application/json"},
                                    {"api-key", "k"},
                                    {"x-ms-client-request-id", "tollgate"}});

  provider.flavor = "";
  CHECK(OpenAiAdapter::for_provider(provider)->flavor().name == "openai");
  provider.flavor = "bedrock";
  CHECK(OpenAiAdapter::for_provider(provider) == nullptr);

  boost::asio::io_context io;
  tollgate::adapters::http::UpstreamClient client(io.get_executor(), tollgate::adapters::http::UpstreamClient::Options{});
  tollgate::config::Config config;
  config.providers.resize(1);
  config.providers[0].id = "g";
  config.providers[0].type = "openai";
  config.providers[0].keys = {"gsk"};
  config.providers[0].flavor = "groq";
  tollgate::adapters::ProviderRegistry registry(config, client);
  CHECK(registry.find("g")->type() == "openai");

  config.providers[0].flavor = "nope";
  try {
    tollgate::adapters::ProviderRegistry bad(config, client);
    FAIL("expected a ConfigError");
  } catch (const tollgate::config::ConfigError& e) {
    CHECK(e.key_path() == "providers[0].flavor");
  }
  config.providers[0].flavor = "azure";
  try {
    tollgate::adapters::ProviderRegistry bad(config, client);
    FAIL("expected a ConfigError");
  } catch (const tollgate::config::ConfigError& e) {
    CHECK(e.key_path() == "providers[0].base_url");
  }
}
