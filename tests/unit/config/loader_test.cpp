// Loading YAML configuration: the example file, values, and one test per class of error.
#include <catch2/catch.hpp>

#include <map>

#include "config/loader.hpp"
#include "support/env.hpp"

using namespace std::chrono_literals;
using tollgate::config::Config;
using tollgate::config::ConfigError;
using tollgate::config::EnvLookup;
using tollgate::config::load_file;
using tollgate::config::load_string;

namespace {

using tollgate::testing::env_of;

const std::string kMinimal = R"(
providers:
  - {id: openai, type: openai, keys: ["${OPENAI_API_KEY}"]}
models:
  - name: gpt-4o-mini
    deployments: [{provider: openai, model: gpt-4o-mini}]
)";

/// Loads `yaml` expecting a ConfigError; returns it for inspection.
ConfigError load_error(const std::string& yaml, const EnvLookup& env = env_of({})) {
  try {
    load_string(yaml, "tollgate.yaml", env);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError for:\n" << yaml);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("the example file loads and yields the documented values") {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/config/tollgate.example.yaml";
  const Config config = load_file(path, env_of({{"OPENAI_API_KEY", "sk-test-1"}, {"TOLLGATE_PORT", "9090"}}));

  CHECK(config.source == path);
  CHECK(config.server.host == "127.0.0.1");
  CHECK(config.server.port == 9090);
  CHECK(config.server.threads == 0);
  CHECK(config.server.max_body_bytes == 8u << 20);
  CHECK(config.server.max_header_bytes == 16u << 10);
  CHECK(config.server.request_timeout == 600s);
  CHECK(config.server.read_timeout == 30s);
  CHECK(config.server.idle_timeout == 60s);
  CHECK(config.server.max_connections == 10'000u);
  CHECK(config.server.shutdown_grace == 30s);
  CHECK(config.logging.level == "info");
  CHECK(config.logging.format == "text");
  CHECK_FALSE(config.logging.log_bodies);
  CHECK(config.auth.mode == "auto");
  CHECK(config.storage.data_dir == "./data");
  CHECK(config.storage.redis.empty());

  REQUIRE(config.providers.size() == 5);
  const auto* openai = config.find_provider("openai");
  REQUIRE(openai != nullptr);
  CHECK(openai->base_url == "https://api.openai.com/v1");
  // OPENAI_API_KEY_2 is unset: that key is dropped, not an error.
  CHECK(openai->keys == std::vector<std::string>{"sk-test-1"});
  CHECK(config.find_provider("anthropic")->base_url == "https://api.anthropic.com");
  CHECK(config.find_provider("anthropic")->keys.empty());
  CHECK(config.find_provider("gemini")->base_url == "https://generativelanguage.googleapis.com");
  CHECK(config.find_provider("local")->base_url == "http://127.0.0.1:11434/v1");
  CHECK(config.find_provider("mock")->base_url.empty());
  CHECK(config.find_provider("nope") == nullptr);

  REQUIRE(config.models.size() == 5);
  const auto* smart = config.find_model("smart");
  REQUIRE(smart != nullptr);
  CHECK(smart->strategy == "weighted");
  REQUIRE(smart->deployments.size() == 2);
  CHECK(smart->deployments[0].provider == "openai");
  CHECK(smart->deployments[0].model == "gpt-4o");
  CHECK(smart->deployments[0].weight == 3.0);
  CHECK(smart->deployments[0].tier == "premium");
  CHECK_FALSE(smart->deployments[0].price.has_value());
  REQUIRE(smart->deployments[1].price.has_value());
  CHECK(smart->deployments[1].price->input == 3.0);
  CHECK(smart->deployments[1].price->output == 15.0);
  CHECK(smart->deployments[1].price->cached_input == 0.3);
  CHECK(smart->fallbacks == std::vector<std::string>{"gpt-4o-mini"});
  CHECK(config.find_model("gpt-4o-mini")->strategy.empty());
  CHECK(config.find_model("missing") == nullptr);

  CHECK(config.routing.strategy == "cost-optimized");
  CHECK(config.routing.max_attempts == 4);
  CHECK(config.routing.backoff.base == 200ms);
  CHECK(config.routing.backoff.max == 10s);
  CHECK(config.routing.connect_timeout == 10s);
  CHECK(config.routing.attempt_timeout == 120s);
  CHECK(config.routing.first_byte_timeout == 60s);
  CHECK(config.routing.stream_idle_timeout == 60s);
  CHECK(config.cache.mode == "exact");
  CHECK(config.cache.ttl == 1h);
  CHECK(config.cache.max_bytes == 256u << 20);
  CHECK(config.cache.scope == "key");
  CHECK(config.dedup.enabled);
  CHECK(config.dedup.recent_window == 0ms);
  CHECK_FALSE(config.dedup.semantic.enabled);
  CHECK(config.dedup.semantic.threshold == 0.95);

  REQUIRE(config.budgets.size() == 2);
  CHECK(config.budgets[0].scope == "global");
  CHECK(config.budgets[0].period == "monthly");
  CHECK(config.budgets[0].limit_usd == 500.0);
  CHECK(config.budgets[0].enforcement == "hard");
  CHECK(config.budgets[0].alerts == std::vector<double>{0.5, 0.75, 0.9});
  CHECK(config.budgets[1].scope_id == "smart");
  CHECK(config.budgets[1].downgrade_to == "gpt-4o-mini");
  CHECK(config.pricing.file == "config/prices.json");
  CHECK(config.alerts.webhook.empty());
  CHECK(config.metrics.bearer_token.empty());
}

TEST_CASE("the example file loads with no environment at all") {
  const Config config =
      load_file(std::string(TOLLGATE_SOURCE_DIR) + "/config/tollgate.example.yaml", env_of({}));
  CHECK(config.find_provider("openai")->keys.empty());
  CHECK(config.server.port == 8080);
}

TEST_CASE("environment values reach typed fields") {
  const Config config = load_string(R"(
server: {port: "${PORT:-1}", max_body_bytes: "${BODY}", request_timeout: "${RT:-5s}"}
dedup: {enabled: "${DEDUP}"}
providers: [{id: p, type: mock}]
models: [{name: m, deployments: [{provider: p}]}]
)",
                                    "t.yaml", env_of({{"PORT", "9000"}, {"BODY", "1MB"}, {"DEDUP", "false"}}));
  CHECK(config.server.port == 9000);
  CHECK(config.server.max_body_bytes == 1'000'000u);
  CHECK(config.server.request_timeout == 5s);
  CHECK_FALSE(config.dedup.enabled);
  // A deployment without `model` asks the upstream for the client-facing name.
  CHECK(config.models[0].deployments[0].model == "m");
}

TEST_CASE("provider keys: blanks and unset variables are dropped, base_url loses its trailing slash") {
  const Config config = load_string(R"(
providers:
  - id: groq
    type: openai
    base_url: https://api.groq.com/openai/v1/
    keys: ["${K1}", "${K2}", "  ", "literal-key", "${K3:-}"]
models: [{name: m, deployments: [{provider: groq, model: llama}]}]
)",
                                    "t.yaml", env_of({{"K1", "gsk-1"}, {"K2", ""}}));
  const auto& provider = config.providers.at(0);
  CHECK(provider.base_url == "https://api.groq.com/openai/v1");
  CHECK(provider.keys == std::vector<std::string>{"gsk-1", "literal-key"});
}

