// Fleet: the live state of every configured deployment (health, latency, load, limits).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/provider.hpp"
#include "core/ratelimit/gcra.hpp"
#include "core/routing/circuit_breaker.hpp"
#include "core/routing/concurrency_gate.hpp"
#include "core/routing/ewma.hpp"

namespace tollgate::core {

/// The weight of the newest sample in the latency averages: about the last ten requests count.
inline constexpr double kLatencyAlpha = 0.2;
/// A failed attempt counts in the latency average as an answer this slow (or as its own duration
/// when longer): a deployment that fails fast must not look fast to least-latency routing, nor stay
/// "unknown" (explored first) for ever.
inline constexpr double kFailureLatencyMs = 5'000;

/// One deployment (provider + upstream model) as traffic has seen it. Shared by every model entry
/// that names the same provider and upstream model, since they reach the same upstream capacity.
/// Thread-safe: atomics, the breaker's and the gate's own locks, and one mutex for the rate limits.
class DeploymentState {
 public:
  DeploymentState(Provider* provider, const config::DeploymentConfig& config, const BreakerOptions& breaker);

  const std::string& label() const noexcept { return label_; }  // "provider/model"
  const std::string& provider_id() const noexcept { return provider_id_; }
  const std::string& upstream_model() const noexcept { return upstream_model_; }
  Provider* provider() const noexcept { return provider_; }  // null when this build cannot call it
  const config::DeploymentConfig& config() const noexcept { return config_; }

  CircuitBreaker& breaker() noexcept { return breaker_; }
  const CircuitBreaker& breaker() const noexcept { return breaker_; }
  ConcurrencyGate& gate() noexcept { return gate_; }
  const ConcurrencyGate& gate() const noexcept { return gate_; }

  /// Takes one request of `tokens` (estimated) against the deployment's rpm / tpm at `now`. When
  /// either is used up, takes nothing and returns how long until both would fit.
  std::optional<std::chrono::nanoseconds> admit(std::int64_t tokens, Clock::Steady::time_point now);
  /// Corrects an admitted estimate with the real token count (`delta` = real − estimated).
  void adjust_tokens(std::int64_t delta, Clock::Steady::time_point now);
  /// When the rate limits let a request of `tokens` through; nullopt: now.
  std::optional<Clock::Steady::time_point> limited_until(std::int64_t tokens, Clock::Steady::time_point now) const;

  /// An attempt starts / is over (a committed stream: when the stream ends). For least-busy and
  /// the providers API.
  void started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void ended() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  /// An attempt's outcome: its `latency` feeds the averages (a stream's is its time to first
  /// chunk), a failure's at least kFailureLatencyMs; a failure is counted.
  void record(bool success, bool stream, std::chrono::nanoseconds latency) noexcept;
  /// A committed stream (already recorded as a success at its first chunk) broke later: one more
  /// failure, not one more request.
  void record_stream_cut() noexcept { failures_.fetch_add(1, std::memory_order_relaxed); }

  int in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  double latency_ms() const noexcept { return latency_ms_.value(); }
  double ttft_ms() const noexcept { return ttft_ms_.value(); }
  std::uint64_t requests_total() const noexcept { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t failures_total() const noexcept { return failures_.load(std::memory_order_relaxed); }

  /// Recent requests per minute (from the breaker's window), for usage-balanced routing.
  double recent_rpm(Clock::Steady::time_point now) const;

  /// Last active health check, if any ran.
  struct Check {
    bool ok = false;
    std::int64_t at_unix_ms = 0;
    std::string error;  // safe to show: no key, no prompt
    double latency_ms = 0;
  };
  void note_check(Check check);
  std::optional<Check> last_check() const;

 private:
  /// Takes one request of `tokens` from copies of the buckets; the wait when either is used up.
  std::chrono::nanoseconds take_locked(GcraState& rpm, GcraState& tpm, std::int64_t tokens,
                                       Clock::Steady::time_point now) const;

  Provider* provider_;
  const config::DeploymentConfig& config_;
  std::string provider_id_;
  std::string upstream_model_;
  std::string label_;
  std::chrono::milliseconds breaker_window_;
  CircuitBreaker breaker_;
  ConcurrencyGate gate_;
  Ewma latency_ms_{kLatencyAlpha};
  Ewma ttft_ms_{kLatencyAlpha};
  std::atomic<int> in_flight_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> failures_{0};

  mutable std::mutex mutex_;  // the rate-limit buckets and the last check
  GcraState rpm_;
  GcraState tpm_;
  std::optional<Check> check_;
};

/// Every deployment of a config, built once at start-up (and per config snapshot); lookups never
/// lock. The config must outlive the fleet (states are found by the address of its entries).
class Fleet {
 public:
  /// `lookup` finds the Provider of a provider id (null when none can be built).
  using ProviderLookup = std::function<Provider*(std::string_view provider_id)>;
  Fleet(const config::Config& config, const ProviderLookup& lookup);

  /// The state of one of the config's deployments (by address); throws std::out_of_range otherwise.
  DeploymentState& of(const config::DeploymentConfig& deployment) const;
  /// Every distinct deployment, in config order.
  const std::vector<std::unique_ptr<DeploymentState>>& all() const noexcept { return states_; }

  /// True when some deployment could take a request now: its circuit is not open (or due to
  /// probe), its provider is callable and has a usable key (or needs none). For /health/ready.
  bool any_usable(Clock::Steady::time_point now) const;

 private:
  std::vector<std::unique_ptr<DeploymentState>> states_;
  std::unordered_map<const config::DeploymentConfig*, DeploymentState*> by_config_;
};

/// The breaker options of routing.circuit_breaker.
BreakerOptions breaker_options(const config::CircuitBreakerConfig& config);

}  // namespace tollgate::core
