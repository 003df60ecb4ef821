// Metrics: family definitions, label-child caches and the text exposition.
#include "core/metrics/metrics.hpp"

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

namespace tollgate::core {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

const Histogram::BucketBoundaries& latency_buckets() {
  static const Histogram::BucketBoundaries b{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                             2.5,   5,    10,    30,   60,  120,  300};
  return b;
}

const Histogram::BucketBoundaries& overhead_buckets() {
  static const Histogram::BucketBoundaries b{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,   0.01,   0.025,   0.05,   0.1,   0.25};
  return b;
}

std::string series_key(std::string_view a, std::string_view b, std::string_view c) {
  std::string key;
  key.reserve(a.size() + b.size() + c.size() + 2);
  key.append(a).push_back('\x1f');
  key.append(b).push_back('\x1f');
  key.append(c);
  return key;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter().Name("tollgate_requests_total").Help("Client requests by route, model and status.").Register(*registry_)),
      request_duration_(BuildHistogram().Name("tollgate_request_duration_seconds").Help("Client request duration, receipt to last byte.").Register(*registry_)),
      overhead_(BuildHistogram().Name("tollgate_gateway_overhead_seconds").Help("Time spent in tollgate itself: request duration minus time waiting on upstreams.").Register(*registry_)),
      upstream_requests_(BuildCounter().Name("tollgate_upstream_requests_total").Help("Upstream attempts by provider, deployment and status.").Register(*registry_)),
      upstream_duration_(BuildHistogram().Name("tollgate_upstream_duration_seconds").Help("Upstream attempt duration (streams: to the last chunk).").Register(*registry_)),
      ttft_(BuildHistogram().Name("tollgate_time_to_first_token_seconds").Help("Streamed requests: receipt to the first upstream chunk.").Register(*registry_)),
      tokens_(BuildCounter().Name("tollgate_tokens_total").Help("Tokens by provider, model (upstream), type (prompt, completion, cached, reasoning) and usage source (provider, estimated, cache).").Register(*registry_)),
      cost_(BuildCounter().Name("tollgate_cost_usd_total").Help("What requests cost, in USD, by provider and model (upstream). The ledger holds the exact nano-dollar figures.").Register(*registry_)),
      unpriced_(BuildCounter().Name("tollgate_unpriced_requests_total").Help("Requests served by a deployment with no price (counted at 0 USD), by provider and model.").Register(*registry_)),
      savings_(BuildCounter().Name("tollgate_savings_usd_total").Help("Money not spent thanks to tollgate, in USD, by source (cache, dedup, routing).").Register(*registry_)),
      budget_spend_(BuildGauge().Name("tollgate_budget_spend_usd").Help("A budget's spend in its current period, in USD.").Register(*registry_)),
      budget_limit_(BuildGauge().Name("tollgate_budget_limit_usd").Help("A budget's limit, in USD.").Register(*registry_)),
      budget_utilization_(BuildGauge().Name("tollgate_budget_utilization_ratio").Help("A budget's spend over its limit in its current period.").Register(*registry_)),
      budget_alerts_(BuildCounter().Name("tollgate_budget_alerts_total").Help("Budget threshold alerts fired, by budget and threshold.").Register(*registry_)),
      failovers_(BuildCounter().Name("tollgate_failovers_total").Help("Failed attempts the executor moved on from, and deployments it passed over, by reason (status, timeout, connect_error, protocol_error, key_refused, circuit_open).").Register(*registry_)),
      retries_(&BuildCounter().Name("tollgate_retries_total").Help("Upstream attempts made after a failed one.").Register(*registry_).Add({})),
      key_state_(BuildGauge().Name("tollgate_upstream_key_state").Help("Upstream key state: 0 active, 1 cooling down after a 429, 2 disabled.").Register(*registry_)),
      routing_decisions_(BuildCounter().Name("tollgate_routing_decisions_total").Help("Requests by the deployment the router put first and the strategy that chose it.").Register(*registry_)),
      circuit_state_(BuildGauge().Name("tollgate_circuit_state").Help("A deployment's circuit breaker: 0 closed, 1 half-open, 2 open.").Register(*registry_)),
      inflight_(&BuildGauge().Name("tollgate_inflight_requests").Help("Client requests being handled now.").Register(*registry_).Add({})) {
  auto& rate_limited = BuildCounter().Name("tollgate_rate_limited_total").Help("Requests refused by a virtual key's rate limit, by scope (rpm, tpm).").Register(*registry_);
  rate_limited_rpm_ = &rate_limited.Add({{"scope", "rpm"}});
  rate_limited_tpm_ = &rate_limited.Add({{"scope", "tpm"}});
  auto& cache = BuildCounter().Name("tollgate_cache_requests_total").Help("Requests the response cache looked at, by result (hit, semantic-hit, miss, bypass).").Register(*registry_);
  cache_hit_ = &cache.Add({{"result", "hit"}});
  cache_miss_ = &cache.Add({{"result", "miss"}});
  cache_bypass_ = &cache.Add({{"result", "bypass"}});
  cache_semantic_hit_ = &cache.Add({{"result", "semantic-hit"}});
  cache_entries_ = &BuildGauge().Name("tollgate_cache_entries").Help("Answers held by the response cache.").Register(*registry_).Add({});
  dedup_joined_ = &BuildCounter().Name("tollgate_dedup_joined_total").Help("Requests that joined an identical request in flight (or within dedup.recent_window) instead of calling upstream.").Register(*registry_).Add({});
  cache_bytes_ = &BuildGauge().Name("tollgate_cache_bytes").Help("Bytes the response cache holds (keys, compressed payloads, per-entry overhead).").Register(*registry_).Add({});
}

void Metrics::cache_request(std::string_view result) {
  (result == "hit"            ? cache_hit_
   : result == "semantic-hit" ? cache_semantic_hit_
   : result == "miss"         ? cache_miss_
                              : cache_bypass_)
      ->Increment();
}

void Metrics::cache_size(std::uint64_t entries, std::uint64_t bytes) {
  cache_entries_->Set(static_cast<double>(entries));
  cache_bytes_->Set(static_cast<double>(bytes));
}

void Metrics::rate_limited(std::string_view scope) {
  (scope == "tpm" ? rate_limited_tpm_ : rate_limited_rpm_)->Increment();
}

void Metrics::request_finished(std::string_view route, std::string_view model, int status, double duration_s,
                               double overhead_s) {
  const std::string status_text = std::to_string(status);
  RequestSeries series;
  {
    std::lock_guard lock(mutex_);
    auto key = series_key(route, model, status_text);
    auto it = request_series_.find(key);
    if (it == request_series_.end()) {
      prometheus::Labels labels{{"route", std::string(route)}, {"model", std::string(model)}, {"status", status_text}};
      prometheus::Labels route_labels{{"route", std::string(route)}};
      RequestSeries created{&requests_.Add(labels), &request_duration_.Add(route_labels, latency_buckets()),
                            &overhead_.Add(route_labels, overhead_buckets())};
      it = request_series_.emplace(std::move(key), created).first;
    }
    series = it->second;
  }
  series.total->Increment();
  series.duration->Observe(duration_s);
  series.overhead->Observe(overhead_s);
}

void Metrics::upstream_attempt(std::string_view provider, std::string_view deployment, std::string_view status,
                               double duration_s) {
  UpstreamSeries series;
  {
    std::lock_guard lock(mutex_);
    auto key = series_key(provider, deployment, status);
    auto it = upstream_series_.find(key);
    if (it == upstream_series_.end()) {
      prometheus::Labels labels{{"provider", std::string(provider)}, {"deployment", std::string(deployment)},
                                {"status", std::string(status)}};
      prometheus::Labels duration_labels{{"provider", std::string(provider)}, {"deployment", std::string(deployment)}};
      UpstreamSeries created{&upstream_requests_.Add(labels), &upstream_duration_.Add(duration_labels, latency_buckets())};
      it = upstream_series_.emplace(std::move(key), created).first;
    }
    series = it->second;
  }
  series.total->Increment();
  series.duration->Observe(duration_s);
}

void Metrics::time_to_first_token(std::string_view model, double seconds) {
  prometheus::Histogram* histogram;
  {
    std::lock_guard lock(mutex_);
    auto it = ttft_series_.find(std::string(model));
    if (it == ttft_series_.end())
      it = ttft_series_.emplace(std::string(model), &ttft_.Add({{"model", std::string(model)}}, latency_buckets())).first;
    histogram = it->second;
  }
  histogram->Observe(seconds);
}

void Metrics::spend(std::string_view provider, std::string_view model, std::string_view source, const Spend& spend) {
  SpendSeries series;
  {
    std::lock_guard lock(mutex_);
    auto key = series_key(provider, model, source);
    auto it = spend_series_.find(key);
    if (it == spend_series_.end()) {
      const auto tokens = [&](const char* type) {
        return &tokens_.Add({{"provider", std::string(provider)}, {"model", std::string(model)}, {"type", type},
                             {"source", std::string(source)}});
      };
      const prometheus::Labels labels{{"provider", std::string(provider)}, {"model", std::string(model)}};
      SpendSeries created{tokens("prompt"), tokens("completion"), tokens("cached"), tokens("reasoning"),
                          &cost_.Add(labels), &unpriced_.Add(labels)};
      it = spend_series_.emplace(std::move(key), created).first;
    }
    series = it->second;
  }
  series.prompt->Increment(static_cast<double>(spend.prompt_tokens));
  series.completion->Increment(static_cast<double>(spend.completion_tokens));
  series.cached->Increment(static_cast<double>(spend.cached_tokens));
  series.reasoning->Increment(static_cast<double>(spend.reasoning_tokens));
  series.cost->Increment(spend.cost_usd);
  if (!spend.priced) series.unpriced->Increment();
}

void Metrics::saved(std::string_view source, double usd) {
  savings_.Add({{"source", std::string(source)}}).Increment(usd);
}

void Metrics::budget(std::string_view budget, double spend_usd, double limit_usd) {
  BudgetSeries series;
  {
    std::lock_guard lock(mutex_);
    auto it = budget_series_.find(std::string(budget));
    if (it == budget_series_.end()) {
      const prometheus::Labels labels{{"budget", std::string(budget)}};
      it = budget_series_
               .emplace(std::string(budget),
                        BudgetSeries{&budget_spend_.Add(labels), &budget_limit_.Add(labels), &budget_utilization_.Add(labels)})
               .first;
    }
    series = it->second;
  }
  series.spend->Set(spend_usd);
  series.limit->Set(limit_usd);
  series.utilization->Set(limit_usd > 0 ? spend_usd / limit_usd : 0);
}

void Metrics::budget_alert(std::string_view budget, double threshold) {
  budget_alerts_.Add({{"budget", std::string(budget)}, {"threshold", fmt::format("{}", threshold)}}).Increment();
}

void Metrics::failover(std::string_view reason, bool retry) {
  failovers_.Add({{"reason", std::string(reason)}}).Increment();
  if (retry) retries_->Increment();
}

void Metrics::upstream_key_state(std::string_view provider, std::string_view key, int state) {
  key_state_.Add({{"provider", std::string(provider)}, {"key", std::string(key)}}).Set(state);
}

void Metrics::routing_decision(std::string_view strategy, std::string_view deployment) {
  // Looked up once per (strategy, deployment): both come from the config, a bounded set.
  std::string key;
  key.reserve(strategy.size() + deployment.size() + 1);
  key.append(strategy).push_back('\0');
  key.append(deployment);
  prometheus::Counter* counter = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto& slot = routing_series_[key];
    if (slot == nullptr)
      slot = &routing_decisions_.Add({{"strategy", std::string(strategy)}, {"deployment", std::string(deployment)}});
    counter = slot;
  }
  counter->Increment();
}

void Metrics::circuit_state(std::string_view deployment, int state) {
  circuit_state_.Add({{"deployment", std::string(deployment)}}).Set(state);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace tollgate::core