TEST_CASE("an unset variable outside keys is an error at its key path") {
  const ConfigError e = load_error(kMinimal + "metrics: {bearer_token: \"${METRICS_TOKEN}\"}\n");
  CHECK(e.key_path() == "metrics.bearer_token");
  CHECK(e.file() == "tollgate.yaml");
}

TEST_CASE("error: unknown top-level key") {
  const ConfigError e = load_error(kMinimal + "servers: {port: 80}\n");
  CHECK(e.key_path() == "servers");
  CHECK(std::string(e.what()) == "tollgate.yaml: servers: unknown key; did you mean \"server\"?");
}

TEST_CASE("error: unknown nested key with did-you-mean") {
  const ConfigError e = load_error(kMinimal + "routing: {backoff: {bsae: 1s}}\n");
  CHECK(std::string(e.what()) == "tollgate.yaml: routing.backoff.bsae: unknown key; did you mean \"base\"?");

  const ConfigError deep = load_error(R"(
providers: [{id: openai, type: openai}]
models:
  - name: a
    deployments: [{provider: openai, model: x}]
  - name: b
    deployments: [{provider: openai, model: x, wieght: 2}]
)");
  CHECK(deep.key_path() == "models[1].deployments[0].wieght");
  CHECK(deep.problem() == "unknown key; did you mean \"weight\"?");
}

TEST_CASE("error: unknown key with nothing close lists the known keys") {
  const ConfigError e = load_error(kMinimal + "auth: {password: x}\n");
  CHECK(std::string(e.what()) == "tollgate.yaml: auth.password: unknown key (known: mode, allow_open_on_public)");
}

