// Metrics: tollgate's Prometheus families, behind typed recording calls.
#pragma once

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

  /// The Prometheus text exposition of everything registered.
  std::string serialize() const;
  prometheus::Registry& registry() noexcept { return *registry_; }

 private:
  struct RequestSeries {
    prometheus::Counter* total;
    prometheus::Histogram* duration;
    prometheus::Histogram* overhead;
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
  prometheus::Gauge* inflight_;
  prometheus::Counter* rate_limited_rpm_;
  prometheus::Counter* rate_limited_tpm_;

  mutable std::mutex mutex_;  // guards the caches below only
  std::unordered_map<std::string, RequestSeries> request_series_;
  std::unordered_map<std::string, UpstreamSeries> upstream_series_;
  std::unordered_map<std::string, prometheus::Histogram*> ttft_series_;
};

}  // namespace tollgate::core
