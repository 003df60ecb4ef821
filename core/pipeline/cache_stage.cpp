// Cache stage: lookup, replay of a stored answer or transcript, and recording of complete answers.
#include "core/pipeline/cache_stage.hpp"

#include <algorithm>

#include "core/cache/cache_key.hpp"
#include "core/cache/early_refresh.hpp"
#include "core/money/charge.hpp"
#include "core/openai/stream_assembly.hpp"
#include "core/pipeline/semantic_probe.hpp"

namespace tollgate::core {
namespace {

/// A stored stream transcript, replayed chunk by chunk; every chunk is ready at once.
class ReplayStream final : public ChunkStream {
 public:
  explicit ReplayStream(std::shared_ptr<const CachedAnswer> answer) : answer_(std::move(answer)) {}

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override {
    if (next_ >= answer_->chunks.size()) co_return std::optional<Chunk>{};
    Chunk chunk{answer_->chunks[next_], std::nullopt, false};
    if (answer_->usage && answer_->usage_chunk && *answer_->usage_chunk == next_) {
      chunk.usage = answer_->usage;
      chunk.usage_only = answer_->usage_only;
    }
    ++next_;
    co_return std::optional<Chunk>{std::move(chunk)};
  }

  bool ready() const noexcept override { return next_ < answer_->chunks.size(); }

 private:
  std::shared_ptr<const CachedAnswer> answer_;
  std::size_t next_ = 0;
};

/// Passes a live stream through and keeps its chunks; stores the transcript when the stream ends
/// cleanly (a broken or abandoned stream is never stored).
class RecordingStream final : public ChunkStream {
 public:
  RecordingStream(std::unique_ptr<ChunkStream> inner, RequestContext& ctx, const CacheStage& stage,
                  std::optional<std::chrono::nanoseconds> ttl)
      : inner_(std::move(inner)), ctx_(ctx), stage_(stage), ttl_(ttl) {}

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override {
    auto result = co_await inner_->next();
    if (!result) {
      broken_ = true;
    } else if (!result->has_value()) {
      if (!broken_) stage_.store(ctx_, std::move(answer_), ttl_);
    } else {
      const Chunk& chunk = **result;
      if (chunk.usage) {
        answer_.usage = chunk.usage;
        answer_.usage_chunk = answer_.chunks.size();
        answer_.usage_only = chunk.usage_only;
      }
      answer_.chunks.push_back(chunk.data);
    }
    co_return result;
  }

  bool ready() const noexcept override { return inner_->ready(); }

