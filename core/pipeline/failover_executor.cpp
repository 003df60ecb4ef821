// Failover executor: ordered attempts, commit-on-first-chunk for streams, the 502/504 summary.
#include "core/pipeline/failover_executor.hpp"

#include <spdlog/spdlog.h>

#include "core/openai/token_estimate.hpp"

namespace tollgate::core {
namespace {

using Steady = Clock::Steady;

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

/// A stream the executor has committed to: replays the chunk pulled before committing, then
/// forwards the upstream's, adding the time spent waiting on it to ctx.upstream_time and
/// recording the attempt's metrics when it ends (or is abandoned by a departing client).
class CommittedStream final : public ChunkStream {
 public:
  CommittedStream(std::unique_ptr<ChunkStream> inner, std::optional<Chunk> first, RequestContext& ctx,
                  const Clock& clock, Metrics& metrics, Steady::time_point started, std::string provider,
                  std::string deployment)
      : inner_(std::move(inner)),
        first_(std::move(first)),
        ended_(!first_.has_value()),
        ctx_(ctx),
        clock_(clock),
        metrics_(metrics),
        started_(started),
        provider_(std::move(provider)),
        deployment_(std::move(deployment)) {
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
    metrics_.upstream_attempt(provider_, deployment_, status, seconds(clock_.now() - started_));
  }

