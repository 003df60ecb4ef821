// Reads tollgate's YAML configuration into Config: known keys only, ${VAR} expansion, typed values.
#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/internal.hpp"

namespace tollgate::config {
namespace {

using KnownKeys = std::initializer_list<std::string_view>;

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string item_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "nothing";
  }
}

/// One value in the document and the key path that names it in errors.
struct Field {
  YAML::Node node;
  std::string path;

  /// Absent keys and explicit nulls ("key:" or "key: ~") both leave the default in place.
  bool present() const { return node.IsDefined() && !node.IsNull(); }
};

/// Turns the YAML tree into a Config. Checks structure and types; value rules live in validate().
class Parser {
 public:
  Parser(const std::string& file, const EnvLookup& env) : file_(file), env_(env) {}

  Config parse(const YAML::Node& root) {
    Config config;
    const Field top{root, ""};
    if (!top.present()) return config;
    if (!root.IsMap()) fail("", "expected a mapping of sections (server:, models:, …), got " + kind_of(root));
    check_keys(top, {"server", "logging", "auth", "storage", "providers", "models", "routing", "cache",
                     "dedup", "budgets", "pricing", "alerts", "metrics"});
    parse_server(field(top, "server"), config.server);
    parse_logging(field(top, "logging"), config.logging);
    parse_auth(field(top, "auth"), config.auth);
    parse_storage(field(top, "storage"), config.storage);
    parse_list(field(top, "providers"), config.providers, &Parser::parse_provider);
    parse_list(field(top, "models"), config.models, &Parser::parse_model);
    parse_routing(field(top, "routing"), config.routing);
    parse_cache(field(top, "cache"), config.cache);
    parse_dedup(field(top, "dedup"), config.dedup);
    parse_list(field(top, "budgets"), config.budgets, &Parser::parse_budget);
    parse_pricing(field(top, "pricing"), config.pricing);
    parse_alerts(field(top, "alerts"), config.alerts);
    parse_metrics(field(top, "metrics"), config.metrics);
    return config;
  }

 private:
  [[noreturn]] void fail(const std::string& path, std::string what) const {
    throw ConfigError(file_, path, std::move(what));
  }

  static Field field(const Field& map, std::string_view key) {
    const YAML::Node& node = map.node;
    return Field{node[std::string(key)], child_path(map.path, key)};
  }

  /// True when `section` is a mapping (checking that every key is known); false when absent.
  bool check_keys(const Field& section, KnownKeys known) const {
    if (!section.present()) return false;
    if (!section.node.IsMap()) fail(section.path, "expected a mapping, got " + kind_of(section.node));
    std::set<std::string> seen;
    for (auto it = section.node.begin(); it != section.node.end(); ++it) {
      if (!it->first.IsScalar()) fail(section.path, "keys must be plain names, got " + kind_of(it->first));
      const std::string key = it->first.Scalar();
      const std::string path = child_path(section.path, key);
      if (!seen.insert(key).second) fail(path, "duplicate key");
      bool is_known = false;
      for (std::string_view name : known) is_known = is_known || name == key;
      if (is_known) continue;
      const std::vector<std::string> names(known.begin(), known.end());
      const std::string suggestion = detail::closest_match(key, names);
      if (!suggestion.empty()) fail(path, "unknown key; did you mean \"" + suggestion + "\"?");
      fail(path, "unknown key (known: " + detail::join(names, ", ") + ")");
    }
    return true;
  }

  /// The scalar's text after ${VAR} expansion with `env`.
  std::string text(const Field& f, const EnvLookup& env) const {
    if (!f.node.IsScalar()) fail(f.path, "expected a single value, got " + kind_of(f.node));
    return expand_env(f.node.Scalar(), env, file_, f.path);
  }
  std::string text(const Field& f) const { return text(f, env_); }

  void read(const Field& f, std::string& out) const {
    if (f.present()) out = text(f);
  }

  void read(const Field& f, bool& out) const {
    if (!f.present()) return;
    const std::string value = text(f);
    if (value == "true" || value == "yes" || value == "on") {
      out = true;
    } else if (value == "false" || value == "no" || value == "off") {
      out = false;
    } else {
      fail(f.path, "expected true or false, got " + detail::quote(value));
    }
  }

