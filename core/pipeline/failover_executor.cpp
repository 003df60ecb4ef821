// Failover executor: passes over resting deployments, retries with backoff, commits streams on their first chunk.
#include "core/pipeline/failover_executor.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "core/openai/token_estimate.hpp"
#include "core/routing/backoff.hpp"

namespace tollgate::core {
namespace {

using Steady = Clock::Steady;

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

/// Waits `delay` on the calling coroutine's executor. A cancelled wait (shutdown) just ends early.
boost::asio::awaitable<void> pause(std::chrono::nanoseconds delay) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  boost::system::error_code ignored;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

/// A stream the executor has committed to: replays the chunk pulled before committing, then
/// forwards the upstream's, adding the time spent waiting on it to ctx.upstream_time. When it ends
/// (or is abandoned by a departing client) it records the attempt's metrics, leaves the
/// deployment's in-flight count and frees its concurrency slot.
class CommittedStream final : public ChunkStream {
 public:
  CommittedStream(std::unique_ptr<ChunkStream> inner, std::optional<Chunk> first, RequestContext& ctx,
                  const Clock& clock, Metrics& metrics, Steady::time_point started, DeploymentState& state,
                  ConcurrencyGate::Slot slot, std::int64_t admitted_tokens)
      : inner_(std::move(inner)),
        first_(std::move(first)),
        ended_(!first_.has_value()),
        ctx_(ctx),
        clock_(clock),
        metrics_(metrics),
        started_(started),
        state_(state),
        slot_(std::move(slot)),
        admitted_tokens_(admitted_tokens) {
    if (first_) note_usage(*first_);
    if (ended_) finish("200");
  }

  ~CommittedStream() override { finish("cancelled"); }

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override {
    if (first_) {
      std::optional<Chunk> chunk = std::move(first_);
      first_.reset();
      co_return chunk;
    }
    if (ended_) co_return std::optional<Chunk>{};
    const auto t0 = clock_.now();
    auto result = co_await inner_->next();
    ctx_.upstream_time += clock_.now() - t0;
    if (!result) {
      ended_ = true;
      finish("stream_error");
    } else if (!result->has_value()) {
      ended_ = true;
      finish("200");
    } else {
      note_usage(**result);
    }
    co_return result;
  }

  bool ready() const noexcept override { return first_.has_value() || (!ended_ && inner_->ready()); }

 private:
  void note_usage(const Chunk& chunk) {
    if (chunk.usage) ctx_.usage = chunk.usage;
    // Only needed when the usage never comes (a cut stream, a provider that reports none).
    if (!ctx_.usage) ctx_.output_text_bytes += answer_text_bytes(chunk.data);
  }

  void finish(std::string_view status) {
    if (recorded_) return;
    recorded_ = true;
    const auto now = clock_.now();
    metrics_.upstream_attempt(state_.provider_id(), state_.upstream_model(), status, seconds(now - started_));
    if (status == "stream_error") state_.record_stream_cut();
    if (ctx_.usage) state_.adjust_tokens(ctx_.usage->prompt_tokens + ctx_.usage->completion_tokens - admitted_tokens_, now);
    state_.ended();
    slot_ = {};
  }

