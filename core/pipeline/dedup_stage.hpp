// Dedup stage: identical concurrent requests share one upstream call (single-flight with fan-out).
#pragma once

#include <memory>

#include "core/cache/flights.hpp"
#include "core/metrics/metrics.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/pipeline/semantic_probe.hpp"

namespace tollgate::core {

/// Single-flight (dedup.enabled). Requests with the same key as the response cache (the request's
/// canonical body, the served model and the cache.scope partition: never across tenants) and the
/// same `stream` share one upstream call: the first leads (`x-tollgate-dedup: leader`), the ones
/// that arrive while it is in flight, or within dedup.recent_window after it succeeded, join it
/// (`joined`) and never call upstream.
///
/// - A buffered joiner gets the leader's answer (status, body, headers; attempts 0).
/// - A stream joiner gets every chunk from the first, then the live ones, each reader at its own
///   pace from a shared buffer. The leader's own client is one such reader: the upstream stream is
///   read by a task of its own, so neither a slow joiner nor a slow (or departed) leader client
///   holds anyone back. The task stops reading when no reader is left. When the leader's client
///   leaves first, its ledger row is written once the upstream stream is over, with its full cost.
/// - When the leader fails before answering, a joiner gets the same error; when the failure is
///   retryable (FlightHead::retryable, or the leader went away), each joiner tries once more,
///   and the first of them leads the new flight. A stream that breaks mid-way breaks for all.
/// - A joined request costs 0 and saves what the leader's call cost (ctx.cached_cost, savings
///   source dedup); ctx.dedup_status says leader or joined.
/// - Semantic dedup (an embedder given): with no identical request in flight, the request joins
///   one in flight that means the same (semantic_probe.hpp, dedup.semantic.threshold; same
///   tenant, model, stream mode, conversation before the last user message, parameters, numbers
///   and negations). Only flights in progress are matched by meaning, not the recent window.
/// - `x-tollgate-cache: skip` bypasses dedup as it bypasses the cache: the request calls upstream.
class DedupStage final : public Middleware {
 public:
  /// `embedder` turns semantic dedup on (dedup.semantic.enabled); null: identical requests only.
  DedupStage(std::shared_ptr<const config::Config> config, FlightTable& flights, const Pricing& pricing,
             Metrics& metrics, Embedder* embedder = nullptr);
  ~DedupStage() override;
  std::string_view name() const noexcept override { return "dedup"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  boost::asio::awaitable<Reply> lead(RequestContext& ctx, Next next, std::string key,
                                     std::shared_ptr<Flight> flight) const;
  /// The joined reply, or nullopt when the leader failed retryably (or went away) and this
  /// request may try again.
  boost::asio::awaitable<std::optional<Reply>> join(RequestContext& ctx, std::shared_ptr<Flight> flight,
                                                    bool may_retry) const;

  std::shared_ptr<const config::Config> config_;
  FlightTable& flights_;
  const Pricing& pricing_;
  Metrics& metrics_;
  Embedder* embedder_;
  std::unique_ptr<SemanticMatches> similar_;  // flights in progress by meaning; null unless semantic
};

/// At most this many flights in progress are indexed by meaning (the oldest make room).
inline constexpr std::size_t kMaxSimilarFlights = 10'000;

}  // namespace tollgate::core
