// Failover executor: the terminal stage that calls upstream deployments until one answers.
#pragma once

#include <chrono>
#include <string>

#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/random.hpp"
#include "core/routing/fleet.hpp"

namespace tollgate::core {

/// What the executor runs with; references outlive it (the app owns them).
struct ExecutorDeps {
  config::RoutingConfig routing;
  std::chrono::milliseconds request_timeout;  // server.request_timeout, from receipt
  const Clock& clock;
  Metrics& metrics;
  Fleet& fleet;
  Random& random;  // backoff jitter
};

/// Tries ctx.plan in the router's order, pass after pass, at most routing.max_attempts attempts
/// and no new attempt once the request's deadline has passed (no attempt's connect, first-byte or
/// total deadline reaches past it either; a stream's idle timeout is its own).
///
/// Before an attempt a candidate is passed over, without a call, when its circuit is open, every
/// key of its provider rests after a 429 or is disabled, or its rpm/tpm is used up; a deployment
/// with max_concurrency waits for a slot in its fair queue (per virtual key) up to
/// routing.queue_timeout. A retryable failure (408/409/429/5xx, timeout, connection or protocol
/// error) moves on to the next candidate; one that refused only the attempt's key (key_failure)
/// tries the same candidate again at once with the pool's next key. A candidate that already
/// failed in this request is tried again only after an exponential backoff with full jitter
/// (routing.backoff), never past the deadline. A 400 saying the prompt is too long for the
/// context window switches to ctx.context_plan once, when the model has context_window_fallbacks;
/// any other non-retryable upstream error (other 4xx) is returned as it came.
///
/// A stream is committed only once its first chunk has arrived: a stream failing before that is
/// one more failed attempt, invisible to the client. Each deployment's circuit breaker counts a
/// retryable failure against it (a refused key does not: the deployment is not at fault), an
/// answer or a non-retryable 4xx for it. When nothing could be tried at all: routing.wait_for_capacity
/// > 0 waits for the soonest recovery within it; otherwise, at once, 503 no_healthy_deployment with
/// Retry-After at the soonest recovery (circuit re-opening, key cooldown, rate window). When every
/// attempt failed: 504 if the last one timed out, else 502 listing every attempt.
///
/// Fills ctx.attempts, provider_id, upstream_model, deployment, upstream_time, first_token_at,
/// usage, appends failovers to ctx.routing_reason, and sets x-tollgate-provider / x-tollgate-model
/// / x-tollgate-attempts. Never calls `next`.
class FailoverExecutor final : public Middleware {
 public:
  explicit FailoverExecutor(ExecutorDeps deps);
  std::string_view name() const noexcept override { return "executor"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  ExecutorDeps deps_;
};

/// The upstream-status label of an attempt error: the HTTP status, or timeout / connect_error /
/// protocol_error, or untranslatable (the adapter could not express the request; nothing was sent).
std::string attempt_status_label(const AttemptError& error);
/// Why the executor moved on from a failed attempt, for tollgate_failovers_total: key_refused, or
/// the attempt's status label.
std::string failover_reason(const AttemptError& error);

}  // namespace tollgate::core
