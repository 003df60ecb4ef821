// RateLimit stage: per virtual key RPM and TPM over the shared counters.
#include "core/pipeline/rate_limit.hpp"

#include "core/openai/token_estimate.hpp"

namespace tollgate::core {
namespace {

std::chrono::seconds whole_seconds(std::chrono::nanoseconds wait) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
}

GatewayError limited(std::string_view what, std::int64_t limit, const Decision& decision) {
  auto error = make_error(ErrorKind::kRateLimited,
                          "Rate limit reached for this virtual key: " + std::to_string(limit) + " " + std::string(what) +
                              " per minute. Retry after " + std::to_string(whole_seconds(decision.retry_after).count()) +
                              " s.");
  error.retry_after = whole_seconds(decision.retry_after);
  return error;
}

}  // namespace

boost::asio::awaitable<Reply> RateLimit::handle(RequestContext& ctx, Next next) const {
  const auto& key = ctx.caller.key;
  if (!key || (!key->rpm && !key->tpm)) co_return co_await next(ctx);

  const auto now = clock_.now();
  const std::string rpm_bucket = "rpm:" + key->id;
  if (key->rpm) {
    const auto decision = counters_.acquire(rpm_bucket, per_minute(*key->rpm), 1, now);
    if (!decision.allowed) {
      metrics_.rate_limited("rpm");
      co_return Reply::error(limited("requests", *key->rpm, decision));
    }
  }
  if (key->tpm) {
    const std::int64_t estimate = ctx.estimated_prompt_tokens() + requested_output_tokens(ctx.body);
    const Rate rate = per_minute(*key->tpm);
    const std::string tpm_bucket = "tpm:" + key->id;
    const auto decision = counters_.acquire(tpm_bucket, rate, estimate, now);
    if (!decision.allowed) {
      // The request is not served: it must not count against the RPM either.
      if (key->rpm) counters_.adjust(rpm_bucket, per_minute(*key->rpm), -1, now);
      metrics_.rate_limited("tpm");
      if (decision.never)
        co_return Reply::error(make_error(ErrorKind::kRateLimited,
                                          "Request too large for this virtual key: about " + std::to_string(estimate) +
                                              " tokens requested, but its limit is " + std::to_string(*key->tpm) +
                                              " tokens per minute. Reduce the prompt or max_tokens.",
                                          "messages"));
      co_return Reply::error(limited("tokens", *key->tpm, decision));
    }
    SharedCounters& counters = counters_;
    const Clock& clock = clock_;
    ctx.settlers.push_back([&counters, &clock, tpm_bucket, rate, estimate](const RequestContext& done) {
      if (!done.usage) return;  // no real count: the estimate stands
      counters.adjust(tpm_bucket, rate, done.usage->total_tokens - estimate, clock.now());
    });
  }
  co_return co_await next(ctx);
}

}  // namespace tollgate::core
