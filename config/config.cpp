// Lookups on the resolved configuration.
#include "config/config.hpp"

#include <algorithm>

namespace tollgate::config {

const ModelConfig* Config::find_model(std::string_view name) const noexcept {
  auto it = std::find_if(models.begin(), models.end(),
                         [name](const ModelConfig& model) { return model.name == name; });
  return it == models.end() ? nullptr : &*it;
}

const ProviderConfig* Config::find_provider(std::string_view id) const noexcept {
  auto it = std::find_if(providers.begin(), providers.end(),
                         [id](const ProviderConfig& provider) { return provider.id == id; });
  return it == providers.end() ? nullptr : &*it;
}

}  // namespace tollgate::config
