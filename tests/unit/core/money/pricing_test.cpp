// Pricing: overrides over the table field by field, unpriced deployments, worst case and primary.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/money/pricing.hpp"
#include "support/price_string.hpp"


using namespace tollgate;
using core::DeploymentPrice;
using core::Price;
using core::PriceTable;
using core::Pricing;

namespace {

const PriceTable& table() {
  static const PriceTable prices = PriceTable::parse(R"({"models": {
      "gpt-x": {"input": 1, "output": 4, "cached_input": 0.5, "max_output_tokens": 1000},
      "anthropic/claude-x": {"input": 3, "output": 15, "cached_input": 0.3, "cache_write_input": 3.75,
                             "max_output_tokens": 64000},
      "nocache": {"input": 2, "output": 8}
    }})",
                                                     "test.json");
  return prices;
}

config::DeploymentConfig deployment(std::string provider, std::string model,
                                    std::optional<config::PriceOverride> price = std::nullopt) {
  config::DeploymentConfig out;
  out.provider = std::move(provider);
  out.model = std::move(model);
  out.price = price;
  return out;
}

config::ModelConfig model(std::string name, std::vector<config::DeploymentConfig> deployments,
                          std::vector<std::string> fallbacks = {}) {
  config::ModelConfig out;
  out.name = std::move(name);
  out.deployments = std::move(deployments);
  out.fallbacks = std::move(fallbacks);
  return out;
}

config::PriceOverride override_of(std::optional<double> input, std::optional<double> output,
                                  std::optional<double> cached_input,
                                  std::optional<double> cache_write_input = std::nullopt) {
  return config::PriceOverride{input, output, cached_input, cache_write_input};
}

config::Config make_config() {
  config::Config config;
  config.source = "tollgate.yaml";
  config.providers = {{"oa", "openai", "", {}}, {"ant", "anthropic", "", {}}, {"local", "openai", "", {}}};
  config.models = {
      model("smart", {deployment("ant", "claude-x"), deployment("oa", "gpt-x", override_of(0.9, {}, {}))}, {"cheap"}),
      model("cheap", {deployment("oa", "gpt-x")}, {"smart", "missing"}),
      model("local", {deployment("local", "llama-local"),
                      deployment("local", "llama-local-priced", override_of(0.1, 0.2, {}))}),
      model("partial", {deployment("local", "unknown-y", override_of(1, {}, {}))}),
      model("again", {deployment("local", "llama-local")}),
      model("nocache", {deployment("oa", "nocache")}),
      model("cached-override", {deployment("oa", "gpt-x", override_of({}, {}, 0.1))}),
      model("full-override", {deployment("ant", "claude-x", override_of(0.25, 1.25, 0.025))}),
      model("write-override", {deployment("ant", "claude-x", override_of({}, {}, {}, 6))}),
      model("empty", {}),
  };
  return config;
}

}  // namespace

