// Provider flavours in the config: flavor, api_version and headers, their defaults and every error with its key path.
#include <catch2/catch.hpp>

#include <string>

#include "config/loader.hpp"
#include "support/env.hpp"

using tollgate::config::Config;
using tollgate::config::ConfigError;
using tollgate::config::describe_models;
using tollgate::config::embedded_defaults;
using tollgate::config::load_string;
using tollgate::testing::env_of;

namespace {

const std::string kModels = "models: [{name: m, deployments: [{provider: p}]}]\n";

Config load(const std::string& provider) {
  return load_string("providers:\n  - " + provider + "\n" + kModels, "t.yaml", env_of({}));
}

ConfigError load_error(const std::string& provider) {
  try {
    load(provider);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError for: " << provider);
  throw std::logic_error("unreachable");
}

const std::string kFlavorList = "openai|azure|ollama|vllm|groq|deepseek|mistral|openrouter|together|cloudflare";

}  // namespace

TEST_CASE("flavor defaults to openai on type openai and stays empty on other types", "[flavors]") {
  const Config config = load_string(R"(
providers:
  - {id: p, type: openai}
  - {id: a, type: anthropic}
  - {id: k, type: mock}
)" + kModels,
                                    "t.yaml", env_of({}));
  CHECK(config.providers[0].flavor == "openai");
  CHECK(config.providers[0].base_url == "https://api.openai.com/v1");
  CHECK(config.providers[0].api_version.empty());
  CHECK(config.providers[0].headers.empty());
  CHECK(config.providers[1].flavor.empty());
  CHECK(config.providers[2].flavor.empty());
}

TEST_CASE("each flavour with a fixed service gets its default base_url; a given one wins", "[flavors]") {
  const std::pair<const char*, const char*> expected[] = {
      {"openai", "https://api.openai.com/v1"},       {"ollama", "http://127.0.0.1:11434/v1"},
      {"vllm", "http://127.0.0.1:8000/v1"},          {"groq", "https://api.groq.com/openai/v1"},
      {"deepseek", "https://api.deepseek.com"},      {"mistral", "https://api.mistral.ai/v1"},
      {"openrouter", "https://openrouter.ai/api/v1"}, {"together", "https://api.together.ai/v1"}};
  for (const auto& [flavor, url] : expected) {
    INFO(flavor);
    const Config config = load(std::string("{id: p, type: openai, flavor: ") + flavor + "}");
    CHECK(config.providers[0].flavor == flavor);
    CHECK(config.providers[0].base_url == url);
  }
  CHECK(load("{id: p, type: openai, flavor: ollama, base_url: 'http://gpu:11434/v1/'}").providers[0].base_url ==
        "http://gpu:11434/v1");
}

TEST_CASE("azure: api_version defaults to the GA release; a given one is kept", "[flavors]") {
  const Config config = load("{id: p, type: openai, flavor: azure, base_url: https://r.openai.azure.com}");
  CHECK(config.providers[0].base_url == "https://r.openai.azure.com");
  CHECK(config.providers[0].api_version == "2024-10-21");
  CHECK(load("{id: p, type: openai, flavor: azure, base_url: https://r.openai.azure.com, api_version: 2025-04-01-preview}")
            .providers[0]
            .api_version == "2025-04-01-preview");
  CHECK(load("{id: p, type: openai, flavor: cloudflare, base_url: 'https://api.cloudflare.com/client/v4/accounts/a1/ai/v1'}")
            .providers[0]
            .base_url == "https://api.cloudflare.com/client/v4/accounts/a1/ai/v1");
}

TEST_CASE("headers load in order with ${VAR} expansion", "[flavors]") {
  const Config config = load_string(R"(
providers:
  - id: p
    type: openai
    flavor: openrouter
    headers: {HTTP-Referer: "https://app.example", X-Title: "${APP_NAME}"}
)" + kModels,
                                    "t.yaml", env_of({{"APP_NAME", "Example App"}}));
  using Headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(config.providers[0].headers == Headers{{"HTTP-Referer", "https://app.example"}, {"X-Title", "Example App"}});
}

TEST_CASE("error: flavor on another provider type names the key and lists the flavours", "[flavors]") {
  const ConfigError e = load_error("{id: p, type: anthropic, flavor: azure}");
  CHECK(e.key_path() == "providers[0].flavor");
  CHECK(e.problem() == "only valid with type openai (this provider has type \"anthropic\"); flavors: " + kFlavorList);
}

TEST_CASE("error: unknown flavor lists the flavours and suggests the closest", "[flavors]") {
  const ConfigError e = load_error("{id: p, type: openai, flavor: grok}");
  CHECK(e.key_path() == "providers[0].flavor");
  CHECK(e.problem() == "expected one of " + kFlavorList + ", got \"grok\"; did you mean \"groq\"?");
  CHECK(std::string(e.what()) == "t.yaml: providers[0].flavor: " + e.problem());
}

TEST_CASE("error: azure and cloudflare need a base_url, shown by example", "[flavors]") {
  const ConfigError azure = load_error("{id: p, type: openai, flavor: azure}");
  CHECK(azure.key_path() == "providers[0].base_url");
  CHECK(azure.problem() ==
        "is required for flavor azure: your resource's endpoint, e.g. https://my-resource.openai.azure.com");
  const ConfigError cloudflare = load_error("{id: p, type: openai, flavor: cloudflare}");
  CHECK(cloudflare.key_path() == "providers[0].base_url");
  CHECK(cloudflare.problem() == "is required for flavor cloudflare: your account's endpoint, e.g. "
                                "https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/ai/v1");
  const ConfigError not_url = load_error("{id: p, type: openai, flavor: azure, base_url: my-res.openai.azure.com}");
  CHECK(not_url.key_path() == "providers[0].base_url");
  CHECK(not_url.problem() == "expected your resource's endpoint, e.g. https://my-resource.openai.azure.com, got "
                             "\"my-res.openai.azure.com\"");
}