TEST_CASE("error: wrong type") {
  SECTION("a word where an integer belongs") {
    const ConfigError e = load_error(kMinimal + "server: {port: 80a}\n");
    CHECK(std::string(e.what()) == "tollgate.yaml: server.port: expected an integer 0..65535, got \"80a\"");
  }
  SECTION("an integer out of range") {
    const ConfigError e = load_error(kMinimal + "server: {port: 70000}\n");
    CHECK(e.key_path() == "server.port");
  }
  SECTION("a list where a mapping belongs") {
    const ConfigError e = load_error(kMinimal + "cache: [exact]\n");
    CHECK(std::string(e.what()) == "tollgate.yaml: cache: expected a mapping, got a list");
  }
  SECTION("a mapping where a value belongs") {
    const ConfigError e = load_error(kMinimal + "logging: {level: {x: 1}}\n");
    CHECK(std::string(e.what()) == "tollgate.yaml: logging.level: expected a single value, got a mapping");
  }
  SECTION("not a boolean") {
    const ConfigError e = load_error(kMinimal + "dedup: {enabled: maybe}\n");
    CHECK(std::string(e.what()) == "tollgate.yaml: dedup.enabled: expected true or false, got \"maybe\"");
  }
  SECTION("not a number, inside a list") {
    const ConfigError e = load_error(kMinimal + "budgets: [{limit_usd: 5, alerts: [0.5, half]}]\n");
    CHECK(e.key_path() == "budgets[0].alerts[1]");
  }
  SECTION("a scalar where a list belongs") {
    const ConfigError e = load_error(kMinimal + "budgets: {limit_usd: 5}\n");
    CHECK(e.key_path() == "budgets");
    CHECK(e.problem() == "expected a list, got a mapping");
  }
}

TEST_CASE("error: unknown provider in a deployment") {
  const ConfigError e = load_error(R"(
providers:
  - {id: openai, type: openai}
  - {id: local, type: openai, base_url: "http://127.0.0.1:11434/v1"}
models:
  - name: a
    deployments: [{provider: openai, model: x}]
  - name: b
    deployments: [{provider: opena, model: x}]
)");
  CHECK(std::string(e.what()) ==
        "tollgate.yaml: models[1].deployments[0].provider: unknown provider \"opena\" (known: openai, local); "
        "did you mean \"openai\"?");
}

TEST_CASE("error: duplicate model") {
  const ConfigError e = load_error(kMinimal + R"(
  - name: gpt-4o-mini
    deployments: [{provider: openai, model: gpt-4o-mini}]
)");
  CHECK(std::string(e.what()) ==
        "tollgate.yaml: models[1].name: duplicate model name \"gpt-4o-mini\" (first at models[0])");
}

TEST_CASE("error: duplicate provider id") {
  const ConfigError e = load_error(R"(
providers: [{id: p, type: mock}, {id: p, type: openai}]
models: [{name: m, deployments: [{provider: p}]}]
)");
  CHECK(e.key_path() == "providers[1].id");
}

TEST_CASE("error: fallback cycle") {
  const ConfigError e = load_error(R"(
providers: [{id: p, type: mock}]
models:
  - {name: a, deployments: [{provider: p}], fallbacks: [b]}
  - {name: b, deployments: [{provider: p}], fallbacks: [c]}
  - {name: c, deployments: [{provider: p}], fallbacks: [a]}
)");
  CHECK(std::string(e.what()) == "tollgate.yaml: models[2].fallbacks[0]: fallback cycle: a -> b -> c -> a");
}

TEST_CASE("error: fallbacks to itself or to an unknown model") {
  const ConfigError self = load_error(R"(
providers: [{id: p, type: mock}]
models: [{name: a, deployments: [{provider: p}], fallbacks: [a]}]
)");
  CHECK(self.key_path() == "models[0].fallbacks[0]");
  CHECK(self.problem() == "a model cannot fall back to itself");

  const ConfigError unknown = load_error(R"(
providers: [{id: p, type: mock}]
models: [{name: smart, deployments: [{provider: p}], fallbacks: [smrt2]}]
)");
  CHECK(unknown.key_path() == "models[0].fallbacks[0]");
  CHECK(unknown.problem() == "unknown model \"smrt2\"");
}

