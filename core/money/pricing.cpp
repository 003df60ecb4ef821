// Pricing: config overrides over the price table per deployment, and each model's worst case.
#include "core/money/pricing.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

namespace tollgate::core {
namespace {

const DeploymentPrice kUnpriced{};

/// An override figure (USD per 1M tokens) as pico per token; PriceError naming the config key.
std::optional<std::int64_t> override_price(const std::optional<double>& usd, const config::Config& config,
                                           const std::string& path) {
  if (!usd) return std::nullopt;
  const auto pico = pico_per_token(*usd);
  if (!pico)
    throw PriceError(fmt::format("{}: {}: must be a number >= 0 and at most 1000000 USD per 1M tokens, got {}",
                                 config.source, path, *usd));
  return pico;
}

DeploymentPrice resolve(const config::DeploymentConfig& deployment, std::string_view provider_type,
                        const PriceTable& table, const config::Config& config, const std::string& path) {
  const ModelPrice* entry = table.find(provider_type, deployment.model);
  const config::PriceOverride none;
  const config::PriceOverride& over = deployment.price ? *deployment.price : none;

  std::optional<std::int64_t> input = override_price(over.input, config, path + ".price.input");
  std::optional<std::int64_t> output = override_price(over.output, config, path + ".price.output");
  std::optional<std::int64_t> cached = override_price(over.cached_input, config, path + ".price.cached_input");
  std::optional<std::int64_t> written =
      override_price(over.cache_write_input, config, path + ".price.cache_write_input");
  if (entry) {
    if (!input) input = entry->price.input;
    if (!output) output = entry->price.output;
    if (!cached && entry->has_cached_input) cached = entry->price.cached_input;
    if (!written && entry->has_cache_write_input) written = entry->price.cache_write_input;
  }

  DeploymentPrice out;
  if (entry) out.max_output_tokens = entry->max_output_tokens;
  if (input && output) {
    out.priced = true;
    out.price = Price{*input, *output, cached.value_or(*input), written.value_or(*input)};
  }
  return out;
}

void raise_to(DeploymentPrice& worst, const DeploymentPrice& candidate) {
  if (candidate.priced) {
    worst.price.input = std::max(worst.price.input, candidate.price.input);
    worst.price.output = std::max(worst.price.output, candidate.price.output);
    worst.price.cached_input = std::max(worst.price.cached_input, candidate.price.cached_input);
    worst.price.cache_write_input = std::max(worst.price.cache_write_input, candidate.price.cache_write_input);
    worst.priced = true;
  }
  if (candidate.max_output_tokens)
    worst.max_output_tokens = std::max(worst.max_output_tokens.value_or(0), *candidate.max_output_tokens);
}

}  // namespace

Pricing::Pricing(const config::Config& config, const PriceTable& table) {
  std::unordered_set<std::string> listed;
  for (const config::ModelConfig& model : config.models) {
    for (std::size_t i = 0; i < model.deployments.size(); ++i) {
      const config::DeploymentConfig& deployment = model.deployments[i];
      const config::ProviderConfig* provider = config.find_provider(deployment.provider);
      const std::string path = fmt::format("models.{}.deployments[{}]", model.name, i);
      const DeploymentPrice price = resolve(deployment, provider ? provider->type : "", table, config, path);
      deployments_.emplace(&deployment, price);
      if (!price.priced) {
        std::string name = deployment.provider + "/" + deployment.model;
        if (listed.insert(name).second) unpriced_.push_back(std::move(name));
      }
    }
  }

  for (const config::ModelConfig& model : config.models) {
    // Every model reachable through fallbacks, each once: a cycle ends where it began.
    DeploymentPrice worst;
    std::unordered_set<const config::ModelConfig*> seen{&model};
    std::vector<const config::ModelConfig*> pending{&model};
    while (!pending.empty()) {
      const config::ModelConfig* current = pending.back();
      pending.pop_back();
      for (const config::DeploymentConfig& deployment : current->deployments) raise_to(worst, of(deployment));
      for (const std::string& name : current->fallbacks) {
        const config::ModelConfig* next = config.find_model(name);
        if (next && seen.insert(next).second) pending.push_back(next);
      }
    }
    worst_cases_.emplace(&model, worst);
  }
}

const DeploymentPrice& Pricing::of(const config::DeploymentConfig& deployment) const {
  const auto it = deployments_.find(&deployment);
  return it == deployments_.end() ? kUnpriced : it->second;
}

const DeploymentPrice& Pricing::worst_case(const config::ModelConfig& model) const {
  const auto it = worst_cases_.find(&model);
  return it == worst_cases_.end() ? kUnpriced : it->second;
}

const DeploymentPrice& Pricing::primary(const config::ModelConfig& model) const {
  return model.deployments.empty() ? kUnpriced : of(model.deployments.front());
}

std::vector<std::string> Pricing::unpriced() const { return unpriced_; }

}  // namespace tollgate::core