TEST_CASE("error: api_version outside azure, or with characters a query cannot take", "[flavors]") {
  const ConfigError groq = load_error("{id: p, type: openai, flavor: groq, api_version: 2024-10-21}");
  CHECK(groq.key_path() == "providers[0].api_version");
  CHECK(groq.problem() == "only valid with flavor azure (this provider's flavor is \"groq\")");
  const ConfigError plain = load_error("{id: p, type: openai, api_version: 2024-10-21}");
  CHECK(plain.problem() == "only valid with flavor azure (this provider's flavor is \"openai\")");
  const ConfigError other = load_error("{id: p, type: gemini, api_version: v1}");
  CHECK(other.key_path() == "providers[0].api_version");
  CHECK(other.problem() == "only valid with flavor azure (this provider's flavor is \"gemini\")");
  const ConfigError bad = load_error("{id: p, type: openai, flavor: azure, base_url: 'https://r', api_version: '2024-10-21&x=1'}");
  CHECK(bad.key_path() == "providers[0].api_version");
  CHECK(bad.problem() ==
        "expected an Azure OpenAI API version like 2024-10-21 or 2025-04-01-preview, got \"2024-10-21&x=1\"");
}

TEST_CASE("error: credential headers point at keys; invalid or reserved names; bad values", "[flavors]") {
  for (const char* name : {"Authorization", "api-key", "X-API-Key"}) {
    INFO(name);
    const ConfigError e = load_error(std::string("{id: p, type: openai, headers: {") + name + ": secret}}");
    CHECK(e.key_path() == std::string("providers[0].headers.") + name);
    CHECK(e.problem() ==
          "credentials are not taken from headers: put the key in providers[0].keys (or register it with POST /api/v1/keys)");
    CHECK(std::string(e.what()).find("secret") == std::string::npos);
  }
  const ConfigError space = load_error("{id: p, type: openai, headers: {'X Title': a}}");
  CHECK(space.key_path() == "providers[0].headers.X Title");
  CHECK(space.problem() == "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)");
  const ConfigError reserved = load_error("{id: p, type: openai, headers: {Content-Type: text/plain}}");
  CHECK(reserved.key_path() == "providers[0].headers.Content-Type");
  CHECK(reserved.problem() == "is set by tollgate itself");
  const ConfigError twice = load_error("{id: p, type: openai, headers: {X-Title: a, x-title: b}}");
  CHECK(twice.key_path() == "providers[0].headers.x-title");
  CHECK(twice.problem() == "duplicate header (names ignore case)");
  const ConfigError newline = load_error("{id: p, type: openai, headers: {X-Title: \"a\\r\\nX-Evil: 1\"}}");
  CHECK(newline.key_path() == "providers[0].headers.X-Title");
  CHECK(newline.problem() == "the value must not contain line breaks or NUL");
  const ConfigError list = load_error("{id: p, type: openai, headers: [X-Title]}");
  CHECK(list.key_path() == "providers[0].headers");
  CHECK(list.problem() == "expected a mapping of header names to values, got a list");
  const ConfigError other_type = load_error("{id: p, type: anthropic, headers: {X-Title: a}}");
  CHECK(other_type.key_path() == "providers[0].headers");
  CHECK(other_type.problem() == "only applied to type openai providers (this provider has type \"anthropic\")");
}

TEST_CASE("error: a misspelt provider key suggests flavor", "[flavors]") {
  const ConfigError e = load_error("{id: p, type: openai, flavour: groq}");
  CHECK(e.key_path() == "providers[0].flavour");
  CHECK(e.problem() == "unknown key; did you mean \"flavor\"?");
}

TEST_CASE("OLLAMA_BASE_URL gives an ollama-flavoured provider; check-config shows flavours", "[flavors]") {
  const Config config = embedded_defaults(env_of({{"OLLAMA_BASE_URL", "http://127.0.0.1:11434"}}));
  const auto* ollama = config.find_provider("ollama");
  REQUIRE(ollama != nullptr);
  CHECK(ollama->type == "openai");
  CHECK(ollama->flavor == "ollama");
  CHECK(ollama->base_url == "http://127.0.0.1:11434/v1");

  const Config azure = load_string(R"(
providers:
  - {id: az, type: openai, flavor: azure, base_url: https://r.openai.azure.com, keys: [k1]}
  - {id: oa, type: openai}
models: [{name: m, deployments: [{provider: az, model: gpt-4o}, {provider: oa, model: gpt-4o}]}]
)",
                                   "t.yaml", env_of({}));
  CHECK(describe_models(azure) ==
        "models (t.yaml):\n"
        "  MODEL  PROVIDER  TYPE    UPSTREAM MODEL  WEIGHT  FALLBACKS\n"
        "  m      az        openai  gpt-4o          1       -\n"
        "  m      oa        openai  gpt-4o          1       -\n"
        "\n"
        "providers:\n"
        "  az  openai (azure)  https://r.openai.azure.com  1 key\n"
        "  oa  openai          https://api.openai.com/v1   0 keys\n");
}
