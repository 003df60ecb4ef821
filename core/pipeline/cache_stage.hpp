// Cache stage: answers a repeated request from the response cache, and stores complete answers.
#pragma once

#include <memory>

#include "core/cache/response_cache.hpp"
#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/pipeline/semantic_probe.hpp"
#include "core/random.hpp"

namespace tollgate::core {

/// The exact cache (cache.mode exact or semantic; off: the stage is not built). The key is
/// cache_key(body, the served model name, the partition of cache.scope: the caller's virtual
/// key, its team, or global). ctx.cache_directives (request headers) may forbid reading or
/// storing.
///
/// A hit answers without calling `next`: a buffered answer for a buffered request, the recorded
/// chunk transcript replayed for a stream request; a stored answer of the other kind is converted
/// (stream_assembly.hpp: a buffered answer split into chunks, a transcript assembled into a
/// chat.completion). The reply carries x-tollgate-cache: hit and the original provider/model
/// headers; ctx.cache_status = "hit" and ctx.cached_cost make the accounting stage charge it at 0
/// with the original cost as saved (source cache). Otherwise x-tollgate-cache is miss (absent, or
/// not looked up: refresh, no-cache) or bypass (skip: neither read nor stored), and a 200 answer
/// is stored for cache.ttl (or the request's x-tollgate-cache-ttl): a buffered one at once, a
/// stream once it ends cleanly — a broken stream is never stored; nor is a joined request's answer
/// (dedup: its leader stores it).
///
/// Semantic cache (cache.mode semantic): on an exact miss, a stored answer of a request that
/// means the same (semantic_probe.hpp: same conversation before the last user message, same
/// parameters, numbers and negations; the last message's embedding within
/// dedup.semantic.threshold) is served as `semantic-hit`. Never across tenants or models.
///
/// Stampede protection: a hit close to its expiry may refresh the entry instead (refresh_early,
/// weighted by how long the answer took to make), one request at a time per entry
/// (claim_refresh, for at most server.request_timeout); that request is a miss and stores the
/// new answer, the others are served the stored one meanwhile. An entry that does expire under
/// load is fetched once: the misses join one flight in the dedup stage.
class CacheStage final : public Middleware {
 public:
  /// `embedder` turns the semantic cache on (cache.mode semantic); null: exact only.
  CacheStage(std::shared_ptr<const config::Config> config, ResponseCache& cache, const Pricing& pricing,
             Metrics& metrics, const Clock& clock, Random& random, Embedder* embedder = nullptr);
  ~CacheStage() override;
  std::string_view name() const noexcept override { return "cache"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

  /// Stores a complete answer of ctx's request under ctx.cache_key for `ttl` (with the served
  /// deployment, the cost and the upstream time from ctx), and indexes it by ctx.semantic.
  void store(RequestContext& ctx, CachedAnswer answer, std::optional<std::chrono::nanoseconds> ttl) const;

 private:
  /// Answers from `served` (status hit or semantic-hit).
  Reply hit(RequestContext& ctx, std::shared_ptr<const CachedAnswer> served, std::string_view status) const;

  std::shared_ptr<const config::Config> config_;
  ResponseCache& cache_;
  const Pricing& pricing_;
  Metrics& metrics_;
  const Clock& clock_;
  Random& random_;
  Embedder* embedder_;
  std::unique_ptr<SemanticMatches> similar_;  // the entries by meaning; null unless semantic
};

}  // namespace tollgate::core
