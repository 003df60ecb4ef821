// Cache stage: lookup, replay of a stored answer or transcript, and recording of complete answers.
#include "core/pipeline/cache_stage.hpp"

#include "core/cache/cache_key.hpp"
#include "core/cache/early_refresh.hpp"
#include "core/money/charge.hpp"
#include "core/openai/stream_assembly.hpp"

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
  RecordingStream(std::unique_ptr<ChunkStream> inner, RequestContext& ctx, ResponseCache& cache, std::string key,
                  std::optional<std::chrono::nanoseconds> ttl, const Pricing& pricing)
      : inner_(std::move(inner)), ctx_(ctx), cache_(cache), key_(std::move(key)), ttl_(ttl), pricing_(pricing) {}

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override {
    auto result = co_await inner_->next();
    if (!result) {
      broken_ = true;
    } else if (!result->has_value()) {
      if (!broken_) store();
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
  void store() {
    answer_.model = ctx_.model_name;
    answer_.provider = ctx_.provider_id;
    answer_.upstream_model = ctx_.upstream_model;
    answer_.cost = charge(ctx_, pricing_).cost;
    answer_.compute_time = ctx_.upstream_time;
    cache_.put(std::move(key_), std::move(answer_), ttl_);
  }

  std::unique_ptr<ChunkStream> inner_;
  RequestContext& ctx_;
  ResponseCache& cache_;
  std::string key_;
  std::optional<std::chrono::nanoseconds> ttl_;
  const Pricing& pricing_;
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
                       Metrics& metrics, const Clock& clock, Random& random)
    : config_(std::move(config)), cache_(cache), pricing_(pricing), metrics_(metrics), clock_(clock), random_(random) {}

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
    ctx.cache_key = cache_key(ctx.body, ctx.model_name, cache_partition(ctx.caller, config_->cache.scope));
  const std::string& key = ctx.cache_key;
  if (directives.read) {
    if (auto found = cache_.get(key)) {
      // Near its expiry a hit may refresh the entry instead (one request at a time), while the
      // others keep being served the stored answer.
      const auto now = clock_.now();
      const bool refresh = refresh_early(now, found.expires_at, found.answer->compute_time, random_.uniform()) &&
                           cache_.claim_refresh(key, now + config_->server.request_timeout);
      if (auto served = refresh ? nullptr : in_form(found.answer, ctx.stream)) {
        const CachedAnswer& answer = *served;
        ctx.cache_status = "hit";
        ctx.cached_cost = answer.cost;
        ctx.usage = answer.usage;
        ctx.provider_id = answer.provider;
        ctx.upstream_model = answer.upstream_model;
        metrics_.cache_request("hit");
        Reply reply = ctx.stream ? Reply::chunks(std::make_unique<ReplayStream>(std::move(served)))
                                 : Reply::json(200, answer.body);
        reply.set_header("x-tollgate-cache", "hit");
        reply.set_header("x-tollgate-provider", answer.provider);
        reply.set_header("x-tollgate-model", answer.upstream_model);
        reply.set_header("x-tollgate-attempts", "0");
        co_return reply;
      }
    }
  }
  ctx.cache_status = directives.read ? "miss" : "bypass";
  metrics_.cache_request(ctx.cache_status);

  Reply reply = co_await next(ctx);
  reply.set_header("x-tollgate-cache", std::string(ctx.cache_status));
  // A joined request's answer is the leader's, which the leader's own cache stage stores.
  const bool complete = !reply.is_error() && reply.status == 200 && ctx.dedup_status != "joined";
  if (!directives.write || !complete) co_return reply;
  std::optional<std::chrono::nanoseconds> ttl;
  if (directives.ttl) ttl = *directives.ttl;
  else ttl = config_->cache.ttl;
  if (reply.is_stream()) {
    reply.stream = std::make_unique<RecordingStream>(std::move(reply.stream), ctx, cache_, key, ttl, pricing_);
  } else {
    CachedAnswer answer;
    answer.body = reply.body;
    answer.usage = ctx.usage;
    answer.model = ctx.model_name;
    answer.provider = ctx.provider_id;
    answer.upstream_model = ctx.upstream_model;
    answer.cost = charge(ctx, pricing_).cost;
    answer.compute_time = ctx.upstream_time;
    cache_.put(key, std::move(answer), ttl);
  }
  co_return reply;
}

}  // namespace tollgate::core