TEST_CASE("a deployment takes the table's price for (provider type, model)", "[money][pricing]") {
  const config::Config config = make_config();
  const Pricing pricing(config, table());
  const DeploymentPrice& claude = pricing.of(config.find_model("smart")->deployments[0]);
  CHECK(claude.priced);
  CHECK(claude.price == Price{3'000'000, 15'000'000, 300'000, 3'750'000});
  CHECK(claude.max_output_tokens == 64000);
}

TEST_CASE("an override replaces only the fields it gives", "[money][pricing]") {
  const config::Config config = make_config();
  const Pricing pricing(config, table());

  const DeploymentPrice& input_only = pricing.of(config.find_model("smart")->deployments[1]);
  CHECK(input_only.priced);
  CHECK(input_only.price == Price{900'000, 4'000'000, 500'000, 900'000});
  CHECK(input_only.max_output_tokens == 1000);

  CHECK(pricing.of(config.find_model("cached-override")->deployments[0]).price ==
        Price{1'000'000, 4'000'000, 100'000, 1'000'000});
  // cache_write_input is not given: the table's, not the overridden input.
  CHECK(pricing.of(config.find_model("full-override")->deployments[0]).price ==
        Price{250'000, 1'250'000, 25'000, 3'750'000});
  CHECK(pricing.of(config.find_model("write-override")->deployments[0]).price ==
        Price{3'000'000, 15'000'000, 300'000, 6'000'000});

  SECTION("input and output in the config price a model the table does not know") {
    const DeploymentPrice& local = pricing.of(config.find_model("local")->deployments[1]);
    CHECK(local.priced);
    CHECK(local.price == Price{100'000, 200'000, 100'000, 100'000});  // cached and cache-write prices default to input
    CHECK_FALSE(local.max_output_tokens.has_value());
  }
  SECTION("a table entry without cached prices charges cached and cache-writing tokens at input") {
    CHECK(pricing.of(config.find_model("nocache")->deployments[0]).price ==
          Price{2'000'000, 8'000'000, 2'000'000, 2'000'000});
  }
  SECTION("an override of input alone does not price an unknown model") {
    const DeploymentPrice& partial = pricing.of(config.find_model("partial")->deployments[0]);
    CHECK_FALSE(partial.priced);
    CHECK(partial.price == Price{});
  }
}

TEST_CASE("deployments without a price are listed once each, in config order", "[money][pricing]") {
  const config::Config config = make_config();
  const Pricing pricing(config, table());
  CHECK_FALSE(pricing.of(config.find_model("local")->deployments[0]).priced);
  CHECK(pricing.unpriced() == std::vector<std::string>{"local/llama-local", "local/unknown-y"});
  // Not one of the config's deployments: unpriced, whatever its fields say.
  const config::DeploymentConfig stranger = deployment("oa", "gpt-x");
  CHECK_FALSE(pricing.of(stranger).priced);
}

TEST_CASE("the worst case is the field-by-field maximum over deployments and fallbacks", "[money][pricing]") {
  const config::Config config = make_config();
  const Pricing pricing(config, table());

  // smart -> cheap -> smart (a cycle) and a fallback naming no model: claude-x's input and output,
  // gpt-x's dearer cached price, and the largest output limit.
  const DeploymentPrice& smart = pricing.worst_case(*config.find_model("smart"));
  CHECK(smart.priced);
  CHECK(smart.price == Price{3'000'000, 15'000'000, 500'000, 3'750'000});
  CHECK(smart.max_output_tokens == 64000);
  CHECK(pricing.worst_case(*config.find_model("cheap")) == smart);

  // Field by field: the maximum of each column, not the dearest deployment's row.
  config::Config mixed = make_config();
  mixed.models = {
      model("mixed", {deployment("ant", "claude-x", override_of(0.25, {}, {})), deployment("oa", "nocache")})};
  const Pricing mixed_pricing(mixed, table());
  CHECK(mixed_pricing.worst_case(mixed.models[0]).price == Price{2'000'000, 15'000'000, 2'000'000, 3'750'000});

  // Unpriced deployments add nothing; with none priced the worst case is unpriced.
  CHECK(pricing.worst_case(*config.find_model("local")).price == Price{100'000, 200'000, 100'000, 100'000});
  CHECK(pricing.worst_case(*config.find_model("local")).priced);
  CHECK_FALSE(pricing.worst_case(*config.find_model("partial")).priced);
  CHECK_FALSE(pricing.worst_case(*config.find_model("empty")).priced);
}

TEST_CASE("the primary price is the first deployment's", "[money][pricing]") {
  const config::Config config = make_config();
  const Pricing pricing(config, table());
  const config::ModelConfig& smart = *config.find_model("smart");
  CHECK(&pricing.primary(smart) == &pricing.of(smart.deployments[0]));
  CHECK(pricing.primary(smart).price == Price{3'000'000, 15'000'000, 300'000, 3'750'000});
  CHECK(pricing.primary(*config.find_model("cheap")).price == Price{1'000'000, 4'000'000, 500'000, 1'000'000});
  CHECK_FALSE(pricing.primary(*config.find_model("empty")).priced);
}

TEST_CASE("an override out of range is a start-up error naming the deployment", "[money][pricing]") {
  config::Config config = make_config();
  config.models = {model("bad", {deployment("oa", "gpt-x"), deployment("oa", "gpt-x", override_of({}, 2e6, {}))})};
  try {
    const Pricing pricing(config, table());
    FAIL("no PriceError");
  } catch (const core::PriceError& e) {
    CHECK(std::string(e.what()) ==
          "tollgate.yaml: models.bad.deployments[1].price.output: must be a number >= 0 and at most 1000000 USD "
          "per 1M tokens, got 2000000");
  }
}