  template <typename Int>
  void read(const Field& f, Int& out, long long min, long long max) const {
    if (!f.present()) return;
    const std::string value = text(f);
    const std::string_view digits = detail::trim(value);
    long long number = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        number < min || number > max) {
      fail(f.path, "expected an integer " + std::to_string(min) + ".." + std::to_string(max) +
                       ", got " + detail::quote(value));
    }
    out = static_cast<Int>(number);
  }

  void read_number(const Field& f, double& out) const {
    if (!f.present()) return;
    out = number(f, text(f));
  }

  double number(const Field& f, const std::string& value) const {
    const std::string_view digits = detail::trim(value);
    double result = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), result);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        !std::isfinite(result)) {
      fail(f.path, "expected a number, got " + detail::quote(value));
    }
    return result;
  }

  void read_duration(const Field& f, std::chrono::milliseconds& out) const {
    if (!f.present()) return;
    const std::string value = text(f);
    try {
      out = parse_duration(value);
    } catch (const std::invalid_argument&) {
      fail(f.path, "expected a duration like 200ms, 30s, 5m, 1h, 1d or a number of seconds, got " +
                       detail::quote(value));
    }
  }

  void read_size(const Field& f, std::uint64_t& out) const {
    if (!f.present()) return;
    const std::string value = text(f);
    try {
      out = parse_size(value);
    } catch (const std::invalid_argument&) {
      fail(f.path, "expected a size like 65536, 64KiB, 8MiB, 1GiB or 10MB, got " + detail::quote(value));
    }
  }

  void check_list(const Field& f) const {
    if (!f.node.IsSequence()) fail(f.path, "expected a list, got " + kind_of(f.node));
  }

  void read_strings(const Field& f, std::vector<std::string>& out) const {
    if (!f.present()) return;
    check_list(f);
    out.clear();
    for (std::size_t i = 0; i < f.node.size(); ++i) {
      out.push_back(text(Field{f.node[i], item_path(f.path, i)}));
    }
  }

  void read_numbers(const Field& f, std::vector<double>& out) const {
    if (!f.present()) return;
    check_list(f);
    out.clear();
    for (std::size_t i = 0; i < f.node.size(); ++i) {
      const Field item{f.node[i], item_path(f.path, i)};
      out.push_back(number(item, text(item)));
    }
  }

  template <typename Item>
  void parse_list(const Field& f, std::vector<Item>& out, void (Parser::*parse_item)(const Field&, Item&) const) const {
    if (!f.present()) return;
    check_list(f);
    out.clear();
    for (std::size_t i = 0; i < f.node.size(); ++i) {
      const Field item{f.node[i], item_path(f.path, i)};
      if (!item.present() || !item.node.IsMap()) fail(item.path, "expected a mapping, got " + kind_of(item.node));
      (this->*parse_item)(item, out.emplace_back());
    }
  }

  void parse_server(const Field& f, ServerConfig& out) const {
    if (!check_keys(f, {"host", "port", "threads", "max_body_bytes", "max_header_bytes", "request_timeout",
                        "read_timeout", "idle_timeout", "max_connections", "shutdown_grace"})) {
      return;
    }
    read(field(f, "host"), out.host);
    // 0 asks the OS for a free port (tests).
    read(field(f, "port"), out.port, 0, 65535);
    read(field(f, "threads"), out.threads, 0, 1024);
    read_size(field(f, "max_body_bytes"), out.max_body_bytes);
    read_size(field(f, "max_header_bytes"), out.max_header_bytes);
    read_duration(field(f, "request_timeout"), out.request_timeout);
    read_duration(field(f, "read_timeout"), out.read_timeout);
    read_duration(field(f, "idle_timeout"), out.idle_timeout);
    read(field(f, "max_connections"), out.max_connections, 1, std::numeric_limits<std::uint32_t>::max());
    read_duration(field(f, "shutdown_grace"), out.shutdown_grace);
  }

  void parse_logging(const Field& f, LoggingConfig& out) const {
    if (!check_keys(f, {"level", "format", "log_bodies"})) return;
    read(field(f, "level"), out.level);
    read(field(f, "format"), out.format);
    read(field(f, "log_bodies"), out.log_bodies);
  }

  void parse_auth(const Field& f, AuthConfig& out) const {
    if (!check_keys(f, {"mode", "allow_open_on_public"})) return;
    read(field(f, "mode"), out.mode);
    read(field(f, "allow_open_on_public"), out.allow_open_on_public);
  }

  void parse_storage(const Field& f, StorageConfig& out) const {
    if (!check_keys(f, {"data_dir", "redis"})) return;
    read(field(f, "data_dir"), out.data_dir);
    read(field(f, "redis"), out.redis);
  }

  void parse_provider(const Field& f, ProviderConfig& out) const {
    check_keys(f, {"id", "type", "base_url", "keys", "flavor", "api_version", "headers"});
    read(field(f, "id"), out.id);
    read(field(f, "type"), out.type);
    read(field(f, "base_url"), out.base_url);
    read(field(f, "flavor"), out.flavor);
    read(field(f, "api_version"), out.api_version);
    const Field headers = field(f, "headers");
    if (headers.present()) {
      if (!headers.node.IsMap()) fail(headers.path, "expected a mapping of header names to values, got " + kind_of(headers.node));
      std::set<std::string> seen;
      for (auto it = headers.node.begin(); it != headers.node.end(); ++it) {
        if (!it->first.IsScalar()) fail(headers.path, "header names must be plain names, got " + kind_of(it->first));
        const std::string name = it->first.Scalar();
        const Field value{it->second, child_path(headers.path, name)};
        if (!seen.insert(name).second) fail(value.path, "duplicate header");
        out.headers.emplace_back(name, value.present() ? text(value) : std::string());
      }
    }
    const Field keys = field(f, "keys");
    if (!keys.present()) return;
    check_list(keys);
    // An unset ${VAR} in a key means "no key" rather than an error, so one config can list
    // ["${OPENAI_API_KEY}"] whether or not that variable is set; validate() drops the empty key.
    const EnvLookup unset_is_empty = [this](std::string_view name) -> std::optional<std::string> {
      std::optional<std::string> value = env_(name);
      return value ? value : std::optional<std::string>(std::string());
    };
    for (std::size_t i = 0; i < keys.node.size(); ++i) {
      const Field item{keys.node[i], item_path(keys.path, i)};
      KeyLimits& limits = out.key_limits.emplace_back();
      if (!item.node.IsMap()) {
        out.keys.push_back(text(item, unset_is_empty));
        continue;
      }
      // {key: "${OPENAI_API_KEY_2}", rpm: 500, tpm: 90000}: a key with its own limits.
      check_keys(item, {"key", "rpm", "tpm"});
      const Field key = field(item, "key");
      if (!key.present()) fail(item.path + ".key", "is required in a key with limits");
      out.keys.push_back(text(key, unset_is_empty));
      read(field(item, "rpm"), limits.rpm, 0, 1'000'000'000);
      read(field(item, "tpm"), limits.tpm, 0, 1'000'000'000'000);
    }
  }

  void parse_model(const Field& f, ModelConfig& out) const {
    check_keys(f, {"name", "deployments", "fallbacks", "context_window_fallbacks", "strategy"});
    read(field(f, "name"), out.name);
    parse_list(field(f, "deployments"), out.deployments, &Parser::parse_deployment);
    read_strings(field(f, "fallbacks"), out.fallbacks);
    read_strings(field(f, "context_window_fallbacks"), out.context_window_fallbacks);
    read(field(f, "strategy"), out.strategy);
  }

  void parse_deployment(const Field& f, DeploymentConfig& out) const {
    check_keys(f, {"provider", "model", "weight", "tier", "price", "rpm", "tpm", "max_concurrency"});
    read(field(f, "provider"), out.provider);
    read(field(f, "model"), out.model);
    read_number(field(f, "weight"), out.weight);
    read(field(f, "tier"), out.tier);
    read(field(f, "rpm"), out.rpm, std::int64_t{0}, std::int64_t{1'000'000'000});
    read(field(f, "tpm"), out.tpm, std::int64_t{0}, std::int64_t{1'000'000'000'000});
    read(field(f, "max_concurrency"), out.max_concurrency, 0, 1'000'000);
    const Field price = field(f, "price");
    if (!check_keys(price, {"input", "output", "cached_input", "cache_write_input"})) return;
    PriceOverride& override = out.price.emplace();
    const auto read_price = [&](std::string_view key, std::optional<double>& slot) {
      const Field value = field(price, key);
      if (value.present()) slot = number(value, text(value));
    };
    read_price("input", override.input);
    read_price("output", override.output);
    read_price("cached_input", override.cached_input);
    read_price("cache_write_input", override.cache_write_input);
  }

  void parse_routing(const Field& f, RoutingConfig& out) const {
    if (!check_keys(f, {"strategy", "max_attempts", "backoff", "connect_timeout", "attempt_timeout",
                        "first_byte_timeout", "stream_idle_timeout", "wait_for_capacity", "queue_timeout",
                        "circuit_breaker", "objectives", "health_check"})) {
      return;
    }
    read_duration(field(f, "wait_for_capacity"), out.wait_for_capacity);
    read_duration(field(f, "queue_timeout"), out.queue_timeout);
    const Field breaker = field(f, "circuit_breaker");
    if (check_keys(breaker, {"failure_rate", "min_requests", "window", "cool_off", "half_open_probes"})) {
      read_number(field(breaker, "failure_rate"), out.circuit_breaker.failure_rate);
      read(field(breaker, "min_requests"), out.circuit_breaker.min_requests, 1, 1'000'000);
      read_duration(field(breaker, "window"), out.circuit_breaker.window);
      read_duration(field(breaker, "cool_off"), out.circuit_breaker.cool_off);
      read(field(breaker, "half_open_probes"), out.circuit_breaker.half_open_probes, 1, 1000);
    }
    const Field objectives = field(f, "objectives");
    if (check_keys(objectives, {"cost", "latency", "quality", "reliability", "fairness", "high", "low"})) {
      for (const auto& entry : objectives.node) {
        const std::string name = entry.first.as<std::string>();
        const Field weights = field(objectives, name);
        if (!check_keys(weights, {"cost", "latency", "quality", "reliability", "fairness"})) continue;
        ObjectiveWeightsConfig& out_weights = out.objectives.emplace_back(name, ObjectiveWeightsConfig{}).second;
        const auto read_weight = [&](std::string_view key, std::optional<double>& slot) {
          const Field value = field(weights, key);
          if (value.present()) slot = number(value, text(value));
        };
        read_weight("cost", out_weights.cost);
        read_weight("latency", out_weights.latency);
        read_weight("quality", out_weights.quality);
        read_weight("reliability", out_weights.reliability);
        read_weight("fairness", out_weights.fairness);
      }
    }
    const Field health = field(f, "health_check");
    if (check_keys(health, {"interval", "timeout"})) {
      read_duration(field(health, "interval"), out.health_check.interval);
      read_duration(field(health, "timeout"), out.health_check.timeout);
    }
    read(field(f, "strategy"), out.strategy);
    read(field(f, "max_attempts"), out.max_attempts, 1, 100);
    const Field backoff = field(f, "backoff");
    if (check_keys(backoff, {"base", "max"})) {
      read_duration(field(backoff, "base"), out.backoff.base);
      read_duration(field(backoff, "max"), out.backoff.max);
    }
    read_duration(field(f, "connect_timeout"), out.connect_timeout);
    read_duration(field(f, "attempt_timeout"), out.attempt_timeout);
    read_duration(field(f, "first_byte_timeout"), out.first_byte_timeout);
    read_duration(field(f, "stream_idle_timeout"), out.stream_idle_timeout);
  }

  void parse_cache(const Field& f, CacheConfig& out) const {
    if (!check_keys(f, {"mode", "ttl", "max_bytes", "scope"})) return;
    read(field(f, "mode"), out.mode);
    read_duration(field(f, "ttl"), out.ttl);
    read_size(field(f, "max_bytes"), out.max_bytes);
    read(field(f, "scope"), out.scope);
  }

  void parse_dedup(const Field& f, DedupConfig& out) const {
    if (!check_keys(f, {"enabled", "recent_window", "semantic"})) return;
    read(field(f, "enabled"), out.enabled);
    read_duration(field(f, "recent_window"), out.recent_window);
    const Field semantic = field(f, "semantic");
    if (check_keys(semantic, {"enabled", "threshold", "embedder"})) {
      read(field(semantic, "enabled"), out.semantic.enabled);
      read_number(field(semantic, "threshold"), out.semantic.threshold);
      const Field embedder = field(semantic, "embedder");
      if (check_keys(embedder, {"provider", "model", "dimensions"})) {
        read(field(embedder, "provider"), out.semantic.embedder.provider);
        read(field(embedder, "model"), out.semantic.embedder.model);
        read(field(embedder, "dimensions"), out.semantic.embedder.dimensions, 1, 16384);
      }
    }
  }

  void parse_budget(const Field& f, BudgetConfig& out) const {
    check_keys(f, {"scope", "scope_id", "period", "timezone", "limit_usd", "enforcement", "alerts", "downgrade_to"});
    read(field(f, "scope"), out.scope);
    read(field(f, "scope_id"), out.scope_id);
    read(field(f, "period"), out.period);
    read(field(f, "timezone"), out.timezone);
    read_number(field(f, "limit_usd"), out.limit_usd);
    read(field(f, "enforcement"), out.enforcement);
    read_numbers(field(f, "alerts"), out.alerts);
    read(field(f, "downgrade_to"), out.downgrade_to);
  }

  void parse_pricing(const Field& f, PricingConfig& out) const {
    if (!check_keys(f, {"file"})) return;
    read(field(f, "file"), out.file);
  }

  void parse_alerts(const Field& f, AlertsConfig& out) const {
    if (!check_keys(f, {"webhook"})) return;
    read(field(f, "webhook"), out.webhook);
  }

  void parse_metrics(const Field& f, MetricsConfig& out) const {
    if (!check_keys(f, {"bearer_token"})) return;
    read(field(f, "bearer_token"), out.bearer_token);
  }

  const std::string& file_;
  const EnvLookup& env_;
};

}  // namespace

Config load_string(std::string_view yaml, const std::string& source, const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    std::string where = "YAML syntax error";
    if (!e.mark.is_null()) {
      where += " at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1);
    }
    throw ConfigError(source, "", where + ": " + e.msg);
  }
  Config config = Parser(source, env).parse(root);
  config.source = source;
  detail::validate(config, source);
  return config;
}

Config load_file(const std::string& path, const EnvLookup& env) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw ConfigError(path, "", "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", std::string("cannot open file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path, "", "cannot read file");
  return load_string(text.str(), path, env);
}

}  // namespace tollgate::config
