// Failover executor: the terminal stage that calls upstream deployments until one answers.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/routing/circuit_breaker.hpp"

namespace tollgate::core {

/// Tries ctx.plan in order, at most routing.max_attempts attempts and no new attempt once the
/// request's deadline (server.request_timeout, from receipt) has passed; no attempt's connect,
/// first-byte or total deadline reaches past it either (a stream's idle timeout is its own). An attempt failing with a retryable
/// error (408/409/429/5xx, timeout, connection or protocol error) moves on to the next candidate,
/// except one that refused only the attempt's key (key_failure: 401/403/429 to a pooled key), which
/// tries the same candidate again with the pool's next key;
/// a non-retryable upstream error (other 4xx) is returned as is. A stream is committed only once
/// its first chunk has arrived: a stream failing before that is one more failed attempt, invisible
/// to the client. Each deployment (provider + upstream model) has a circuit breaker: an open one
/// is passed over without an attempt, and when every candidate was passed over that way the answer
/// is at once 503 no_healthy_deployment with Retry-After at the soonest re-opening. A retryable
/// failure counts against the breaker (a refused key does not: the deployment is not at fault), an
/// answer or a non-retryable 4xx for it. When every attempt failed: 504 if the last one timed out,
/// else 502 listing every attempt. Fills ctx.attempts, provider_id, upstream_model, upstream_time, first_token_at, usage,
/// and sets x-tollgate-provider / x-tollgate-model / x-tollgate-attempts. Never calls `next`.
class FailoverExecutor final : public Middleware {
 public:
  FailoverExecutor(config::RoutingConfig routing, std::chrono::milliseconds request_timeout, const Clock& clock,
                   Metrics& metrics);
  std::string_view name() const noexcept override { return "executor"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  /// The breaker of one deployment, created on first use (thread-safe; breakers live as long as
  /// the executor). Keyed by the deployment's config entry, which outlives every request.
  CircuitBreaker& breaker(const config::DeploymentConfig& deployment) const;

  config::RoutingConfig routing_;
  std::chrono::milliseconds request_timeout_;
  const Clock& clock_;
  Metrics& metrics_;
  mutable std::mutex breakers_mutex_;
  mutable std::unordered_map<const config::DeploymentConfig*, std::unique_ptr<CircuitBreaker>> breakers_;
};

/// The upstream-status label of an attempt error: the HTTP status, or timeout / connect_error /
/// protocol_error.
std::string attempt_status_label(const AttemptError& error);
/// Why the executor moved on from a failed attempt, for tollgate_failovers_total: key_refused, or
/// the attempt's status label.
std::string failover_reason(const AttemptError& error);

}  // namespace tollgate::core