TEST_CASE("a model with only fallbacks is valid; one with neither is not") {
  const Config config = load_string(R"(
providers: [{id: p, type: mock}]
models:
  - {name: a, deployments: [{provider: p}]}
  - {name: alias, fallbacks: [a]}
)",
                                    "t.yaml", env_of({}));
  CHECK(config.find_model("alias")->deployments.empty());

  const ConfigError e = load_error(kMinimal + "  - {name: empty}\n");
  CHECK(e.key_path() == "models[1].deployments");
}

TEST_CASE("error: bad duration") {
  const ConfigError e = load_error(kMinimal + "routing: {attempt_timeout: 10 minutes}\n");
  CHECK(std::string(e.what()) ==
        "tollgate.yaml: routing.attempt_timeout: expected a duration like 200ms, 30s, 5m, 1h, 1d or a "
        "number of seconds, got \"10 minutes\"");
}

TEST_CASE("error: bad size") {
  const ConfigError e = load_error(kMinimal + "cache: {max_bytes: 256M}\n");
  CHECK(e.key_path() == "cache.max_bytes");
}

TEST_CASE("error: YAML syntax error names the file and line") {
  const ConfigError e = load_error("server:\n  port: 8080\n  host: [unclosed\nmodels: []\n");
  CHECK(e.file() == "tollgate.yaml");
  CHECK(e.key_path().empty());
  CHECK_THAT(std::string(e.what()), Catch::StartsWith("tollgate.yaml: YAML syntax error at line "));
  // The unclosed flow sequence is reported where the parser gives up: line 4 or later.
  CHECK_THAT(e.problem(), Catch::Contains("line 4"));

  const ConfigError tab = load_error("server:\n  port: 1\n bad indent: 2\n");
  CHECK_THAT(tab.problem(), Catch::StartsWith("YAML syntax error at line 3"));
}

TEST_CASE("error: enums name the allowed values and the closest one") {
  const ConfigError e = load_error(kMinimal + "routing: {strategy: round_robin}\n");
  CHECK(std::string(e.what()) ==
        "tollgate.yaml: routing.strategy: expected one of priority|round-robin|weighted|least-latency|least-busy|"
        "cost-optimized|usage-balanced, got \"round_robin\"; did you mean \"round-robin\"?");

  CHECK(load_error(kMinimal + "auth: {mode: closed}\n").key_path() == "auth.mode");
  CHECK(load_error(kMinimal + "logging: {level: verbose}\n").key_path() == "logging.level");
  CHECK(load_error(kMinimal + "logging: {format: xml}\n").key_path() == "logging.format");
  CHECK(load_error(kMinimal + "cache: {mode: fuzzy}\n").key_path() == "cache.mode");
  CHECK(load_error(kMinimal + "cache: {scope: user}\n").key_path() == "cache.scope");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: 1, scope: org}]\n").key_path() == "budgets[0].scope");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: 1, period: yearly}]\n").key_path() == "budgets[0].period");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: 1, enforcement: strict}]\n").key_path() ==
        "budgets[0].enforcement");
  CHECK(load_error("providers: [{id: p, type: azure}]\nmodels: [{name: m, deployments: [{provider: p}]}]\n")
            .key_path() == "providers[0].type");
  CHECK(load_error("providers: [{id: p, type: mock}]\nmodels: [{name: m, strategy: fastest, deployments: "
                   "[{provider: p}]}]\n")
            .key_path() == "models[0].strategy");
}

TEST_CASE("error: value ranges") {
  CHECK(load_error(kMinimal + "routing: {max_attempts: 0}\n").key_path() == "routing.max_attempts");
  CHECK(load_error(kMinimal + "dedup: {semantic: {threshold: 0}}\n").key_path() == "dedup.semantic.threshold");
  CHECK(load_error(kMinimal + "dedup: {semantic: {threshold: 1.5}}\n").key_path() == "dedup.semantic.threshold");
  CHECK(load_error(kMinimal + "budgets: [{scope: global}]\n").key_path() == "budgets[0].limit_usd");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: -5}]\n").key_path() == "budgets[0].limit_usd");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: 5, alerts: [1.2]}]\n").key_path() == "budgets[0].alerts[0]");
  CHECK(load_error(kMinimal + "budgets: [{limit_usd: 5, downgrade_to: nope}]\n").key_path() ==
        "budgets[0].downgrade_to");
  CHECK(load_error(kMinimal + "server: {max_body_bytes: 0}\n").key_path() == "server.max_body_bytes");
  CHECK(load_error(kMinimal + "server: {request_timeout: 0s}\n").key_path() == "server.request_timeout");
  CHECK(load_error(kMinimal + "routing: {backoff: {base: 5s, max: 1s}}\n").key_path() == "routing.backoff.max");
  CHECK(load_error(kMinimal + "storage: {redis: \"localhost:6379\"}\n").key_path() == "storage.redis");
  CHECK(load_error(kMinimal + "alerts: {webhook: \"hooks.example.com/x\"}\n").key_path() == "alerts.webhook");
  CHECK(load_error("providers: [{id: p, type: openai, base_url: \"api.example.com\"}]\n"
                   "models: [{name: m, deployments: [{provider: p}]}]\n")
            .key_path() == "providers[0].base_url");
  CHECK(load_error("providers: [{id: p, type: mock}]\nmodels: [{name: m, deployments: [{provider: p, weight: "
                   "-1}]}]\n")
            .key_path() == "models[0].deployments[0].weight");
  CHECK(load_error("providers: [{id: p, type: mock}]\nmodels: [{name: m, deployments: [{provider: p, price: "
                   "{input: -1}}]}]\n")
            .key_path() == "models[0].deployments[0].price.input");
}

