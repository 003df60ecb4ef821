// Metrics: family definitions, label-child caches and the text exposition.
#include "core/metrics/metrics.hpp"

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
      inflight_(&BuildGauge().Name("tollgate_inflight_requests").Help("Client requests being handled now.").Register(*registry_).Add({})) {
  auto& rate_limited = BuildCounter().Name("tollgate_rate_limited_total").Help("Requests refused by a virtual key's rate limit, by scope (rpm, tpm).").Register(*registry_);
  rate_limited_rpm_ = &rate_limited.Add({{"scope", "rpm"}});
  rate_limited_tpm_ = &rate_limited.Add({{"scope", "tpm"}});
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

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace tollgate::core
