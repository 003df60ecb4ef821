// ProviderRegistry: one core::Provider per configured provider, built from the config.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "adapters/http/upstream_client.hpp"
#include "config/config.hpp"
#include "core/identity/upstream_keys.hpp"
#include "core/provider.hpp"

namespace tollgate::adapters {

/// Builds and owns the providers of one config: `openai` → HttpProvider(OpenAiAdapter for the
/// provider's flavour), `anthropic` → HttpProvider(AnthropicAdapter), `gemini` →
/// HttpProvider(GeminiAdapter), `mock` → MockProvider; each type's default base URL filled in when
/// the config gives none. Immutable after construction, so lookups are thread-safe. The
/// client must outlive the registry.
class ProviderRegistry {
 public:
  /// Throws config::ConfigError for a provider type it does not know. HTTP providers draw their
  /// keys from `keys` when given (it must outlive the registry), else from their config entry.
  ProviderRegistry(const config::Config& config, http::UpstreamClient& client, core::UpstreamKeys* keys = nullptr,
                   const core::Clock* clock = nullptr);
  ~ProviderRegistry();
  ProviderRegistry(const ProviderRegistry&) = delete;
  ProviderRegistry& operator=(const ProviderRegistry&) = delete;

  /// The provider with this config id, or null.
  core::Provider* find(std::string_view id) const;
  /// Every provider, in config order.
  std::vector<core::Provider*> all() const;

 private:
  std::vector<std::unique_ptr<core::Provider>> providers_;
};

}  // namespace tollgate::adapters