  std::unique_ptr<ChunkStream> inner_;
  std::optional<Chunk> first_;
  bool ended_;
  bool recorded_ = false;
  RequestContext& ctx_;
  const Clock& clock_;
  Metrics& metrics_;
  Steady::time_point started_;
  std::string provider_;
  std::string deployment_;
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

Reply all_failed(const RequestContext& ctx) {
  std::string message = "All " + std::to_string(ctx.attempts.size()) + " upstream attempts failed:";
  for (std::size_t i = 0; i < ctx.attempts.size(); ++i) {
    const auto& attempt = ctx.attempts[i];
    message += " [" + std::to_string(i + 1) + "] " + attempt.provider + "/" + attempt.upstream_model + ": " +
               (attempt.error ? attempt.error->message : std::string("ok")) + ";";
  }
  message.pop_back();
  const AttemptError& last = *ctx.attempts.back().error;
  auto error = make_error(last.kind == FailureKind::kTimeout ? ErrorKind::kUpstreamTimeout : ErrorKind::kUpstreamError,
                          std::move(message));
  error.retry_after = last.retry_after;
  return Reply::error(std::move(error));
}

}  // namespace

std::string failover_reason(const AttemptError& error) {
  return error.key_failure ? std::string("key_refused") : attempt_status_label(error);
}

std::string attempt_status_label(const AttemptError& error) {
  switch (error.kind) {
    case FailureKind::kStatus: return std::to_string(error.status);
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kConnect: return "connect_error";
    case FailureKind::kProtocol: return "protocol_error";
  }
  return "error";
}

FailoverExecutor::FailoverExecutor(config::RoutingConfig routing, std::chrono::milliseconds request_timeout,
                                   const Clock& clock, Metrics& metrics)
    : routing_(std::move(routing)), request_timeout_(request_timeout), clock_(clock), metrics_(metrics) {}

boost::asio::awaitable<Reply> FailoverExecutor::handle(RequestContext& ctx, Next) const {
  if (ctx.plan.empty())
    co_return Reply::error(make_error(ErrorKind::kNoHealthyDeployment,
                                      "No deployment is available for model `" + ctx.model_name + "`."));
  const AttemptTimeouts timeouts{routing_.connect_timeout, routing_.first_byte_timeout, routing_.attempt_timeout,
                                 routing_.stream_idle_timeout};
  const auto deadline = ctx.received_at + request_timeout_;

  std::optional<Steady::time_point> soonest_reopening;  // of the breakers that kept a candidate out
  for (std::size_t next = 0; next < ctx.plan.size();) {
    const Candidate& candidate = ctx.plan[next];
    if (static_cast<int>(ctx.attempts.size()) >= routing_.max_attempts) break;
    const auto started = clock_.now();
    if (!ctx.attempts.empty() && started >= deadline) break;
    const std::string& upstream_model = candidate.deployment->model;
    const std::string provider_id(candidate.provider->id());
    CircuitBreaker& circuit = breaker(*candidate.deployment);
    if (!circuit.try_acquire(started)) {
      if (auto at = circuit.reopens_at(); at && (!soonest_reopening || *at < *soonest_reopening)) soonest_reopening = at;
      metrics_.failover("circuit_open", false);
      ++next;
      continue;
    }
    if (!ctx.attempts.empty()) metrics_.failover(failover_reason(*ctx.attempts.back().error), true);

    AttemptResult result = co_await candidate.provider->call(
        UpstreamCall{ctx.body, upstream_model, ctx.stream, ctx.request_id, within(timeouts, deadline - started)});

    std::optional<AttemptError> failure;
    Reply reply;
    if (result) {
      reply = std::move(*result);
      if (reply.is_stream()) {
        auto first = co_await reply.stream->next();
        if (!first) failure = stream_failure(first.error());
        else {
          const auto now = clock_.now();
          ctx.upstream_time += now - started;
          if (first->has_value()) {
            ctx.first_token_at = now;
            metrics_.time_to_first_token(ctx.model_name, seconds(now - ctx.received_at));
          }
          reply.stream = std::make_unique<CommittedStream>(std::move(reply.stream), std::move(*first), ctx, clock_,
                                                           metrics_, started, provider_id, upstream_model);
        }
      } else {
        ctx.upstream_time += clock_.now() - started;
        ctx.usage = reply.usage;
        if (!ctx.usage) ctx.output_text_bytes = answer_text_bytes(reply.body);
        metrics_.upstream_attempt(provider_id, upstream_model, std::to_string(reply.status),
                                  seconds(clock_.now() - started));
      }
    } else {
      failure = std::move(result.error());
    }
    if (failure) ctx.upstream_time += clock_.now() - started;

    ctx.attempts.push_back(AttemptRecord{provider_id, upstream_model, failure, clock_.now() - started});
    // The deployment's health: an answer, or the request's own fault, is a success; a refused key
    // says nothing about the deployment.
    if (failure && failure->key_failure) circuit.release(clock_.now());
    else circuit.record(!failure || !failure->retryable, clock_.now());
    const auto attempts = std::to_string(ctx.attempts.size());
    if (!failure) {
      ctx.provider_id = provider_id;
      ctx.upstream_model = upstream_model;
      ctx.deployment = candidate.deployment;
      reply.set_header("x-tollgate-provider", provider_id);
      reply.set_header("x-tollgate-model", upstream_model);
      reply.set_header("x-tollgate-attempts", attempts);
      co_return reply;
    }

    metrics_.upstream_attempt(provider_id, upstream_model, attempt_status_label(*failure),
                              seconds(clock_.now() - started));
    spdlog::warn("request {} attempt {} on {}/{} failed: {}", ctx.request_id, attempts, provider_id, upstream_model,
                 failure->message);

    if (!failure->retryable) {
      // The request's own fault (400/401/403/404/413/422…): the upstream's answer goes back as is.
      Reply passthrough = failure->body.empty()
                              ? Reply::error(make_error(ErrorKind::kUpstreamError, failure->message))
                              : Reply::json(failure->status, std::move(failure->body));
      if (!passthrough.is_error()) passthrough.status = failure->status;
      passthrough.set_header("x-tollgate-provider", provider_id);
      passthrough.set_header("x-tollgate-model", upstream_model);
      passthrough.set_header("x-tollgate-attempts", attempts);
      co_return passthrough;
    }
    // A refused key (disabled or resting now) says nothing about the deployment: try it again with
    // the pool's next key. A pool with no usable key left fails without key_failure, so this ends.
    if (!failure->key_failure) ++next;
  }

  if (ctx.attempts.empty()) {
    // Every candidate's circuit is open: say so at once, and when to come back.
    auto error = make_error(ErrorKind::kNoHealthyDeployment,
                            "Every deployment of model `" + ctx.model_name +
                                "` is failing and resting (circuit open); retry after the Retry-After delay.");
    const auto wait = soonest_reopening ? *soonest_reopening - clock_.now() : std::chrono::nanoseconds(0);
    error.retry_after = std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
    co_return Reply::error(std::move(error));
  }
  Reply failed = all_failed(ctx);
  failed.set_header("x-tollgate-attempts", std::to_string(ctx.attempts.size()));
  co_return failed;
}

CircuitBreaker& FailoverExecutor::breaker(const config::DeploymentConfig& deployment) const {
  std::lock_guard lock(breakers_mutex_);
  auto& slot = breakers_[&deployment];
  if (!slot) slot = std::make_unique<CircuitBreaker>();
  return *slot;
}

}  // namespace tollgate::core