  std::unique_ptr<ChunkStream> inner_;
  std::optional<Chunk> first_;
  bool ended_;
  bool recorded_ = false;
  RequestContext& ctx_;
  const Clock& clock_;
  Metrics& metrics_;
  Steady::time_point started_;
  DeploymentState& state_;
  ConcurrencyGate::Slot slot_;
  std::int64_t admitted_tokens_;
};

/// An attempt's deadlines, none reaching past what is left of the request's own deadline.
AttemptTimeouts within(AttemptTimeouts timeouts, std::chrono::nanoseconds left) {
  const auto cap = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(left), std::chrono::milliseconds{1});
  timeouts.connect = std::min(timeouts.connect, cap);
  timeouts.first_byte = std::min(timeouts.first_byte, cap);
  timeouts.total = std::min(timeouts.total, cap);
  return timeouts;
}

AttemptError stream_failure(const GatewayError& error) {
  AttemptError failure;
  failure.kind = error.kind == ErrorKind::kUpstreamTimeout ? FailureKind::kTimeout : FailureKind::kProtocol;
  failure.retryable = true;
  failure.message = "stream failed before its first chunk: " + error.message;
  return failure;
}

/// " [1] openai/gpt-4o: upstream answered 500; [2] …" for error messages.
std::string attempts_summary(const RequestContext& ctx) {
  std::string summary;
  for (std::size_t i = 0; i < ctx.attempts.size(); ++i) {
    const auto& attempt = ctx.attempts[i];
    summary += " [" + std::to_string(i + 1) + "] " + attempt.provider + "/" + attempt.upstream_model + ": " +
               (attempt.error ? attempt.error->message : std::string("ok")) + ";";
  }
  if (!summary.empty()) summary.pop_back();
  return summary;
}

/// A non-retryable failure's answer as is: the upstream's own error body and status (or a 502
/// around its message when it sent none), with the provider, model and attempt count headers.
Reply passthrough(AttemptError failure, std::string_view provider, std::string_view model, std::size_t attempts) {
  Reply reply = failure.body.empty() ? Reply::error(make_error(ErrorKind::kUpstreamError, failure.message))
                                     : Reply::json(failure.status, std::move(failure.body));
  if (!reply.is_error()) reply.status = failure.status;
  reply.set_header("x-tollgate-provider", std::string(provider));
  reply.set_header("x-tollgate-model", std::string(model));
  reply.set_header("x-tollgate-attempts", std::to_string(attempts));
  return reply;
}

Reply all_failed(const RequestContext& ctx) {
  std::string message = "All " + std::to_string(ctx.attempts.size()) + " upstream attempts failed:" + attempts_summary(ctx);
  const AttemptError& last = *ctx.attempts.back().error;
  auto error = make_error(last.kind == FailureKind::kTimeout ? ErrorKind::kUpstreamTimeout : ErrorKind::kUpstreamError,
                          std::move(message));
  error.retry_after = last.retry_after;
  return Reply::error(std::move(error));
}

/// Why candidates were passed over without a call, and when the first of them can take one.
struct PassedOver {
  std::optional<Steady::time_point> soonest;
  bool circuit_open = false;
  bool keys_resting = false;
  bool keys_disabled = false;
  bool rate_limited = false;
  bool queue_full = false;

  void until(Steady::time_point at) {
    if (!soonest || at < *soonest) soonest = at;
  }

  std::string describe() const {
    std::string why;
    const auto add = [&why](bool on, const char* text) {
      if (!on) return;
      if (!why.empty()) why += ", ";
      why += text;
    };
    add(circuit_open, "circuit open after repeated failures");
    add(keys_resting, "every key resting after a 429");
    add(keys_disabled, "every key disabled");
    add(rate_limited, "rpm/tpm limit reached");
    add(queue_full, "max_concurrency reached and the queue wait ran out");
    return why.empty() ? std::string("unavailable") : why;
  }
};

Reply no_healthy_deployment(const RequestContext& ctx, const PassedOver& passed, Steady::time_point now) {
  auto error = make_error(ErrorKind::kNoHealthyDeployment,
                          "No deployment of model `" + ctx.model_name + "` can take the request now (" +
                              passed.describe() + "); retry after the Retry-After delay." +
                              (ctx.attempts.empty() ? std::string()
                                                    : " Attempts made:" + attempts_summary(ctx) + "."));
  // Every key disabled has no recovery time of its own: an operator must act.
  if (passed.soonest && *passed.soonest != Steady::time_point::max()) {
    const auto wait = std::chrono::ceil<std::chrono::seconds>(*passed.soonest - now);
    error.retry_after = std::max(std::chrono::seconds(1), wait);
  } else {
    error.retry_after = std::chrono::seconds(1);
  }
  return Reply::error(std::move(error));
}

}  // namespace

std::string failover_reason(const AttemptError& error) {
  return error.key_failure ? std::string("key_refused") : attempt_status_label(error);
}

std::string attempt_status_label(const AttemptError& error) {
  if (error.untranslatable) return "untranslatable";  // nothing was sent upstream
  switch (error.kind) {
    case FailureKind::kStatus: return std::to_string(error.status);
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kConnect: return "connect_error";
    case FailureKind::kProtocol: return "protocol_error";
  }
  return "error";
}

FailoverExecutor::FailoverExecutor(ExecutorDeps deps) : deps_(std::move(deps)) {}

