// Fleet: per-deployment live state, shared by routing, the executor, the providers API and metrics.
#include "core/routing/fleet.hpp"

#include <stdexcept>

namespace tollgate::core {
BreakerOptions breaker_options(const config::CircuitBreakerConfig& config) {
  return BreakerOptions{config.failure_rate, config.min_requests, config.window, config.cool_off,
                        config.half_open_probes};
}

DeploymentState::DeploymentState(Provider* provider, const config::DeploymentConfig& config,
                                 const BreakerOptions& breaker)
    : provider_(provider),
      config_(config),
      provider_id_(config.provider),
      upstream_model_(config.model),
      label_(config.provider + "/" + config.model),
      breaker_window_(breaker.window),
      breaker_(breaker),
      gate_(config.max_concurrency) {}

std::chrono::nanoseconds DeploymentState::take_locked(GcraState& rpm, GcraState& tpm, std::int64_t tokens,
                                                     Clock::Steady::time_point now) const {
  std::chrono::nanoseconds wait{0};
  if (config_.rpm > 0) {
    const Decision d = gcra_acquire(rpm, per_minute(config_.rpm), 1, now);
    if (!d.allowed) wait = std::max(wait, d.retry_after);
  }
  if (config_.tpm > 0) {
    // A request larger than the whole minute's budget could never fit: it may take the whole bucket.
    const std::int64_t cost = std::min(std::max<std::int64_t>(tokens, 1), config_.tpm);
    const Decision d = gcra_acquire(tpm, per_minute(config_.tpm), cost, now);
    if (!d.allowed) wait = std::max(wait, d.retry_after);
  }
  return wait;
}

std::optional<std::chrono::nanoseconds> DeploymentState::admit(std::int64_t tokens, Clock::Steady::time_point now) {
  if (config_.rpm <= 0 && config_.tpm <= 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  // Both limits must agree before either is charged: take from copies, then commit.
  GcraState rpm = rpm_;
  GcraState tpm = tpm_;
  const auto wait = take_locked(rpm, tpm, tokens, now);
  if (wait > std::chrono::nanoseconds::zero()) return wait;
  rpm_ = rpm;
  tpm_ = tpm;
  return std::nullopt;
}

void DeploymentState::adjust_tokens(std::int64_t delta, Clock::Steady::time_point now) {
  if (config_.tpm <= 0 || delta == 0) return;
  std::lock_guard lock(mutex_);
  gcra_adjust(tpm_, per_minute(config_.tpm), delta, now);
}

std::optional<Clock::Steady::time_point> DeploymentState::limited_until(std::int64_t tokens,
                                                                     Clock::Steady::time_point now) const {
  if (config_.rpm <= 0 && config_.tpm <= 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  GcraState rpm = rpm_;
  GcraState tpm = tpm_;
  const auto wait = take_locked(rpm, tpm, tokens, now);
  if (wait <= std::chrono::nanoseconds::zero()) return std::nullopt;
  return now + wait;
}

void DeploymentState::record(bool success, bool stream, std::chrono::nanoseconds latency) noexcept {
  requests_.fetch_add(1, std::memory_order_relaxed);
  double ms = std::chrono::duration<double, std::milli>(latency).count();
  if (!success) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    ms = std::max(ms, kFailureLatencyMs);
  }
  (stream ? ttft_ms_ : latency_ms_).add(ms);
}

double DeploymentState::recent_rpm(Clock::Steady::time_point now) const {
  const auto snapshot = breaker_.snapshot(now);
  const double minutes = std::chrono::duration<double>(breaker_window_).count() / 60.0;
  return minutes > 0 ? snapshot.requests / minutes : 0.0;
}

void DeploymentState::note_check(Check check) {
  std::lock_guard lock(mutex_);
  check_ = std::move(check);
}

std::optional<DeploymentState::Check> DeploymentState::last_check() const {
  std::lock_guard lock(mutex_);
  return check_;
}

Fleet::Fleet(const config::Config& config, const ProviderLookup& lookup) {
  const BreakerOptions options = breaker_options(config.routing.circuit_breaker);
  std::unordered_map<std::string, DeploymentState*> by_label;
  for (const auto& model : config.models) {
    for (const auto& deployment : model.deployments) {
      const std::string label = deployment.provider + "/" + deployment.model;
      auto [it, inserted] = by_label.emplace(label, nullptr);
      if (inserted) {
        Provider* provider = lookup(deployment.provider);
        if (provider != nullptr && !provider->available()) provider = nullptr;
        states_.push_back(std::make_unique<DeploymentState>(provider, deployment, options));
        it->second = states_.back().get();
      }
      by_config_.emplace(&deployment, it->second);
    }
  }
}

DeploymentState& Fleet::of(const config::DeploymentConfig& deployment) const {
  auto it = by_config_.find(&deployment);
  if (it == by_config_.end()) throw std::out_of_range("deployment is not part of this fleet's config");
  return *it->second;
}

bool Fleet::any_usable(Clock::Steady::time_point now) const {
  for (const auto& state : states_) {
    if (state->provider() == nullptr) continue;
    if (state->breaker().state(now) == CircuitState::kOpen) continue;
    if (state->provider()->unavailable_until(now)) continue;
    return true;
  }
  return false;
}

}  // namespace tollgate::core