TEST_CASE("error: required and structural problems") {
  CHECK(load_error("server: {port: 1}\n").key_path() == "models");
  CHECK(load_error("").key_path() == "models");
  CHECK(load_error("- a\n- b\n").key_path().empty());
  CHECK(load_error("providers: [{type: mock}]\nmodels: [{name: m, deployments: [{provider: p}]}]\n").key_path() ==
        "providers[0].id");
  CHECK(load_error("providers: [{id: p}]\nmodels: [{name: m, deployments: [{provider: p}]}]\n").key_path() ==
        "providers[0].type");
  CHECK(load_error("providers: [{id: p, type: mock}]\nmodels: [{deployments: [{provider: p}]}]\n").key_path() ==
        "models[0].name");
  CHECK(load_error("providers: [{id: p, type: mock}]\nmodels: [{name: m, deployments: [{model: x}]}]\n")
            .key_path() == "models[0].deployments[0].provider");
  CHECK(load_error("providers: [openai]\nmodels: []\n").key_path() == "providers[0]");
  const ConfigError duplicate = load_error(kMinimal + "server: {port: 1, port: 2}\n");
  CHECK(duplicate.key_path() == "server.port");
  CHECK(duplicate.problem() == "duplicate key");
}

TEST_CASE("null sections and values keep their defaults") {
  const Config config = load_string(kMinimal + "server:\ncache: {ttl: ~}\nstorage: {redis: }\n", "t.yaml", env_of({}));
  CHECK(config.server.port == 8080);
  CHECK(config.cache.ttl == 1h);
  CHECK(config.storage.redis.empty());
}

TEST_CASE("load_file names a missing file") {
  try {
    load_file("/nonexistent/tollgate.yaml", env_of({}));
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == "/nonexistent/tollgate.yaml");
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("/nonexistent/tollgate.yaml: cannot open file"));
  }
}

TEST_CASE("routing and resilience settings load: breaker, capacity waits, objectives, deployment limits") {
  const Config config = load_string(R"(
providers:
  - {id: openai, type: openai}
models:
  - name: small
    deployments: [{provider: openai, model: gpt-4o-mini, rpm: 500, tpm: 200000, max_concurrency: 8}]
    context_window_fallbacks: [large]
  - name: large
    deployments: [{provider: openai, model: gpt-4.1}]
routing:
  wait_for_capacity: 2s
  queue_timeout: 500ms
  circuit_breaker: {failure_rate: 0.25, min_requests: 5, window: 1m, cool_off: 3s, half_open_probes: 2}
  objectives: {cost: {latency: 0.5}, high: {quality: 2}}
  health_check: {interval: 30s, timeout: 2s}
)", "tollgate.yaml", env_of({}));
  const auto& deployment = config.models[0].deployments[0];
  CHECK(deployment.rpm == 500);
  CHECK(deployment.tpm == 200000);
  CHECK(deployment.max_concurrency == 8);
  CHECK(config.models[0].context_window_fallbacks == std::vector<std::string>{"large"});
  const auto& routing = config.routing;
  CHECK(routing.wait_for_capacity == 2s);
  CHECK(routing.queue_timeout == 500ms);
  CHECK(routing.circuit_breaker.failure_rate == 0.25);
  CHECK(routing.circuit_breaker.min_requests == 5);
  CHECK(routing.circuit_breaker.window == 60s);
  CHECK(routing.circuit_breaker.cool_off == 3s);
  CHECK(routing.circuit_breaker.half_open_probes == 2);
  REQUIRE(routing.objectives.size() == 2);
  CHECK(routing.objectives[0].first == "cost");
  CHECK(routing.objectives[0].second.latency == 0.5);
  CHECK_FALSE(routing.objectives[0].second.cost.has_value());
  CHECK(routing.objectives[1].first == "high");
  CHECK(routing.objectives[1].second.quality == 2.0);
  CHECK(routing.health_check.interval == 30s);
  CHECK(routing.health_check.timeout == 2s);
}

