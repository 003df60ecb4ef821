// The configuration used without a config file, and the model table check-config prints.
#include <algorithm>
#include <sstream>

#include "config/internal.hpp"
#include "config/loader.hpp"

namespace tollgate::config {
namespace {

std::string env_value(const EnvLookup& env, std::string_view name) {
  const std::optional<std::string> value = env(name);
  return value ? std::string(detail::trim(*value)) : std::string();
}

void add_provider(Config& config, std::string id, std::string type, std::string base_url,
                  std::vector<std::string> keys, std::initializer_list<const char*> models, std::string flavor = {}) {
  for (const char* model : models) {
    DeploymentConfig deployment;
    deployment.provider = id;
    deployment.model = model;
    ModelConfig entry;
    entry.name = model;
    entry.deployments.push_back(std::move(deployment));
    config.models.push_back(std::move(entry));
  }
  ProviderConfig provider;
  provider.id = std::move(id);
  provider.type = std::move(type);
  provider.base_url = std::move(base_url);
  provider.keys = std::move(keys);
  provider.flavor = std::move(flavor);
  config.providers.push_back(std::move(provider));
}

/// OLLAMA_BASE_URL as an OpenAI-compatible base: scheme added when missing ("localhost:11434",
/// as OLLAMA_HOST is often written), and "/v1" appended unless already there.
std::string ollama_base_url(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  if (url.find("://") == std::string::npos) url = "http://" + url;
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    throw ConfigError(std::string(detail::kEmbeddedSource), "OLLAMA_BASE_URL",
                      "expected an http:// or https:// URL");
  }
  if (!url.ends_with("/v1")) url += "/v1";
  return url;
}

std::string format_weight(double weight) {
  std::ostringstream out;
  out << weight;
  return out.str();
}

/// Rows of cells printed as left-aligned columns separated by two spaces.
std::string render_table(const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

Config embedded_defaults(const EnvLookup& env, bool* uses_mock_only) {
  Config config;
  config.source = std::string(detail::kEmbeddedSource);

  if (std::string key = env_value(env, "OPENAI_API_KEY"); !key.empty()) {
    add_provider(config, "openai", "openai", "", {std::move(key)}, {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"});
  }
  if (std::string key = env_value(env, "ANTHROPIC_API_KEY"); !key.empty()) {
    add_provider(config, "anthropic", "anthropic", "", {std::move(key)}, {"claude-sonnet-4-5", "claude-haiku-4-5"});
  }
  if (std::string key = env_value(env, "GEMINI_API_KEY"); !key.empty()) {
    add_provider(config, "gemini", "gemini", "", {std::move(key)}, {"gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"});
  }
  if (std::string url = env_value(env, "OLLAMA_BASE_URL"); !url.empty()) {
    add_provider(config, "ollama", "openai", ollama_base_url(std::move(url)), {}, {"llama3.2"}, "ollama");
  }

  const bool mock_only = config.providers.empty();
  if (mock_only) add_provider(config, "mock", "mock", "", {}, {"mock-1"});
  if (uses_mock_only != nullptr) *uses_mock_only = mock_only;

  detail::validate(config, config.source);
  return config;
}

std::string describe_models(const Config& config) {
  std::vector<std::vector<std::string>> models{{"MODEL", "PROVIDER", "TYPE", "UPSTREAM MODEL", "WEIGHT", "FALLBACKS"}};
  for (const ModelConfig& model : config.models) {
    const std::string fallbacks = model.fallbacks.empty() ? "-" : detail::join(model.fallbacks, ", ");
    if (model.deployments.empty()) models.push_back({model.name, "-", "-", "-", "-", fallbacks});
    for (const DeploymentConfig& deployment : model.deployments) {
      const ProviderConfig* provider = config.find_provider(deployment.provider);
      models.push_back({model.name, deployment.provider, provider != nullptr ? provider->type : "?",
                        deployment.model, format_weight(deployment.weight), fallbacks});
    }
  }

  std::vector<std::vector<std::string>> providers;
  for (const ProviderConfig& provider : config.providers) {
    const std::size_t keys = provider.keys.size();
    // An OpenAI-compatible service other than OpenAI itself shows as e.g. "openai (azure)".
    const bool flavoured = !provider.flavor.empty() && provider.flavor != "openai";
    providers.push_back({provider.id, flavoured ? provider.type + " (" + provider.flavor + ")" : provider.type,
                         provider.base_url.empty() ? "(built in)" : provider.base_url,
                         std::to_string(keys) + (keys == 1 ? " key" : " keys")});
  }

  return "models (" + config.source + "):\n" + render_table(models, "  ") + "\nproviders:\n" +
         render_table(providers, "  ");
}

}  // namespace tollgate::config
