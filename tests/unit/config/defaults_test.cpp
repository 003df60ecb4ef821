// Embedded defaults (no config file), the check-config table, and the shipped prices file.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <map>
#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "support/env.hpp"

using tollgate::config::Config;
using tollgate::config::ConfigError;
using tollgate::config::describe_models;
using tollgate::config::embedded_defaults;
using tollgate::config::EnvLookup;
using tollgate::config::load_string;

namespace {

using tollgate::testing::env_of;

std::vector<std::string> model_names(const Config& config) {
  std::vector<std::string> names;
  for (const auto& model : config.models) names.push_back(model.name);
  return names;
}

}  // namespace

TEST_CASE("embedded defaults with no keys serve the mock model only") {
  bool mock_only = false;
  const Config config = embedded_defaults(env_of({{"OPENAI_API_KEY", ""}}), &mock_only);
  CHECK(mock_only);
  CHECK(config.source == "<embedded defaults>");
  REQUIRE(config.providers.size() == 1);
  CHECK(config.providers[0].id == "mock");
  CHECK(config.providers[0].type == "mock");
  CHECK(config.providers[0].base_url.empty());
  CHECK(config.providers[0].keys.empty());
  REQUIRE(config.models.size() == 1);
  CHECK(config.models[0].name == "mock-1");
  REQUIRE(config.models[0].deployments.size() == 1);
  CHECK(config.models[0].deployments[0].provider == "mock");
  CHECK(config.models[0].deployments[0].model == "mock-1");
  CHECK(config.server.port == 8080);
}

TEST_CASE("embedded defaults with OPENAI_API_KEY only") {
  bool mock_only = true;
  const Config config = embedded_defaults(env_of({{"OPENAI_API_KEY", "sk-abc"}}), &mock_only);
  CHECK_FALSE(mock_only);
  REQUIRE(config.providers.size() == 1);
  CHECK(config.providers[0].id == "openai");
  CHECK(config.providers[0].type == "openai");
  CHECK(config.providers[0].base_url == "https://api.openai.com/v1");
  CHECK(config.providers[0].keys == std::vector<std::string>{"sk-abc"});
  CHECK(model_names(config) == std::vector<std::string>{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"});
  CHECK(config.find_model("gpt-4o")->deployments.at(0).model == "gpt-4o");
  CHECK(config.find_model("mock-1") == nullptr);
}

TEST_CASE("embedded defaults with every provider") {
  bool mock_only = true;
  const Config config = embedded_defaults(env_of({{"OPENAI_API_KEY", "sk-o"},
                                                  {"ANTHROPIC_API_KEY", "sk-ant"},
                                                  {"GEMINI_API_KEY", "g-key"},
                                                  {"OLLAMA_BASE_URL", "http://127.0.0.1:11434"}}),
                                          &mock_only);
  CHECK_FALSE(mock_only);
  CHECK(config.providers.size() == 4);
  CHECK(model_names(config) == std::vector<std::string>{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small",
                                                        "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-flash",
                                                        "gemini-2.5-pro", "gemini-embedding-001", "llama3.2"});
  CHECK(config.find_provider("anthropic")->base_url == "https://api.anthropic.com");
  CHECK(config.find_provider("gemini")->base_url == "https://generativelanguage.googleapis.com");
  CHECK(config.find_model("claude-haiku-4-5")->deployments.at(0).provider == "anthropic");
}

TEST_CASE("embedded defaults: OLLAMA_BASE_URL with and without /v1") {
  const auto ollama_url = [](const std::string& url) {
    const Config config = embedded_defaults(env_of({{"OLLAMA_BASE_URL", url}}));
    const auto* provider = config.find_provider("ollama");
    REQUIRE(provider != nullptr);
    CHECK(provider->type == "openai");
    CHECK(provider->keys.empty());
    CHECK(config.find_model("llama3.2")->deployments.at(0).provider == "ollama");
    return provider->base_url;
  };
  CHECK(ollama_url("http://127.0.0.1:11434") == "http://127.0.0.1:11434/v1");
  CHECK(ollama_url("http://127.0.0.1:11434/") == "http://127.0.0.1:11434/v1");
  CHECK(ollama_url("http://gpu-box:11434/v1") == "http://gpu-box:11434/v1");
  CHECK(ollama_url("http://gpu-box:11434/v1/") == "http://gpu-box:11434/v1");
  CHECK(ollama_url("localhost:11434") == "http://localhost:11434/v1");

  CHECK_THROWS_AS(embedded_defaults(env_of({{"OLLAMA_BASE_URL", "ftp://x"}})), ConfigError);
}

TEST_CASE("embedded defaults leave the uses_mock_only pointer optional") {
  CHECK(embedded_defaults(env_of({})).models.at(0).name == "mock-1");
}

TEST_CASE("describe_models lists every deployment and counts keys without showing them") {
  const Config config = load_string(R"(
providers:
  - {id: openai, type: openai, keys: ["sk-secret-one", "sk-secret-two"]}
  - {id: mock, type: mock}
models:
  - name: smart
    deployments: [{provider: openai, model: gpt-4o, weight: 3}, {provider: mock, model: mock-1, weight: 0.5}]
    fallbacks: [cheap]
  - name: cheap
    deployments: [{provider: openai, model: gpt-4o-mini}]
)",
                                    "t.yaml", env_of({}));
  const std::string table = describe_models(config);
  CHECK(table ==
        "models (t.yaml):\n"
        "  MODEL  PROVIDER  TYPE    UPSTREAM MODEL  WEIGHT  FALLBACKS\n"
        "  smart  openai    openai  gpt-4o          3       cheap\n"
        "  smart  mock      mock    mock-1          0.5     cheap\n"
        "  cheap  openai    openai  gpt-4o-mini     1       -\n"
        "\n"
        "providers:\n"
        "  openai  openai  https://api.openai.com/v1  2 keys\n"
        "  mock    mock    (built in)                 0 keys\n");
  CHECK(table.find("secret") == std::string::npos);
}

TEST_CASE("prices.json is valid and holds the listed models") {
  std::ifstream in(std::string(TOLLGATE_SOURCE_DIR) + "/config/prices.json");
  REQUIRE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto prices = nlohmann::json::parse(text, nullptr, false);
  REQUIRE_FALSE(prices.is_discarded());
  CHECK(prices.at("unit") == "USD per 1M tokens");
  const std::string as_of = prices.at("as_of");
  CHECK(std::regex_match(as_of, std::regex(R"(\d{4}-\d{2}-\d{2})")));
  const auto& models = prices.at("models");
  CHECK(models.at("gpt-4o-mini").at("input") == 0.15);
  CHECK(models.at("gpt-4o-mini").at("output") == 0.6);
  CHECK(models.at("gpt-4o-mini").at("cached_input") == 0.075);
  CHECK(models.at("anthropic/claude-sonnet-4-5").at("output") == 15);
  CHECK(models.at("gemini/gemini-2.5-pro").at("cached_input") == 0.125);
  CHECK(models.at("mock/mock-1").at("input") == 0.1);
  for (const char* name : {"gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "anthropic/claude-haiku-4-5",
                           "gemini/gemini-2.5-flash"}) {
    INFO(name);
    CHECK(models.contains(name));
  }
}
