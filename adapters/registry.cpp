// ProviderRegistry: maps each configured provider type to its implementation.
#include "adapters/registry.hpp"

#include <string>
#include <utility>

#include "adapters/http_provider.hpp"
#include "adapters/mock/mock_provider.hpp"
#include "adapters/openai/openai_adapter.hpp"
#include "config/config_error.hpp"

namespace tollgate::adapters {
namespace {

constexpr std::string_view kOpenAiDefaultBaseUrl = "https://api.openai.com/v1";

/// A provider type this build has no adapter for yet (anthropic, gemini). It reports itself
/// unavailable, so the router leaves its deployments out; should an attempt reach it anyway, it
/// fails with a retryable kProtocol error and failover moves on. Replace once the adapter lands.
class UnsupportedProvider final : public core::Provider {
 public:
  UnsupportedProvider(std::string id, std::string type)
      : id_(std::move(id)),
        type_(std::move(type)),
        message_("provider type '" + type_ + "' is not supported by this build yet") {}

  std::string_view id() const noexcept override { return id_; }
  std::string_view type() const noexcept override { return type_; }
  bool available() const noexcept override { return false; }

  boost::asio::awaitable<core::AttemptResult> call(core::UpstreamCall) override {
    co_return core::AttemptResult(
        boost::system::in_place_error,
        core::AttemptError{.kind = core::FailureKind::kProtocol,
                           .status = 0,
                           .retryable = true,
                           .message = message_,
                           .body = {},
                           .retry_after = std::nullopt});
  }

 private:
  std::string id_;
  std::string type_;
  std::string message_;
};

}  // namespace

ProviderRegistry::ProviderRegistry(const config::Config& config, http::UpstreamClient& client, core::UpstreamKeys* keys,
                                   const core::Clock* clock) {
  auto openai = std::make_shared<const OpenAiAdapter>();
  providers_.reserve(config.providers.size());
  for (std::size_t i = 0; i < config.providers.size(); ++i) {
    const config::ProviderConfig& provider = config.providers[i];
    if (provider.type == "openai") {
      config::ProviderConfig resolved = provider;
      if (resolved.base_url.empty()) resolved.base_url = kOpenAiDefaultBaseUrl;
      providers_.push_back(std::make_unique<HttpProvider>(std::move(resolved), openai, client, keys, clock));
    } else if (provider.type == "mock") {
      providers_.push_back(std::make_unique<MockProvider>(provider.id));
    } else if (provider.type == "anthropic" || provider.type == "gemini") {
      providers_.push_back(std::make_unique<UnsupportedProvider>(provider.id, provider.type));
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
