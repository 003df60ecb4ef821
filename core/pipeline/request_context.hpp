// RequestContext: the per-request state every pipeline stage reads and fills.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "core/cache/cache_directives.hpp"
#include "core/cache/cache_key.hpp"
#include "core/cache/semantic_index.hpp"
#include "core/clock.hpp"
#include "core/identity/caller.hpp"
#include "core/money/attribution.hpp"
#include "core/money/tags.hpp"
#include "core/openai/token_estimate.hpp"
#include "core/pipeline/reply.hpp"
#include "core/provider.hpp"
#include "core/routing/strategy.hpp"

namespace tollgate::core {

/// A deployment the executor may try, in the order the router chose.
struct Candidate {
  Provider* provider = nullptr;
  const config::DeploymentConfig* deployment = nullptr;
  const config::ModelConfig* model = nullptr;  // the model entry it came from (may be a fallback)
};

/// One attempt as the executor saw it, for headers, logs and the 502 message.
struct AttemptRecord {
  std::string provider;
  std::string upstream_model;
  std::optional<AttemptError> error;  // empty: this attempt answered
  std::chrono::nanoseconds duration{0};
};

/// Per-request state. Owned by the handler (shared with the reply stream, so it outlives the
/// pipeline call for streams, and with a stream's upstream reader when dedup hands it off); touched
/// only on the connection's strand. No stream-sized data.
struct RequestContext : std::enable_shared_from_this<RequestContext> {
  // Set by the handler before the pipeline runs.
  std::string request_id;
  std::string_view route = "/v1/chat/completions";  // the endpoint path (a static string), for the ledger
  Operation operation = Operation::kChat;            // what the route asks of the upstream
  std::shared_ptr<const config::Config> config;
  nlohmann::json body;          // the client's JSON body, validated as an object
  std::string model_name;       // body.model
  bool stream = false;          // body.stream
  bool client_wants_usage = false;  // body.stream_options.include_usage
  Clock::Steady::time_point received_at{};
  Caller caller;                // who asks (set by the server's authentication)
  std::int64_t received_unix_ms = 0;  // wall time of receipt, for the ledger
  Tags tags;                    // x-tollgate-tags, validated
  Objective objective = Objective::kNone;  // x-tollgate-objective
  Priority priority = Priority::kNormal;   // x-tollgate-priority
  CacheDirectives cache_directives;        // x-tollgate-cache, Cache-Control, x-tollgate-cache-ttl

  // Set by the accounting stage (attribution) and the budget stage (hold, downgrade).
  Attribution attribution;
  BudgetHold hold;              // money held against hard budgets until the reply is over
  std::string requested_model;  // the model asked for, when a soft budget served another; else empty
  std::int64_t prompt_estimate = -1;  // tollgate's prompt token estimate, once computed

  // Set by the cache and dedup stages.
  std::string cache_key;             // the request's exact-cache key, once computed (cache_key.hpp)
  std::string_view cache_status;     // hit|miss|bypass; empty when the cache did not run
  std::string_view dedup_status;     // leader|joined; empty when dedup did not run
  std::optional<Nanos> cached_cost;  // a hit or a joined request: what the upstream call cost
  bool semantic_probed = false;      // semantic_probe() ran: `semantic` is its answer
  std::optional<SemanticProbe> semantic;

  // Set by the router.
  const config::ModelConfig* model = nullptr;  // the configured model asked for; null when unknown
  std::vector<Candidate> plan;
  std::vector<Candidate> context_plan;  // the model's context_window_fallbacks, ordered the same way
  std::string routing_reason;           // why the plan's first candidate leads (the executor adds failovers)

  // Set by the executor.
  std::vector<AttemptRecord> attempts;
  std::string provider_id;     // the provider that answered
  std::string upstream_model;  // the upstream model that answered
  std::chrono::nanoseconds upstream_time{0};  // time spent waiting on upstreams (all attempts)
  std::optional<Clock::Steady::time_point> first_token_at;
  std::optional<Usage> usage;  // the answering upstream's usage, once known
  const config::DeploymentConfig* deployment = nullptr;  // the deployment that answered
  std::int64_t output_text_bytes = 0;  // answer text seen (content, tool arguments): the estimate's input

  /// How the reply ended, set by the server once it is over and before settle().
  struct Outcome {
    int status = 0;
    double latency_ms = 0;
    std::string error;  // a short code when not served in full: the error code, "stream_error", "client_gone"
  };
  Outcome outcome;

  /// What the request was charged, set by the accounting stage when it settles (for the log line).
  struct Billed {
    Usage usage;
    std::string_view source;  // provider|estimated|cache|none
    Nanos cost = 0;
  };
  std::optional<Billed> billed;

  /// Work to do once the reply is over (written, failed or abandoned by the client): stages add
  /// settlements here (e.g. correcting a token estimate with the real usage). settle() runs them
  /// once, in order; the destructor runs any that are left, so none is lost.
  std::vector<std::function<void(RequestContext&)>> settlers;
  void settle() {
    auto pending = std::move(settlers);
    settlers.clear();
    for (auto& settler : pending) settler(*this);
  }

  /// tollgate's estimate of the prompt's (for embeddings: the input's) tokens, computed once; see
  /// token_estimate.hpp.
  std::int64_t estimated_prompt_tokens() {
    if (prompt_estimate < 0) prompt_estimate = prompt_tokens_estimate();
    return prompt_estimate;
  }
  /// The same estimate without keeping it (for const readers).
  std::int64_t prompt_tokens_estimate() const {
    if (prompt_estimate >= 0) return prompt_estimate;
    return operation == Operation::kEmbeddings ? estimate_embedding_tokens(body) : estimate_prompt_tokens(body);
  }
  /// The tenant part of this request's cache and dedup keys: cache_partition() under cache.scope,
  /// plus the operation, so a chat body and an embeddings body never share an entry.
  std::string key_partition() const {
    std::string partition = cache_partition(caller, config->cache.scope);
    if (operation == Operation::kEmbeddings) partition += "|embeddings";
    return partition;
  }

  RequestContext() = default;
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;
  ~RequestContext() { settle(); }
};

}  // namespace tollgate::core
