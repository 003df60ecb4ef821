// The resolved configuration: plain structs, filled by the loader, shared as shared_ptr<const Config>.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::config {

using std::chrono::milliseconds;

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;                          // 0: one per core
  std::uint64_t max_body_bytes = 8ull << 20;     // larger bodies get 413
  std::uint64_t max_header_bytes = 16ull << 10;  // larger request heads get 431
  milliseconds request_timeout{600'000};         // whole request, upstream included
  milliseconds read_timeout{30'000};             // to receive one request head and body
  milliseconds idle_timeout{60'000};             // keep-alive connection with no request
  std::uint32_t max_connections = 10'000;        // beyond it new connections are refused
  milliseconds shutdown_grace{30'000};           // in-flight drain bound on SIGTERM
};

struct LoggingConfig {
  std::string level = "info";   // trace|debug|info|warn|error|off
  std::string format = "text";  // text|json
  bool log_bodies = false;      // prompts reach logs only when true
};

struct AuthConfig {
  std::string mode = "auto";  // auto|virtual-keys|open
  bool allow_open_on_public = false;  // open auth off loopback: only when forced here
};

struct StorageConfig {
  std::string data_dir = "./data";
  std::string redis;  // empty: in-process shared counters
};

/// Prices in USD per 1M tokens; absent fields fall back to prices.json.
struct PriceOverride {
  std::optional<double> input;
  std::optional<double> output;
  std::optional<double> cached_input;
  std::optional<double> cache_write_input;  // a prompt token written to the provider's prompt cache
};

/// A config key's own limits (`keys: [{key: ..., rpm: 500, tpm: 90000}]`); 0: none.
struct KeyLimits {
  std::int64_t rpm = 0;
  std::int64_t tpm = 0;
  bool operator==(const KeyLimits&) const = default;
};

/// The OpenAI-compatible services an `openai`-type provider may speak to (`providers[].flavor`).
inline constexpr std::string_view kProviderFlavors[] = {"openai", "azure",   "ollama",     "vllm",     "groq",
                                                        "deepseek", "mistral", "openrouter", "together", "cloudflare"};
/// The flavours whose service has no embeddings endpoint (the adapters' flavour table agrees; a
/// unit test checks it).
inline constexpr std::string_view kFlavorsWithoutEmbeddings[] = {"groq", "deepseek"};
/// Azure OpenAI's `api-version` when a provider sets none: the data-plane inference GA release
/// (https://learn.microsoft.com/azure/ai-services/openai/reference, "Latest GA release").
inline constexpr std::string_view kAzureDefaultApiVersion = "2024-10-21";

struct ProviderConfig {
  std::string id;
  std::string type;      // openai|anthropic|gemini|mock
  std::string base_url;  // defaulted per type (and flavour) when absent
  std::vector<std::string> keys;  // secrets: never logged, never returned
  std::vector<KeyLimits> key_limits;  // keys[i]'s limits; as long as keys once loaded
  std::string flavor;       // type openai only: one of kProviderFlavors; "openai" once validated
  std::string api_version;  // flavor azure only: the `api-version` query value; defaulted when absent
  std::vector<std::pair<std::string, std::string>> headers;  // extra static request headers (never credentials)
};

struct DeploymentConfig {
  std::string provider;  // ProviderConfig::id
  std::string model;     // the upstream model name
  double weight = 1.0;
  std::string tier;      // quality rank for objectives: premium > standard > "" (others rank with "")
  std::optional<PriceOverride> price;
  std::int64_t rpm = 0;  // requests per minute it may take (0: no limit); over it, it is passed over
  std::int64_t tpm = 0;  // tokens per minute (prompt estimate + max output, corrected by usage; 0: no limit)
  int max_concurrency = 0;  // requests in flight at once (0: no limit); excess waits routing.queue_timeout
};

struct ModelConfig {
  std::string name;  // what clients ask for
  std::vector<DeploymentConfig> deployments;
  std::vector<std::string> fallbacks;  // other model names, tried in order
  std::string strategy;                // empty: routing.strategy
  std::vector<std::string> context_window_fallbacks;  // tried instead when the upstream says the prompt is too long
};

struct BackoffConfig {
  milliseconds base{200};
  milliseconds max{10'000};
};

struct CircuitBreakerConfig {
  double failure_rate = 0.5;    // open when failures / requests in the window reach this
  int min_requests = 10;        // ... over at least this many requests
  milliseconds window{30'000};  // sliding window of outcomes
  milliseconds cool_off{15'000};  // open → half-open (doubles after a failed probe, up to 8×)
  int half_open_probes = 1;     // requests let through while half-open
};

/// How much each score counts when a request asks for an objective or a priority; a field left
/// out keeps the built-in weight.
struct ObjectiveWeightsConfig {
  std::optional<double> cost;
  std::optional<double> latency;
  std::optional<double> quality;
  std::optional<double> reliability;
  std::optional<double> fairness;
};

struct HealthCheckConfig {
  milliseconds interval{0};     // 0: no active checks (passive health from traffic only)
  milliseconds timeout{10'000};
};

struct RoutingConfig {
  std::string strategy = "cost-optimized";
  int max_attempts = 4;
  BackoffConfig backoff;
  milliseconds wait_for_capacity{0};  // every candidate resting: wait this long for one (0: 503 at once)
  milliseconds queue_timeout{30'000};  // how long a request waits for a deployment's max_concurrency slot
  CircuitBreakerConfig circuit_breaker;
  /// Keyed by objective (cost, latency, quality, reliability, fairness) or priority (high, low).
  std::vector<std::pair<std::string, ObjectiveWeightsConfig>> objectives;
  HealthCheckConfig health_check;
  milliseconds connect_timeout{10'000};
  milliseconds attempt_timeout{120'000};     // a unary attempt, start to last byte
  milliseconds first_byte_timeout{60'000};   // until the response head / first chunk
  milliseconds stream_idle_timeout{60'000};  // between two chunks of a stream
};

struct CacheConfig {
  std::string mode = "exact";  // exact|semantic|off
  milliseconds ttl{3'600'000};
  std::uint64_t max_bytes = 256ull << 20;
  std::string scope = "key";  // key|team|global
};

/// A provider's embeddings endpoint for semantic matching; provider empty: the built-in local embedder.
struct SemanticEmbedderConfig {
  std::string provider;        // a configured provider id (type openai: POST {base_url}/embeddings)
  std::string model;           // its embedding model, e.g. text-embedding-3-small
  std::size_t dimensions = 0;  // floats asked of the model (its `dimensions` parameter) and expected back
};

struct SemanticDedupConfig {
  bool enabled = false;
  double threshold = 0.95;
  SemanticEmbedderConfig embedder;
};

struct DedupConfig {
  bool enabled = true;
  milliseconds recent_window{0};
  SemanticDedupConfig semantic;
};

struct BudgetConfig {
  std::string scope = "global";  // global|provider|model|virtual_key|team|project|customer|feature
  std::string scope_id;
  std::string period = "monthly";  // daily|weekly|monthly|total
  std::string timezone = "UTC";    // the calendar periods are aligned to (an IANA zone name)
  double limit_usd = 0;
  std::string enforcement = "hard";  // hard|soft|alert
  std::vector<double> alerts;
  std::string downgrade_to;
};

struct PricingConfig {
  std::string file = "config/prices.json";
};

struct AlertsConfig {
  std::string webhook;
};

struct MetricsConfig {
  std::string bearer_token;  // empty: /metrics needs no credential
};

struct Config {
  std::string source;  // file it came from, or "<embedded defaults>"
  ServerConfig server;
  LoggingConfig logging;
  AuthConfig auth;
  StorageConfig storage;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  RoutingConfig routing;
  CacheConfig cache;
  DedupConfig dedup;
  std::vector<BudgetConfig> budgets;
  PricingConfig pricing;
  AlertsConfig alerts;
  MetricsConfig metrics;

  const ModelConfig* find_model(std::string_view name) const noexcept;
  const ProviderConfig* find_provider(std::string_view id) const noexcept;
};

}  // namespace tollgate::config