TEST_CASE("error: routing and resilience settings out of range name their key path") {
  CHECK(std::string(load_error(kMinimal + "routing: {circuit_breaker: {failure_rate: 1.5}}\n").what()).find(
            "routing.circuit_breaker.failure_rate") != std::string::npos);
  CHECK(std::string(load_error(kMinimal + "routing: {objectives: {speed: {cost: 1}}}\n").what()).find(
            "routing.objectives.speed") != std::string::npos);
  CHECK(std::string(load_error(kMinimal + "routing: {objectives: {cost: {cost: -1}}}\n").what()).find(
            "routing.objectives.cost.cost") != std::string::npos);
  const std::string bad_limit = R"(
providers: [{id: openai, type: openai}]
models: [{name: m, deployments: [{provider: openai, max_concurrency: -1}]}]
)";
  CHECK(std::string(load_error(bad_limit).what()).find("models[0].deployments[0].max_concurrency") != std::string::npos);
  const std::string bad_fallback = R"(
providers: [{id: openai, type: openai}]
models: [{name: m, deployments: [{provider: openai}], context_window_fallbacks: [huge]}]
)";
  CHECK(std::string(load_error(bad_fallback).what()).find("models[0].context_window_fallbacks[0]") != std::string::npos);
}

TEST_CASE("dedup.semantic.embedder: a provider's embedding model, checked with key paths") {
  const Config config = load_string(kMinimal + R"(
dedup:
  semantic: {enabled: true, threshold: 0.9, embedder: {provider: openai, model: text-embedding-3-small, dimensions: 256}}
)", "tollgate.yaml", env_of({}));
  CHECK(config.dedup.semantic.embedder.provider == "openai");
  CHECK(config.dedup.semantic.embedder.model == "text-embedding-3-small");
  CHECK(config.dedup.semantic.embedder.dimensions == 256);
  CHECK(load_string(kMinimal, "tollgate.yaml", env_of({})).dedup.semantic.embedder.provider.empty());

  const auto path = [](const std::string& embedder) {
    return load_error(kMinimal + "dedup: {semantic: {embedder: " + embedder + "}}\n").key_path();
  };
  CHECK(path("{provider: nope, model: m, dimensions: 8}") == "dedup.semantic.embedder.provider");
  CHECK(path("{model: m, dimensions: 8}") == "dedup.semantic.embedder.provider");
  CHECK(path("{provider: openai, dimensions: 8}") == "dedup.semantic.embedder.model");
  CHECK(path("{provider: openai, model: m}") == "dedup.semantic.embedder.dimensions");
  CHECK(path("{provider: openai, model: m, dimensions: 0}") == "dedup.semantic.embedder.dimensions");
  CHECK(path("{provider: openai, model: m, dimensions: 8, size: 3}") == "dedup.semantic.embedder.size");

  // Providers with an embeddings endpoint: openai-type (not groq or deepseek) and gemini.
  const std::string more = R"(
  - {id: g, type: gemini}
  - {id: fast, type: openai, flavor: groq}
  - {id: claude, type: anthropic}
)";
  const std::string with_more = kMinimal.substr(0, kMinimal.find("models:")) + more.substr(1) + "models:" +
                                kMinimal.substr(kMinimal.find("models:") + 7);
  CHECK(load_string(with_more + "dedup: {semantic: {embedder: {provider: g, model: text-embedding-004, dimensions: 64}}}\n",
                    "tollgate.yaml", env_of({}))
            .dedup.semantic.embedder.provider == "g");
  const auto message = [&](const std::string& id) -> std::string {
    return load_error(with_more + "dedup: {semantic: {embedder: {provider: " + id + ", model: m, dimensions: 8}}}\n").what();
  };
  CHECK_THAT(message("fast"), Catch::Contains("dedup.semantic.embedder.provider") &&
                                  Catch::Contains("has flavor \"groq\", which has no embeddings endpoint"));
  CHECK_THAT(message("claude"), Catch::Contains("has type \"anthropic\"; only openai-type and gemini providers"));
}
