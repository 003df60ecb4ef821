// Metrics: tollgate's Prometheus families, behind typed recording calls.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tollgate::core {

/// Owns the registry and every tollgate_* family. Thread-safe; recording is cheap (label children
/// are looked up once per label set and cached). Label values must be bounded: callers pass the
/// configured model name or "unknown", never raw client input.
class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// A finished client request: duration is total wall time, overhead the part not spent waiting
  /// on upstreams.
  void request_finished(std::string_view route, std::string_view model, int status, double duration_s,
                        double overhead_s);
  /// One upstream attempt. `status` is the HTTP status or "timeout" / "connect_error" / "protocol_error".
  void upstream_attempt(std::string_view provider, std::string_view deployment, std::string_view status,
                        double duration_s);
  void time_to_first_token(std::string_view model, double seconds);
  void inflight_add(double delta) { inflight_->Increment(delta); }
  /// A request refused by a rate limit; `scope` is "rpm" or "tpm".
  void rate_limited(std::string_view scope);

  /// A priced request's money, once it is over: tokens by type (prompt, completion, cached,
  /// reasoning) and usage source (provider, estimated, cache); its cost; unpriced when the
  /// deployment has no price (it was served at 0).
  struct Spend {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t reasoning_tokens = 0;
    double cost_usd = 0;
    bool priced = true;
  };
  void spend(std::string_view provider, std::string_view model, std::string_view source, const Spend& spend);
  /// Money not spent thanks to tollgate; `source` is cache, dedup or routing.
  void saved(std::string_view source, double usd);
  /// A budget's (or one scope value's) spend and limit in its current period.
  void budget(std::string_view budget, double spend_usd, double limit_usd);
  /// A budget threshold alert fired.
  void budget_alert(std::string_view budget, double threshold);

  /// The executor moves on after a failed attempt (`retry`: another attempt follows) or passes a
  /// deployment over; `reason` is the attempt's status label, key_refused or circuit_open.
  void failover(std::string_view reason, bool retry);

  /// An upstream key's state: 0 active, 1 cooling down after a 429, 2 disabled (labels: provider
  /// id and key id, never material).
  void upstream_key_state(std::string_view provider, std::string_view key, int state);

  /// The router chose `deployment` ("provider/model") to lead a request's plan, by `strategy`
  /// (a strategy name, or "objective" when the request asked for an objective or a priority).
  void routing_decision(std::string_view strategy, std::string_view deployment);

  /// A request the response cache looked at: hit, semantic-hit, miss or bypass.
  void cache_request(std::string_view result);
  /// A request that joined an identical one in flight instead of calling upstream.
  void dedup_joined() { dedup_joined_->Increment(); }
  /// The response cache's size now (set at scrape).
  void cache_size(std::uint64_t entries, std::uint64_t bytes);

  /// A deployment's circuit: 0 closed, 1 half-open, 2 open.
  void circuit_state(std::string_view deployment, int state);

  /// The Prometheus text exposition of everything registered.
  std::string serialize() const;
  prometheus::Registry& registry() noexcept { return *registry_; }

 private:
  struct RequestSeries {
    prometheus::Counter* total;
    prometheus::Histogram* duration;
    prometheus::Histogram* overhead;
  };
  struct SpendSeries {
    prometheus::Counter* prompt;
    prometheus::Counter* completion;
    prometheus::Counter* cached;
    prometheus::Counter* reasoning;
    prometheus::Counter* cost;
    prometheus::Counter* unpriced;
  };
  struct BudgetSeries {
    prometheus::Gauge* spend;
    prometheus::Gauge* limit;
    prometheus::Gauge* utilization;
  };
  struct UpstreamSeries {
    prometheus::Counter* total;
    prometheus::Histogram* duration;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Histogram>& overhead_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Family<prometheus::Histogram>& upstream_duration_;
  prometheus::Family<prometheus::Histogram>& ttft_;
  prometheus::Family<prometheus::Counter>& tokens_;
  prometheus::Family<prometheus::Counter>& cost_;
  prometheus::Family<prometheus::Counter>& unpriced_;
  prometheus::Family<prometheus::Counter>& savings_;
  prometheus::Family<prometheus::Gauge>& budget_spend_;
  prometheus::Family<prometheus::Gauge>& budget_limit_;
  prometheus::Family<prometheus::Gauge>& budget_utilization_;
  prometheus::Family<prometheus::Counter>& budget_alerts_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Counter* retries_;
  prometheus::Family<prometheus::Gauge>& key_state_;
  prometheus::Family<prometheus::Counter>& routing_decisions_;
  prometheus::Family<prometheus::Gauge>& circuit_state_;
  prometheus::Counter* cache_hit_;
  prometheus::Counter* cache_miss_;
  prometheus::Counter* cache_bypass_;
  prometheus::Counter* cache_semantic_hit_;
  prometheus::Gauge* cache_entries_;
  prometheus::Gauge* cache_bytes_;
  prometheus::Counter* dedup_joined_;
  prometheus::Gauge* inflight_;
  prometheus::Counter* rate_limited_rpm_;
  prometheus::Counter* rate_limited_tpm_;

  mutable std::mutex mutex_;  // guards the caches below only
  std::unordered_map<std::string, RequestSeries> request_series_;
  std::unordered_map<std::string, UpstreamSeries> upstream_series_;
  std::unordered_map<std::string, prometheus::Histogram*> ttft_series_;
  std::unordered_map<std::string, SpendSeries> spend_series_;
  std::unordered_map<std::string, BudgetSeries> budget_series_;
  std::unordered_map<std::string, prometheus::Counter*> routing_series_;
};

}  // namespace tollgate::core
