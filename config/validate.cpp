// Value rules of a parsed configuration: enums, ranges, unique names, cross-references, defaults.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>

#include <date/tz.h>

#include "config/config_error.hpp"
#include "config/internal.hpp"

namespace tollgate::config::detail {
namespace {

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

/// The base URL a provider gets when it sets none; "" when its service has no fixed one (azure and
/// cloudflare embed the customer's resource or account in theirs; mock needs none). Keep in step
/// with adapters/openai/flavors.cpp (a test there compares the two).
std::string default_base_url(std::string_view type, std::string_view flavor) {
  if (type == "anthropic") return "https://api.anthropic.com";
  if (type == "gemini") return "https://generativelanguage.googleapis.com";
  if (type != "openai") return "";
  if (flavor.empty() || flavor == "openai") return "https://api.openai.com/v1";
  if (flavor == "ollama") return "http://127.0.0.1:11434/v1";
  if (flavor == "vllm") return "http://127.0.0.1:8000/v1";
  if (flavor == "groq") return "https://api.groq.com/openai/v1";
  if (flavor == "deepseek") return "https://api.deepseek.com";
  if (flavor == "mistral") return "https://api.mistral.ai/v1";
  if (flavor == "openrouter") return "https://openrouter.ai/api/v1";
  if (flavor == "together") return "https://api.together.ai/v1";
  return "";
}

/// What a flavour without a default base URL must be given, as an example.
std::string base_url_example(std::string_view flavor) {
  if (flavor == "azure") return "your resource's endpoint, e.g. https://my-resource.openai.azure.com";
  if (flavor == "cloudflare")
    return "your account's endpoint, e.g. https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/ai/v1";
  return "a URL starting with http:// or https://";
}

/// RFC 9110 token characters: what a header name may be made of.
bool is_header_token(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

/// "UTC" or a zone of the system's tz database (the same check the budget calendar makes).
bool known_time_zone(const std::string& name) {
  if (name == "UTC") return true;
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

bool is_http_url(std::string_view url) {
  const std::size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  return scheme != 0 && url.size() > scheme;
}

class Validator {
 public:
  Validator(Config& config, const std::string& file) : config_(config), file_(file) {}

  void run() {
    check_enum("logging.level", config_.logging.level, kLogLevels);
    check_enum("logging.format", config_.logging.format, kLogFormats);
    check_enum("auth.mode", config_.auth.mode, kAuthModes);
    check_server();
    check_storage();
    check_providers();
    check_models();
    check_routing();
    check_cache();
    check_dedup();
    check_budgets();
    if (config_.pricing.file.empty()) fail("pricing.file", "must not be empty");
    // The webhook URL is not echoed: chat webhooks carry their token in the path.
    if (!config_.alerts.webhook.empty() && !is_http_url(config_.alerts.webhook)) {
      fail("alerts.webhook", "expected an http:// or https:// URL (or empty for no webhook)");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& path, std::string what) const {
    throw ConfigError(file_, path, std::move(what));
  }

  void check_enum(const std::string& path, const std::string& value, const std::vector<std::string>& allowed) const {
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
    std::string what = "expected one of " + join(allowed, "|") + ", got " + quote(value);
    const std::string suggestion = closest_match(value, allowed);
    if (!suggestion.empty()) what += "; did you mean \"" + suggestion + "\"?";
    fail(path, std::move(what));
  }

  void check_positive(const std::string& path, std::chrono::milliseconds value) const {
    if (value.count() <= 0) fail(path, "must be longer than 0");
  }

  void check_server() const {
    const ServerConfig& server = config_.server;
    if (server.host.empty()) fail("server.host", "must not be empty");
    if (server.max_body_bytes == 0) fail("server.max_body_bytes", "must be greater than 0");
    if (server.max_header_bytes == 0) fail("server.max_header_bytes", "must be greater than 0");
    check_positive("server.request_timeout", server.request_timeout);
    check_positive("server.read_timeout", server.read_timeout);
    check_positive("server.idle_timeout", server.idle_timeout);
  }

  void check_storage() const {
    if (config_.storage.data_dir.empty()) fail("storage.data_dir", "must not be empty");
    const std::string& redis = config_.storage.redis;
    // Not echoed: a Redis URL may carry a password.
    if (!redis.empty() && !redis.starts_with("redis://") && !redis.starts_with("rediss://")) {
      fail("storage.redis", "expected a redis:// or rediss:// URL (or empty for in-process counters)");
    }
  }

  void check_providers() {
    std::map<std::string, std::size_t> first_index;
    for (std::size_t i = 0; i < config_.providers.size(); ++i) {
      ProviderConfig& provider = config_.providers[i];
      const std::string path = "providers[" + std::to_string(i) + "]";
      if (provider.id.empty()) fail(path + ".id", "is required and must not be empty");
      auto [it, inserted] = first_index.emplace(provider.id, i);
      if (!inserted) {
        fail(path + ".id", "duplicate provider id " + quote(provider.id) + " (first at providers[" +
                               std::to_string(it->second) + "])");
      }
      if (provider.type.empty()) fail(path + ".type", "is required: one of " + join(kProviderTypes, "|"));
      check_enum(path + ".type", provider.type, kProviderTypes);
      check_flavor(path, provider);

      if (provider.base_url.empty()) {
        provider.base_url = default_base_url(provider.type, provider.flavor);
        if (provider.base_url.empty() && provider.type == "openai") {
          fail(path + ".base_url", "is required for flavor " + provider.flavor + ": " + base_url_example(provider.flavor));
        }
      } else {
        if (!is_http_url(provider.base_url)) {
          fail(path + ".base_url", "expected " + base_url_example(provider.flavor) + ", got " + quote(provider.base_url));
        }
        while (provider.base_url.ends_with('/')) provider.base_url.pop_back();
      }
      check_headers(path, provider);

      provider.key_limits.resize(provider.keys.size());
      std::vector<std::string> keys;
      std::vector<KeyLimits> limits;
      for (std::size_t k = 0; k < provider.keys.size(); ++k) {
        const std::string_view trimmed = trim(provider.keys[k]);
        if (trimmed.empty()) continue;
        keys.emplace_back(trimmed);
        limits.push_back(provider.key_limits[k]);
      }
      provider.keys = std::move(keys);
      provider.key_limits = std::move(limits);
    }
  }

  /// `flavor` only on type openai (defaulted to "openai" there), `api_version` only on flavor azure
  /// (defaulted to the current GA release there).
  void check_flavor(const std::string& path, ProviderConfig& provider) const {
    const std::vector<std::string> flavors(std::begin(kProviderFlavors), std::end(kProviderFlavors));
    if (provider.type != "openai") {
      if (!provider.flavor.empty()) {
        fail(path + ".flavor", "only valid with type openai (this provider has type " + quote(provider.type) +
                                   "); flavors: " + join(flavors, "|"));
      }
    } else if (provider.flavor.empty()) {
      provider.flavor = "openai";
    } else {
      check_enum(path + ".flavor", provider.flavor, flavors);
    }
    if (provider.flavor != "azure") {
      if (!provider.api_version.empty()) {
        fail(path + ".api_version",
             "only valid with flavor azure (this provider's flavor is " +
                 quote(provider.flavor.empty() ? provider.type : provider.flavor) + ")");
      }
      return;
    }
    if (provider.api_version.empty()) provider.api_version = kAzureDefaultApiVersion;
    // It goes into the query string as is: only the characters Azure's versions use.
    for (const char c : provider.api_version) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_';
      if (!ok) {
        fail(path + ".api_version", "expected an Azure OpenAI API version like " +
                                        std::string(kAzureDefaultApiVersion) + " or 2025-04-01-preview, got " +
                                        quote(provider.api_version));
      }
    }
  }

  /// Extra static headers: type openai only, valid names, no credentials (those live in `keys`, which
  /// are stored encrypted and never shown) and nothing tollgate sets itself.
  void check_headers(const std::string& path, const ProviderConfig& provider) const {
    if (provider.headers.empty()) return;
    if (provider.type != "openai") {
      fail(path + ".headers", "only applied to type openai providers (this provider has type " +
                                  quote(provider.type) + ")");
    }
    std::vector<std::string> seen;
    for (const auto& [name, value] : provider.headers) {
      const std::string key_path = path + ".headers." + name;
      if (!is_header_token(name)) fail(key_path, "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)");
      const std::string folded = lower(name);
      if (folded == "authorization" || folded == "api-key" || folded == "x-api-key") {
        fail(key_path, "credentials are not taken from headers: put the key in " + path +
                           ".keys (or register it with POST /api/v1/keys)");
      }
      if (folded == "host" || folded == "content-type" || folded == "content-length" || folded == "transfer-encoding" ||
          folded == "connection" || folded == "accept" || folded == "x-request-id") {
        fail(key_path, "is set by tollgate itself");
      }
      if (std::find(seen.begin(), seen.end(), folded) != seen.end()) fail(key_path, "duplicate header (names ignore case)");
      seen.push_back(folded);
      // Not echoed: a header value may be a token.
      if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        fail(key_path, "the value must not contain line breaks or NUL");
      }
    }
  }

  void check_models() {
    if (config_.models.empty()) fail("models", "at least one model is required");
    std::vector<std::string> provider_ids;
    for (const ProviderConfig& provider : config_.providers) provider_ids.push_back(provider.id);

    std::map<std::string, std::size_t> first_index;
    for (std::size_t i = 0; i < config_.models.size(); ++i) {
      ModelConfig& model = config_.models[i];
      const std::string path = "models[" + std::to_string(i) + "]";
      if (model.name.empty()) fail(path + ".name", "is required and must not be empty");
      auto [it, inserted] = first_index.emplace(model.name, i);
      if (!inserted) {
        fail(path + ".name", "duplicate model name " + quote(model.name) + " (first at models[" +
                                 std::to_string(it->second) + "])");
      }
      if (!model.strategy.empty()) check_enum(path + ".strategy", model.strategy, kStrategies);
      if (model.deployments.empty() && model.fallbacks.empty()) {
        fail(path + ".deployments", "model " + quote(model.name) + " needs at least one deployment or fallback");
      }
      for (std::size_t j = 0; j < model.deployments.size(); ++j) {
        check_deployment(path + ".deployments[" + std::to_string(j) + "]", model, model.deployments[j],
                         provider_ids);
      }
    }
    check_fallbacks(first_index);
  }

  void check_deployment(const std::string& path, const ModelConfig& model, DeploymentConfig& deployment,
                        const std::vector<std::string>& provider_ids) const {
    if (deployment.provider.empty()) fail(path + ".provider", "is required");
    if (std::find(provider_ids.begin(), provider_ids.end(), deployment.provider) == provider_ids.end()) {
      std::string what = "unknown provider " + quote(deployment.provider) + " (known: " +
                         (provider_ids.empty() ? std::string("none, add a providers: section") : join(provider_ids, ", ")) +
                         ")";
      const std::string suggestion = closest_match(deployment.provider, provider_ids);
      if (!suggestion.empty()) what += "; did you mean \"" + suggestion + "\"?";
      fail(path + ".provider", std::move(what));
    }
    // Without `model`, the deployment asks the upstream for the client-facing name.
    if (deployment.model.empty()) deployment.model = model.name;
    if (!(deployment.weight >= 0) || !std::isfinite(deployment.weight)) {
      fail(path + ".weight", "must be a number >= 0, got " + format_number(deployment.weight));
    }
    if (deployment.price) {
      const auto check_price = [&](const char* key, const std::optional<double>& price) {
        if (price && !(*price >= 0)) fail(path + ".price." + key, "must be >= 0, got " + format_number(*price));
      };
      check_price("input", deployment.price->input);
      check_price("output", deployment.price->output);
      check_price("cached_input", deployment.price->cached_input);
      check_price("cache_write_input", deployment.price->cache_write_input);
    }
  }

  void check_fallbacks(const std::map<std::string, std::size_t>& index) const {
    const auto& models = config_.models;
    for (std::size_t i = 0; i < models.size(); ++i) {
      const std::vector<std::string>& fallbacks = models[i].fallbacks;
      for (std::size_t j = 0; j < fallbacks.size(); ++j) {
        const std::string path = "models[" + std::to_string(i) + "].fallbacks[" + std::to_string(j) + "]";
        if (fallbacks[j] == models[i].name) fail(path, "a model cannot fall back to itself");
        if (!index.contains(fallbacks[j])) {
          std::vector<std::string> names;
          for (const ModelConfig& model : models) names.push_back(model.name);
          std::string what = "unknown model " + quote(fallbacks[j]);
          const std::string suggestion = closest_match(fallbacks[j], names);
          if (!suggestion.empty()) what += "; did you mean \"" + suggestion + "\"?";
          fail(path, std::move(what));
        }
        if (std::find(fallbacks.begin(), fallbacks.begin() + j, fallbacks[j]) != fallbacks.begin() + j) {
          fail(path, "model " + quote(fallbacks[j]) + " is listed twice");
        }
      }
      const std::vector<std::string>& larger = models[i].context_window_fallbacks;
      for (std::size_t j = 0; j < larger.size(); ++j) {
        const std::string path =
            "models[" + std::to_string(i) + "].context_window_fallbacks[" + std::to_string(j) + "]";
        if (larger[j] == models[i].name) fail(path, "a model cannot fall back to itself");
        if (!index.contains(larger[j])) fail(path, "unknown model " + quote(larger[j]));
      }
    }

    // Depth-first search over "falls back to" edges; a grey node met again closes a cycle.
    enum class Mark { kWhite, kGrey, kBlack };
    std::vector<Mark> marks(models.size(), Mark::kWhite);
    std::vector<std::size_t> stack;
    std::function<void(std::size_t)> visit = [&](std::size_t i) {
      marks[i] = Mark::kGrey;
      stack.push_back(i);
      for (std::size_t j = 0; j < models[i].fallbacks.size(); ++j) {
        const std::size_t next = index.at(models[i].fallbacks[j]);
        if (marks[next] == Mark::kGrey) {
          std::string chain;
          const auto start = std::find(stack.begin(), stack.end(), next);
          for (auto it = start; it != stack.end(); ++it) chain += models[*it].name + " -> ";
          chain += models[next].name;
          fail("models[" + std::to_string(i) + "].fallbacks[" + std::to_string(j) + "]",
               "fallback cycle: " + chain);
        }
        if (marks[next] == Mark::kWhite) visit(next);
      }
      stack.pop_back();
      marks[i] = Mark::kBlack;
    };
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (marks[i] == Mark::kWhite) visit(i);
    }
  }

  void check_routing() const {
    const RoutingConfig& routing = config_.routing;
    check_enum("routing.strategy", routing.strategy, kStrategies);
    if (routing.max_attempts < 1) fail("routing.max_attempts", "must be at least 1");
    if (routing.backoff.max < routing.backoff.base) {
      fail("routing.backoff.max", "must not be shorter than routing.backoff.base");
    }
    check_positive("routing.connect_timeout", routing.connect_timeout);
    check_positive("routing.attempt_timeout", routing.attempt_timeout);
    check_positive("routing.first_byte_timeout", routing.first_byte_timeout);
    check_positive("routing.stream_idle_timeout", routing.stream_idle_timeout);
    const CircuitBreakerConfig& breaker = routing.circuit_breaker;
    if (!(breaker.failure_rate > 0 && breaker.failure_rate <= 1)) {
      fail("routing.circuit_breaker.failure_rate", "must be in (0, 1], got " + format_number(breaker.failure_rate));
    }
    check_positive("routing.circuit_breaker.window", breaker.window);
    check_positive("routing.circuit_breaker.cool_off", breaker.cool_off);
    check_positive("routing.health_check.timeout", routing.health_check.timeout);
    for (const auto& [name, weights] : routing.objectives) {
      const auto check_weight = [&](const char* key, const std::optional<double>& weight) {
        if (weight && !(*weight >= 0 && *weight <= 100)) {
          fail("routing.objectives." + name + "." + key, "must be a number in 0..100, got " + format_number(*weight));
        }
      };
      check_weight("cost", weights.cost);
      check_weight("latency", weights.latency);
      check_weight("quality", weights.quality);
      check_weight("reliability", weights.reliability);
      check_weight("fairness", weights.fairness);
    }
  }

  void check_cache() const {
    check_enum("cache.mode", config_.cache.mode, kCacheModes);
    check_enum("cache.scope", config_.cache.scope, kCacheScopes);
    check_positive("cache.ttl", config_.cache.ttl);
    if (config_.cache.max_bytes == 0) fail("cache.max_bytes", "must be greater than 0");
  }

  void check_dedup() const {
    const double threshold = config_.dedup.semantic.threshold;
    if (!(threshold > 0 && threshold <= 1)) {
      fail("dedup.semantic.threshold", "must be in (0, 1], got " + format_number(threshold));
    }
    const SemanticEmbedderConfig& embedder = config_.dedup.semantic.embedder;
    if (embedder.provider.empty() && embedder.model.empty() && embedder.dimensions == 0) return;
    const std::string path = "dedup.semantic.embedder";
    if (embedder.provider.empty()) fail(path + ".provider", "is required (a configured provider id)");
    else if (const ProviderConfig* provider = config_.find_provider(embedder.provider); provider == nullptr)
      fail(path + ".provider", "unknown provider " + quote(embedder.provider));
    else if (provider->type != "openai" && provider->type != "gemini")
      fail(path + ".provider", "provider " + quote(embedder.provider) + " has type " + quote(provider->type) +
                                   "; only openai-type and gemini providers have an embeddings endpoint");
    else if (std::ranges::find(kFlavorsWithoutEmbeddings, std::string_view(provider->flavor)) !=
             std::end(kFlavorsWithoutEmbeddings))
      fail(path + ".provider", "provider " + quote(embedder.provider) + " has flavor " + quote(provider->flavor) +
                                   ", which has no embeddings endpoint");
    if (embedder.model.empty()) fail(path + ".model", "is required (the provider's embedding model)");
    if (embedder.dimensions == 0) fail(path + ".dimensions", "is required (1..16384: the vector size to ask for)");
  }

  void check_budgets() const {
    for (std::size_t i = 0; i < config_.budgets.size(); ++i) {
      const BudgetConfig& budget = config_.budgets[i];
      const std::string path = "budgets[" + std::to_string(i) + "]";
      check_enum(path + ".scope", budget.scope, kBudgetScopes);
      check_enum(path + ".period", budget.period, kBudgetPeriods);
      check_enum(path + ".enforcement", budget.enforcement, kEnforcements);
      if (!known_time_zone(budget.timezone))
        fail(path + ".timezone", "unknown time zone " + quote(budget.timezone) + " (expected UTC or an IANA name such as Europe/Berlin)");
      if (budget.scope == "global" && !budget.scope_id.empty())
        fail(path + ".scope_id", "a global budget has no scope_id");
      if (!budget.downgrade_to.empty() && budget.enforcement != "soft")
        fail(path + ".downgrade_to", "only a soft budget downgrades; this one is " + quote(budget.enforcement));
      if (!(budget.limit_usd > 0) || !std::isfinite(budget.limit_usd)) {
        fail(path + ".limit_usd", "must be a number > 0, got " + format_number(budget.limit_usd));
      }
      for (std::size_t j = 0; j < budget.alerts.size(); ++j) {
        if (!(budget.alerts[j] > 0 && budget.alerts[j] <= 1)) {
          fail(path + ".alerts[" + std::to_string(j) + "]",
               "must be a fraction of the limit in (0, 1], got " + format_number(budget.alerts[j]));
        }
      }
      if (budget.scope == "model" && !budget.scope_id.empty() && config_.find_model(budget.scope_id) == nullptr) {
        fail(path + ".scope_id", "unknown model " + quote(budget.scope_id));
      }
      if (budget.scope == "provider" && !budget.scope_id.empty() &&
          config_.find_provider(budget.scope_id) == nullptr) {
        fail(path + ".scope_id", "unknown provider " + quote(budget.scope_id));
      }
      if (!budget.downgrade_to.empty() && config_.find_model(budget.downgrade_to) == nullptr) {
        fail(path + ".downgrade_to", "unknown model " + quote(budget.downgrade_to));
      }
    }
  }

  Config& config_;
  const std::string& file_;
};

}  // namespace

void validate(Config& config, const std::string& file) { Validator(config, file).run(); }

}  // namespace tollgate::config::detail
