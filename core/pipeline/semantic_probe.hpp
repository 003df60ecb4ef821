// Semantic probe: a request's embedding and partition, computed once for the cache and dedup stages.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/cache/embedder.hpp"
#include "core/cache/semantic_index.hpp"
#include "core/pipeline/request_context.hpp"

namespace tollgate::core {

/// The request's semantic probe (ctx.semantic), computed on the first call and kept: the
/// embedding of the last user message, and the partition only interchangeable requests share:
/// embedder name + served model + tenant (cache_partition) + SemanticRequest params and guard (the
/// rest of the conversation and every answer-changing parameter, the numbers and negations of the
/// text). Null when the request cannot be matched by meaning (semantic_request() says no, or the
/// embedder failed: the request is then simply not matched, never failed).
boost::asio::awaitable<const SemanticProbe*> semantic_probe(RequestContext& ctx, Embedder& embedder);

/// Semantic lookups for one stage: an index of probes by key (the cache's entries, or the flights
/// in progress) and the similarity threshold. Thread-safe.
class SemanticMatches {
 public:
  SemanticMatches(double threshold, SemanticIndexOptions options) : threshold_(threshold), index_(options) {}

  /// The key of the most similar vector recorded in `partition`, when within the threshold.
  std::optional<std::string> nearest(std::string_view partition, const std::vector<float>& vector) const {
    auto match = index_.nearest(partition, vector, threshold_);
    if (!match) return std::nullopt;
    return std::move(match->key);
  }
  std::optional<std::string> nearest(const SemanticProbe& probe) const { return nearest(probe.partition, probe.vector); }
  void add(std::string_view partition, std::string key, const std::vector<float>& vector) {
    index_.add(partition, std::move(key), vector);
  }
  void add(const SemanticProbe& probe, std::string key) { add(probe.partition, std::move(key), probe.vector); }
  void remove(std::string_view key) { index_.remove(key); }

 private:
  double threshold_;
  SemanticIndex index_;
};

}  // namespace tollgate::core
