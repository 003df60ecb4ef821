// ProviderRegistry: maps each configured provider type to its implementation.
#include "adapters/registry.hpp"

#include <string>
#include <utility>

#include "adapters/anthropic/anthropic_adapter.hpp"
#include "adapters/gemini/gemini_adapter.hpp"
#include "adapters/http_provider.hpp"
#include "adapters/mock/mock_provider.hpp"
#include "adapters/openai/openai_adapter.hpp"
#include "config/config_error.hpp"

namespace tollgate::adapters {
namespace {

constexpr std::string_view kAnthropicDefaultBaseUrl = "https://api.anthropic.com";
constexpr std::string_view kGeminiDefaultBaseUrl = "https://generativelanguage.googleapis.com";

/// The provider's config with its type's default base URL filled in when none is given.
config::ProviderConfig with_base_url(const config::ProviderConfig& provider, std::string_view fallback) {
  config::ProviderConfig resolved = provider;
  if (resolved.base_url.empty()) resolved.base_url = fallback;
  return resolved;
}

}  // namespace

ProviderRegistry::ProviderRegistry(const config::Config& config, http::UpstreamClient& client, core::UpstreamKeys* keys,
                                   const core::Clock* clock) {
  auto anthropic = std::make_shared<const AnthropicAdapter>();
  auto gemini = std::make_shared<const GeminiAdapter>();
  providers_.reserve(config.providers.size());
  for (std::size_t i = 0; i < config.providers.size(); ++i) {
    const config::ProviderConfig& provider = config.providers[i];
    if (provider.type == "openai") {
      // One small adapter per provider: it carries the provider's flavour, api_version and headers.
      auto adapter = OpenAiAdapter::for_provider(provider);
      if (adapter == nullptr) {
        throw config::ConfigError(config.source, "providers[" + std::to_string(i) + "].flavor",
                                  "unknown flavor '" + provider.flavor + "'");
      }
      config::ProviderConfig resolved = with_base_url(provider, adapter->flavor().default_base_url);
      if (resolved.base_url.empty()) {
        throw config::ConfigError(config.source, "providers[" + std::to_string(i) + "].base_url",
                                  "is required for flavor " + provider.flavor);
      }
      providers_.push_back(std::make_unique<HttpProvider>(std::move(resolved), std::move(adapter), client, keys, clock));
    } else if (provider.type == "anthropic") {
      providers_.push_back(std::make_unique<HttpProvider>(with_base_url(provider, kAnthropicDefaultBaseUrl), anthropic,
                                                          client, keys, clock));
    } else if (provider.type == "gemini") {
      providers_.push_back(std::make_unique<HttpProvider>(with_base_url(provider, kGeminiDefaultBaseUrl), gemini,
                                                          client, keys, clock));
    } else if (provider.type == "mock") {
      providers_.push_back(std::make_unique<MockProvider>(provider.id));
    } else {
      throw config::ConfigError(config.source, "providers[" + std::to_string(i) + "].type",
                                "unknown provider type '" + provider.type + "'");
    }
  }
}

ProviderRegistry::~ProviderRegistry() = default;

core::Provider* ProviderRegistry::find(std::string_view id) const {
  for (const auto& provider : providers_)
    if (provider->id() == id) return provider.get();
  return nullptr;
}

std::vector<core::Provider*> ProviderRegistry::all() const {
  std::vector<core::Provider*> out;
  out.reserve(providers_.size());
  for (const auto& provider : providers_) out.push_back(provider.get());
  return out;
}

}  // namespace tollgate::adapters