 private:
  std::unique_ptr<ChunkStream> inner_;
  RequestContext& ctx_;
  const CacheStage& stage_;
  std::optional<std::chrono::nanoseconds> ttl_;
  CachedAnswer answer_;
  bool broken_ = false;
};

/// The stored answer in the form the request takes: as stored, or converted (a buffered answer
/// split into the chunks a stream would have carried, a transcript assembled into the
/// chat.completion a buffered request would have got). Null when it cannot be converted.
std::shared_ptr<const CachedAnswer> in_form(std::shared_ptr<const CachedAnswer> answer, bool stream) {
  if (stream ? !answer->chunks.empty() : !answer->body.empty()) return answer;
  auto converted = std::make_shared<CachedAnswer>();
  converted->usage = answer->usage;
  converted->model = answer->model;
  converted->provider = answer->provider;
  converted->upstream_model = answer->upstream_model;
  converted->cost = answer->cost;
  converted->compute_time = answer->compute_time;
  if (stream) {
    auto chunks = split_completion(answer->body);
    if (!chunks) return nullptr;
    for (auto& chunk : *chunks) {
      if (chunk.usage_only) {
        converted->usage_chunk = converted->chunks.size();
        converted->usage_only = true;
      }
      converted->chunks.push_back(std::move(chunk.data));
    }
  } else {
    auto body = assemble_completion(answer->chunks);
    if (!body) return nullptr;
    converted->body = std::move(*body);
  }
  return converted;
}

}  // namespace

CacheStage::CacheStage(std::shared_ptr<const config::Config> config, ResponseCache& cache, const Pricing& pricing,
                       Metrics& metrics, const Clock& clock, Random& random, Embedder* embedder)
    : config_(std::move(config)),
      cache_(cache),
      pricing_(pricing),
      metrics_(metrics),
      clock_(clock),
      random_(random),
      embedder_(embedder) {
  if (embedder_ != nullptr) {
    // The index may take an eighth of the cache's own byte budget (a vector is 4 bytes a float).
    SemanticIndexOptions options;
    options.dimensions = embedder_->dimensions();
    options.max_vectors = std::max<std::uint64_t>(1024, config_->cache.max_bytes / 8 / (4 * options.dimensions));
    similar_ = std::make_unique<SemanticMatches>(config_->dedup.semantic.threshold, options);
  }
}

CacheStage::~CacheStage() = default;

Reply CacheStage::hit(RequestContext& ctx, std::shared_ptr<const CachedAnswer> served, std::string_view status) const {
  const CachedAnswer& answer = *served;
  ctx.cache_status = status;
  ctx.cached_cost = answer.cost;
  ctx.usage = answer.usage;
  ctx.provider_id = answer.provider;
  ctx.upstream_model = answer.upstream_model;
  metrics_.cache_request(status);
  Reply reply = ctx.stream ? Reply::chunks(std::make_unique<ReplayStream>(std::move(served))) : Reply::json(200, answer.body);
  reply.set_header("x-tollgate-cache", std::string(status));
  reply.set_header("x-tollgate-provider", answer.provider);
  reply.set_header("x-tollgate-model", answer.upstream_model);
  reply.set_header("x-tollgate-attempts", "0");
  return reply;
}

void CacheStage::store(RequestContext& ctx, CachedAnswer answer, std::optional<std::chrono::nanoseconds> ttl) const {
  answer.model = ctx.model_name;
  answer.provider = ctx.provider_id;
  answer.upstream_model = ctx.upstream_model;
  answer.cost = charge(ctx, pricing_).cost;
  answer.compute_time = ctx.upstream_time;
  const auto outcome = cache_.put(ctx.cache_key, std::move(answer), ttl);
  if (outcome == ResponseCache::PutOutcome::kStored && similar_ != nullptr && ctx.semantic)
    similar_->add(*ctx.semantic, ctx.cache_key);
}

boost::asio::awaitable<Reply> CacheStage::handle(RequestContext& ctx, Next next) const {
  const CacheDirectives& directives = ctx.cache_directives;
  if (!directives.read && !directives.write) {
    // `x-tollgate-cache: skip`: the cache neither reads nor stores, so the key is not worth computing.
    ctx.cache_status = "bypass";
    metrics_.cache_request(ctx.cache_status);
    Reply reply = co_await next(ctx);
    reply.set_header("x-tollgate-cache", "bypass");
    co_return reply;
  }
  if (ctx.cache_key.empty())
    ctx.cache_key = cache_key(ctx.body, ctx.model_name, ctx.key_partition());
  const std::string& key = ctx.cache_key;
  if (directives.read) {
    if (auto found = cache_.get(key)) {
      // Near its expiry a hit may refresh the entry instead (one request at a time), while the
      // others keep being served the stored answer.
      const auto now = clock_.now();
      const bool refresh = refresh_early(now, found.expires_at, found.answer->compute_time, random_.uniform()) &&
                           cache_.claim_refresh(key, now + config_->server.request_timeout);
      if (auto served = refresh ? nullptr : in_form(found.answer, ctx.stream))
        co_return hit(ctx, std::move(served), "hit");
    } else if (similar_ != nullptr) {
      // No exact entry: the entry of a request that means the same, when there is one.
      if (const SemanticProbe* probe = co_await semantic_probe(ctx, *embedder_)) {
        if (auto similar = similar_->nearest(*probe)) {
          auto stored = cache_.get(*similar);
          if (!stored) similar_->remove(*similar);  // evicted or expired since
          else if (auto served = in_form(stored.answer, ctx.stream))
            co_return hit(ctx, std::move(served), "semantic-hit");
        }
      }
    }
  }
  // Not found, or not looked up (refresh, no-cache: the answer is fetched and stored): a miss.
  ctx.cache_status = "miss";
  metrics_.cache_request(ctx.cache_status);

  Reply reply = co_await next(ctx);
  reply.set_header("x-tollgate-cache", std::string(ctx.cache_status));
  // A joined request's answer is the leader's, which the leader's own cache stage stores.
  const bool complete = !reply.is_error() && reply.status == 200 && ctx.dedup_status != "joined";
  if (!directives.write || !complete) co_return reply;
  std::optional<std::chrono::nanoseconds> ttl;
  if (directives.ttl) ttl = *directives.ttl;
  else ttl = config_->cache.ttl;
  // The entry is indexed by meaning too (a refresh did not look it up, so its probe may be new).
  if (similar_ != nullptr) co_await semantic_probe(ctx, *embedder_);
  if (reply.is_stream()) {
    reply.stream = std::make_unique<RecordingStream>(std::move(reply.stream), ctx, *this, ttl);
  } else {
    CachedAnswer answer;
    answer.body = reply.body;
    answer.usage = ctx.usage;
    store(ctx, std::move(answer), ttl);
  }
  co_return reply;
}

}  // namespace tollgate::core