boost::asio::awaitable<Reply> FailoverExecutor::handle(RequestContext& ctx, Next) const {
  if (ctx.plan.empty())
    co_return Reply::error(make_error(ErrorKind::kNoHealthyDeployment,
                                      "No deployment is available for model `" + ctx.model_name + "`."));
  const config::RoutingConfig& routing = deps_.routing;
  const Clock& clock = deps_.clock;
  Metrics& metrics = deps_.metrics;
  const AttemptTimeouts timeouts{routing.connect_timeout, routing.first_byte_timeout, routing.attempt_timeout,
                                 routing.stream_idle_timeout};
  const auto deadline = ctx.received_at + deps_.request_timeout;
  const auto capacity_wait_until = std::min(deadline, clock.now() + routing.wait_for_capacity);
  const std::string tenant = ctx.caller.key ? ctx.caller.key->id : std::string();

  const std::vector<Candidate>* plan = &ctx.plan;
  std::vector<char> failed(plan->size(), 0);  // failed in this request: retried only after a backoff
  bool on_context_plan = false;
  int backoffs = 0;
  PassedOver passed;
  bool out_of_time = false;  // max_attempts or the deadline reached
  bool nothing_left = false;  // a whole pass found no candidate that could take the request

  while (!out_of_time) {
    bool attempted = false;
    passed = PassedOver{};
    for (std::size_t i = 0; i < plan->size();) {
      if (static_cast<int>(ctx.attempts.size()) >= routing.max_attempts) {
        out_of_time = true;
        break;
      }
      auto now = clock.now();
      if (!ctx.attempts.empty() && now >= deadline) {
        out_of_time = true;
        break;
      }
      const Candidate& candidate = (*plan)[i];
      DeploymentState& state = deps_.fleet.of(*candidate.deployment);

      // Passed over without a call: nothing it could answer now.
      if (auto until = candidate.provider->unavailable_until(now)) {
        (*until == Steady::time_point::max() ? passed.keys_disabled : passed.keys_resting) = true;
        passed.until(*until);
        metrics.failover("keys_unavailable", false);
        ++i;
        continue;
      }
      const std::int64_t tokens = state.config().tpm > 0
                                      ? ctx.estimated_prompt_tokens() + requested_output_tokens(ctx.body)
                                      : 1;
      if (auto until = state.limited_until(tokens, now)) {
        passed.rate_limited = true;
        passed.until(*until);
        metrics.failover("rate_limited", false);
        ++i;
        continue;
      }
      if (state.breaker().state(now) == CircuitState::kOpen) {
        passed.circuit_open = true;
        if (auto at = state.breaker().reopens_at()) passed.until(*at);
        metrics.failover("circuit_open", false);
        ++i;
        continue;
      }

      // A deployment that already failed in this request gets a moment before it is asked again.
      if (failed[i]) {
        const auto delay = backoff_delay(++backoffs, routing.backoff.base, routing.backoff.max, deps_.random);
        if (now + delay >= deadline) {
          out_of_time = true;
          break;
        }
        if (delay.count() > 0) {
          co_await pause(delay);
          now = clock.now();
        }
      }

      ConcurrencyGate::Slot slot = state.gate().try_acquire();
      if (!slot && state.gate().capacity() > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        slot = co_await state.gate().acquire(tenant, std::min(routing.queue_timeout, left));
        now = clock.now();
        if (!slot) {
          passed.queue_full = true;
          passed.until(now);
          metrics.failover("queue_timeout", false);
          ++i;
          continue;
        }
      }
      if (!state.breaker().try_acquire(now)) {
        passed.circuit_open = true;
        if (auto at = state.breaker().reopens_at()) passed.until(*at);
        metrics.failover("circuit_open", false);
        ++i;
        continue;
      }
      if (auto wait = state.admit(tokens, now)) {
        state.breaker().release(now);
        passed.rate_limited = true;
        passed.until(now + *wait);
        metrics.failover("rate_limited", false);
        ++i;
        continue;
      }

      if (!ctx.attempts.empty()) metrics.failover(failover_reason(*ctx.attempts.back().error), true);
      const auto started = now;
      const std::string& upstream_model = candidate.deployment->model;
      const std::string& provider_id = state.provider_id();
      state.started();
      AttemptResult result = co_await candidate.provider->call(
          UpstreamCall{ctx.body, upstream_model, ctx.stream, ctx.request_id, within(timeouts, deadline - started),
                       ctx.operation});

      std::optional<AttemptError> failure;
      Reply reply;
      bool committed_stream = false;
      if (result) {
        reply = std::move(*result);
        if (reply.is_stream()) {
          auto first = co_await reply.stream->next();
          if (!first) {
            failure = stream_failure(first.error());
          } else {
            const auto at = clock.now();
            ctx.upstream_time += at - started;
            if (first->has_value()) {
              ctx.first_token_at = at;
              metrics.time_to_first_token(ctx.model_name, seconds(at - ctx.received_at));
            }
            state.record(true, true, at - started);
            reply.stream = std::make_unique<CommittedStream>(std::move(reply.stream), std::move(*first), ctx, clock,
                                                             metrics, started, state, std::move(slot), tokens);
            committed_stream = true;
          }
        } else {
          const auto at = clock.now();
          ctx.upstream_time += at - started;
          ctx.usage = reply.usage;
          if (!ctx.usage) ctx.output_text_bytes = answer_text_bytes(reply.body);
          metrics.upstream_attempt(provider_id, upstream_model, std::to_string(reply.status), seconds(at - started));
          state.record(true, false, at - started);
          if (ctx.usage) state.adjust_tokens(ctx.usage->prompt_tokens + ctx.usage->completion_tokens - tokens, at);
        }
      } else {
        failure = std::move(result.error());
      }
      const auto ended = clock.now();
      if (failure) ctx.upstream_time += ended - started;
      if (!committed_stream) state.ended();

      ctx.attempts.push_back(AttemptRecord{provider_id, upstream_model, failure, ended - started});
      // The deployment's health: an answer, or the request's own fault, is a success; a refused key
      // says nothing about the deployment.
      if (failure && failure->key_failure) {
        state.breaker().release(ended);
      } else {
        state.breaker().record(!failure || !failure->retryable, ended);
        if (failure && failure->retryable) state.record(false, ctx.stream, ended - started);
      }
      const auto attempts = std::to_string(ctx.attempts.size());
      if (!failure) {
        ctx.provider_id = provider_id;
        ctx.upstream_model = upstream_model;
        ctx.deployment = candidate.deployment;
        if (ctx.attempts.size() > 1)
          ctx.routing_reason += "; failover: attempt " + attempts + " on " + state.label();
        reply.set_header("x-tollgate-provider", provider_id);
        reply.set_header("x-tollgate-model", upstream_model);
        reply.set_header("x-tollgate-attempts", attempts);
        co_return reply;
      }

      metrics.upstream_attempt(provider_id, upstream_model, attempt_status_label(*failure), seconds(ended - started));
      spdlog::warn("request {} attempt {} on {} failed: {}", ctx.request_id, attempts, state.label(), failure->message);

      if (failure->untranslatable) {
        // Nothing was sent: this provider cannot express the request, another deployment may. When
        // none can, the first refusal is the answer (below).
        attempted = true;
        failed[i] = 1;
        ++i;
        continue;
      }
      if (!failure->retryable) {
        if (failure->context_overflow && !on_context_plan && !ctx.context_plan.empty()) {
          // The prompt does not fit this model: the model's larger-context fallbacks may take it.
          on_context_plan = true;
          plan = &ctx.context_plan;
          failed.assign(plan->size(), 0);
          ctx.routing_reason += "; context window exceeded on " + state.label() + ", context_window_fallbacks";
          metrics.failover("context_window", true);
          attempted = true;
          i = 0;
          // The next attempt counts as a retry of this one, not as a failure to report.
          ctx.attempts.back().error->retryable = true;
          continue;
        }
        // The request's own fault (400/401/403/404/413/422…): the upstream's answer goes back as is.
        co_return passthrough(std::move(*failure), provider_id, upstream_model, ctx.attempts.size());
      }
      attempted = true;
      // A refused key (disabled or resting now) says nothing about the deployment: try it again at
      // once with the pool's next key. A pool with no usable key left fails without key_failure.
      if (failure->key_failure) continue;
      failed[i] = 1;
      ++i;
    }
    if (attempted || out_of_time) continue;
    // Nothing could be tried in this pass. Wait for the first recovery when allowed to.
    const auto now = clock.now();
    if (routing.wait_for_capacity.count() > 0 && now < capacity_wait_until && passed.soonest &&
        *passed.soonest <= capacity_wait_until) {
      co_await pause(std::max<std::chrono::nanoseconds>(*passed.soonest - now, std::chrono::milliseconds(1)));
      continue;
    }
    nothing_left = true;
    break;
  }

  // No deployment could even express the request: the first one's reason is the answer.
  if (!ctx.attempts.empty() && std::all_of(ctx.attempts.begin(), ctx.attempts.end(), [](const AttemptRecord& a) {
        return a.error && a.error->untranslatable;
      })) {
    AttemptRecord& first = ctx.attempts.front();
    co_return passthrough(*first.error, first.provider, first.upstream_model, ctx.attempts.size());
  }
  // Every candidate rests (some perhaps after failing in this very request): say when to come back.
  if (ctx.attempts.empty() || nothing_left) {
    Reply refused = no_healthy_deployment(ctx, passed, clock.now());
    if (!ctx.attempts.empty()) refused.set_header("x-tollgate-attempts", std::to_string(ctx.attempts.size()));
    co_return refused;
  }
  Reply failed_reply = all_failed(ctx);
  failed_reply.set_header("x-tollgate-attempts", std::to_string(ctx.attempts.size()));
  co_return failed_reply;
}

}  // namespace tollgate::core
