// PriceTable: tollgate's and LiteLLM's formats, lookup order, derived names, errors, built-in prices.
#include <catch2/catch.hpp>

#include <string>

#include "core/money/price_table.hpp"
#include "support/price_string.hpp"


using namespace tollgate::core;

namespace {

const std::string kFixture = std::string(TOLLGATE_SOURCE_DIR) + "/tests/fixtures/prices/litellm_sample.json";

/// parse()'s error text, or "" when it does not throw.
std::string error_of(const std::string& text) {
  try {
    PriceTable::parse(text, "test.json");
  } catch (const PriceError& e) {
    return e.what();
  }
  return "";
}

std::string model_entry(const std::string& fields) { return R"({"models": {"gpt-4o": {)" + fields + "}}}"; }

}  // namespace

TEST_CASE("tollgate's format: USD per 1M tokens, optional cached price and output limit", "[money][prices]") {
  const auto table = PriceTable::parse(R"({
    "as_of": "2026-01-02", "unit": "USD per 1M tokens", "sources": ["https://example.com"],
    "models": {
      "gpt-x": {"input": 0.15, "output": 0.6, "cached_input": 0.075, "max_output_tokens": 16384},
      "anthropic/claude-x": {"input": 3, "output": 15},
      "anthropic/claude-w": {"input": 3, "output": 15, "cached_input": 0.3, "cache_write_input": 3.75},
      "embed-x": {"input": 0.02, "output": 0}
    }})",
                                       "test.json");
  CHECK(table.as_of() == "2026-01-02");
  CHECK(table.size() == 4);
  CHECK(table.skipped() == 0);

  const ModelPrice* gpt = table.find("openai", "gpt-x");
  REQUIRE(gpt != nullptr);
  CHECK(gpt->price == Price{150'000, 600'000, 75'000});
  CHECK(gpt->has_cached_input);
  CHECK(gpt->max_output_tokens == 16384);

  const ModelPrice* claude = table.find("anthropic", "claude-x");
  REQUIRE(claude != nullptr);
  CHECK(claude->price == Price{3'000'000, 15'000'000, 0});
  CHECK_FALSE(claude->has_cached_input);
  CHECK_FALSE(claude->max_output_tokens.has_value());
  CHECK_FALSE(claude->has_cache_write_input);
  const ModelPrice* writes = table.find("anthropic", "claude-w");
  REQUIRE(writes != nullptr);
  CHECK(writes->price == Price{3'000'000, 15'000'000, 300'000, 3'750'000});
  CHECK(writes->has_cache_write_input);

  CHECK(table.find("openai", "embed-x")->price == Price{20'000, 0, 0});
  // A prefixed key belongs to that provider type only.
  CHECK(table.find("openai", "claude-x") == nullptr);
  CHECK(table.find("anthropic", "gpt-y") == nullptr);
}

TEST_CASE("lookup tries <provider type>/<model> before <model>", "[money][prices]") {
  const auto table = PriceTable::parse(
      R"({"models": {"m": {"input": 1, "output": 2}, "gemini/m": {"input": 3, "output": 4}}})", "test.json");
  CHECK(table.find("gemini", "m")->price.input == 3'000'000);
  CHECK(table.find("openai", "m")->price.input == 1'000'000);
  CHECK(table.find("", "m")->price.input == 1'000'000);
  // A name too long for the stack buffer takes the allocating path and still finds its entry.
  const std::string type(300, 't');
  const auto long_table = PriceTable::parse(
      R"({"models": {")" + type + R"(/m": {"input": 5, "output": 6}, "m": {"input": 1, "output": 2}}})", "t");
  CHECK(long_table.find(type, "m")->price.input == 5'000'000);
}

TEST_CASE("LiteLLM's format: per-token costs, skipped entries, max_tokens fallback", "[money][prices]") {
  const auto table = PriceTable::load(kFixture);
  CHECK(table.as_of().empty());
  CHECK(table.size() == 9);
  CHECK(table.skipped() == 3);  // dall-e-3 (per pixel), whisper-1 (per second), imagen (per image)

  const ModelPrice* mini = table.find("openai", "gpt-4o-mini");
  REQUIRE(mini != nullptr);
  CHECK(mini->price == Price{150'000, 600'000, 75'000});
  CHECK(mini->has_cached_input);
  CHECK(mini->max_output_tokens == 16384);
  CHECK(table.find("openai", "gpt-4.1")->price == Price{2'000'000, 8'000'000, 500'000});

  const ModelPrice* embedding = table.find("openai", "text-embedding-3-small");
  REQUIRE(embedding != nullptr);
  CHECK(embedding->price == Price{20'000, 0, 0});
  CHECK_FALSE(embedding->has_cached_input);
  CHECK(embedding->max_output_tokens == 8191);  // max_tokens stands in for max_output_tokens

  const ModelPrice* opus = table.find("vertex_ai", "claude-opus-4-1");
  REQUIRE(opus != nullptr);
  CHECK(opus->price == Price{15'000'000, 75'000'000, 1'500'000, 18'750'000});
  CHECK(opus->max_output_tokens == 32000);

  CHECK(table.find("openai", "whisper-1") == nullptr);
  CHECK(table.find("openai", "dall-e-3") == nullptr);
  CHECK(table.find("openai", "standard/1024-x-1024/dall-e-3") == nullptr);
  CHECK(table.find("", "sample_spec") == nullptr);
}

TEST_CASE("LiteLLM entries are also found by provider prefix and by bare name", "[money][prices]") {
  const auto table = PriceTable::load(kFixture);
  // "gemini/gemini-2.5-pro" for provider type gemini, and by its bare name for any type.
  const ModelPrice* pro = table.find("gemini", "gemini-2.5-pro");
  REQUIRE(pro != nullptr);
  CHECK(pro->price == Price{1'250'000, 10'000'000, 125'000});
  CHECK(pro->max_output_tokens == 65535);
  CHECK(*table.find("openai", "gemini-2.5-pro") == *pro);
  // A host's model ("groq/...") for an openai-type deployment of it.
  const ModelPrice* llama = table.find("openai", "llama-3.3-70b-versatile");
  REQUIRE(llama != nullptr);
  CHECK(llama->price == Price{590'000, 790'000, 0});
  // An unprefixed key also as "<litellm_provider>/<key>"; the key itself still answers.
  const ModelPrice* sonnet = table.find("anthropic", "claude-sonnet-4-5-20250929");
  REQUIRE(sonnet != nullptr);
  CHECK(sonnet->price == Price{3'000'000, 15'000'000, 300'000, 3'750'000});
  CHECK(sonnet->has_cache_write_input);
  CHECK(*table.find("openai", "claude-sonnet-4-5-20250929") == *sonnet);
  CHECK(table.find("", "anthropic/claude-haiku-4-5-20251001")->price.output == 5'000'000);
  // litellm_provider is not mapped: gemini-2.5-flash (vertex_ai-language-models) by its key only.
  CHECK(table.find("gemini", "gemini-2.5-flash")->price == Price{300'000, 2'500'000, 30'000});
  CHECK(table.find("", "vertex_ai-language-models/gemini-2.5-flash") != nullptr);
}

TEST_CASE("a key written in a LiteLLM file wins over a derived name", "[money][prices]") {
  const auto table = PriceTable::parse(R"({
    "azure/gpt-4o": {"input_cost_per_token": 5e-06, "output_cost_per_token": 1.5e-05, "litellm_provider": "azure"},
    "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "litellm_provider": "openai"},
    "azure/o9": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06, "litellm_provider": "azure"},
    "bedrock/o9": {"input_cost_per_token": 2e-06, "output_cost_per_token": 2e-06, "litellm_provider": "bedrock"}
  })",
                                       "test.json");
  CHECK(table.find("openai", "gpt-4o")->price.input == 2'500'000);
  CHECK(table.find("azure", "gpt-4o")->price.input == 5'000'000);
  // Two derived names alike: the first key in sorted order.
  CHECK(table.find("openai", "o9")->price.input == 1'000'000);
  CHECK(table.size() == 4);
}

TEST_CASE("errors name the source and the key path", "[money][prices]") {
  CHECK(error_of(model_entry(R"("input": "abc", "output": 1)")) ==
        R"(test.json: models.gpt-4o.input: must be a number >= 0, got "abc")");
  CHECK(error_of(model_entry(R"("input": 1, "output": -1)")) ==
        "test.json: models.gpt-4o.output: must be a number >= 0, got -1");
  CHECK(error_of(model_entry(R"("input": 1, "output": 2, "cached_input": null)")) == "");
  CHECK(error_of(model_entry(R"("input": 1, "output": 2, "cached_input": true)")) ==
        "test.json: models.gpt-4o.cached_input: must be a number >= 0, got true");
  CHECK(error_of(model_entry(R"("input": 2e6, "output": 1)")) ==
        "test.json: models.gpt-4o.input: must be at most 1000000 USD per 1M tokens, got 2000000.0");
  CHECK(error_of(model_entry(R"("input": 1)")) == "test.json: models.gpt-4o.output: is required");
  CHECK(error_of(model_entry(R"("output": 1)")) == "test.json: models.gpt-4o.input: is required");
  CHECK(error_of(model_entry(R"("input": 1, "output": 2, "cache_input": 1)")) ==
        "test.json: models.gpt-4o.cache_input: unknown field (expected input, output, cached_input, "
        "cache_write_input, max_output_tokens)");
  CHECK(error_of(model_entry(R"("input": 1, "output": 2, "max_output_tokens": 1.5)")) ==
        "test.json: models.gpt-4o.max_output_tokens: must be a whole number > 0, got 1.5");
  CHECK(error_of(model_entry(R"("input": 1, "output": 2, "max_output_tokens": 0)")) ==
        "test.json: models.gpt-4o.max_output_tokens: must be a whole number > 0, got 0");
  CHECK(error_of(R"({"models": {"gpt-4o": 5}})") ==
        "test.json: models.gpt-4o: must be an object {input, output, cached_input?, cache_write_input?, "
        "max_output_tokens?}, got 5");
  CHECK(error_of(R"({"models": {"": {"input": 1, "output": 1}}})") ==
        "test.json: models: a model name must not be empty");
  CHECK(error_of(R"({"as_of": 20260101, "models": {}})") == "test.json: as_of: must be a date string, got 20260101");
  CHECK(error_of(R"({"unit": "USD per 1K tokens", "models": {}})") ==
        R"(test.json: unit: must be "USD per 1M tokens", got "USD per 1K tokens")");
  CHECK(error_of(R"({"gpt-x": {"input_cost_per_token": "x", "output_cost_per_token": 1e-06}})") ==
        R"(test.json: gpt-x.input_cost_per_token: must be a number >= 0, got "x")");
  CHECK(error_of(R"({"gpt-x": {"input_cost_per_token": 1e-06, "output_cost_per_token": -1e-06}})") ==
        "test.json: gpt-x.output_cost_per_token: must be a number >= 0, got -1e-06");
  CHECK(error_of(R"({"gpt-x": [1, 2]})") == "test.json: gpt-x: must be an object, got [1,2]");
  CHECK(error_of("[1]") == "test.json: must be a JSON object, got [1]");
  CHECK(error_of(R"({"models": {)").rfind("test.json: not valid JSON: ", 0) == 0);
  CHECK(error_of("").rfind("test.json: not valid JSON: ", 0) == 0);
}

TEST_CASE("a price file that cannot be read is an error naming it", "[money][prices]") {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/tests/fixtures/prices/no-such-file.json";
  try {
    PriceTable::load(path);
    FAIL("no PriceError");
  } catch (const PriceError& e) {
    CHECK(std::string(e.what()) == path + ": cannot read: No such file or directory");
  }
}

TEST_CASE("the built-in prices are config/prices.json", "[money][prices]") {
  const auto builtin = PriceTable::builtin();
  const auto shipped = PriceTable::load(std::string(TOLLGATE_SOURCE_DIR) + "/config/prices.json");
  CHECK(builtin.size() == shipped.size());
  CHECK(builtin.as_of() == shipped.as_of());
  CHECK(builtin.size() > 30);
  CHECK_FALSE(builtin.as_of().empty());

  const ModelPrice* mock = builtin.find("mock", "mock-1");
  REQUIRE(mock != nullptr);
  CHECK(mock->price == Price{100'000, 200'000, 50'000});
  CHECK(builtin.find("openai", "gpt-4o-mini")->price == Price{150'000, 600'000, 75'000});
  for (const auto& [type, model] : std::initializer_list<std::pair<const char*, const char*>>{
           {"openai", "gpt-4o"},
           {"openai", "gpt-4.1"},
           {"openai", "o4-mini"},
           {"openai", "text-embedding-3-small"},
           {"anthropic", "claude-sonnet-4-5"},
           {"anthropic", "claude-sonnet-4-5-20250929"},
           {"anthropic", "claude-haiku-4-5"},
           {"gemini", "gemini-2.5-pro"},
           {"gemini", "gemini-2.5-flash"},
           {"openai", "llama-3.3-70b-versatile"}}) {
    INFO(type << "/" << model);
    const ModelPrice* price = builtin.find(type, model);
    REQUIRE(price != nullptr);
    CHECK(price->price == shipped.find(type, model)->price);
    CHECK(price->price.input > 0);
  }
}
