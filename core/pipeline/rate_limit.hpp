// RateLimit stage: a virtual key's requests and tokens per minute.
#pragma once

#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/ratelimit/shared_counters.hpp"

namespace tollgate::core {

/// For a caller with a virtual key that sets `rpm` and/or `tpm`: takes one request and the
/// request's estimated tokens (prompt estimate + requested output) from the key's buckets
/// ("rpm:<id>", "tpm:<id>", one-minute GCRA in the shared counters). When either does not fit it
/// answers 429 rate_limit_exceeded with Retry-After (whole seconds, rounded up) and takes
/// nothing; a request larger than the whole TPM says so instead, since waiting cannot help. Once
/// the reply is over, a settler corrects the TPM bucket by (real total tokens − estimate) when the
/// upstream reported usage. Callers without a virtual key (master, open mode) are not limited.
class RateLimit final : public Middleware {
 public:
  RateLimit(SharedCounters& counters, const Clock& clock, Metrics& metrics)
      : counters_(counters), clock_(clock), metrics_(metrics) {}
  std::string_view name() const noexcept override { return "rate_limit"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  SharedCounters& counters_;
  const Clock& clock_;
  Metrics& metrics_;
};

}  // namespace tollgate::core
