// Dedup stage: leading a flight, joining one, and reading a shared stream's upstream for its readers.
#include "core/pipeline/dedup_stage.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "core/cache/cache_key.hpp"
#include "core/money/charge.hpp"
#include "core/pipeline/semantic_probe.hpp"

namespace tollgate::core {
namespace {

GatewayError leader_gone() {
  return make_error(ErrorKind::kUpstreamError, "The identical request this one joined ended before its answer.");
}

/// A shared stream's upstream, read by a task of its own (pump_upstream) for every reader of the
/// flight. Keeps the leader's context alive while the upstream stream (which writes the leader's
/// usage into it) is read.
struct Pump {
  Pump(std::shared_ptr<RequestContext> leader, std::shared_ptr<Flight> shared, FlightTable& table, std::string flight_key,
       const Pricing& prices, SemanticMatches* similar_flights)
      : ctx(std::move(leader)),
        flight(std::move(shared)),
        flights(table),
        key(std::move(flight_key)),
        pricing(prices),
        similar(similar_flights) {
    flights.pump_started();
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;
  // The task was destroyed mid-stream (its io_context went away): readers get an error, and the
  // leader's settlement, if held, still runs.
  ~Pump() {
    if (!landed) land(false);
  }

  /// The upstream stream is over: readers are told (a no-op after a clean end), the flight lands,
  /// and a settlement held for a departed leader client runs now, with the full usage.
  void land(bool succeeded) {
    landed = true;
    flight->broadcast().fail(leader_gone());
    if (similar != nullptr) similar->remove(key);
    flights.land(key, flight, succeeded);
    if (!held.empty()) {
      ctx->settlers = std::move(held);
      held.clear();
      ctx->settle();
    }
    flights.pump_ended();
  }

  /// The leader's client is done while the upstream is still read: its ledger row waits for the
  /// end of the stream, so that it carries what the upstream call really cost.
  void hold_settlement() {
    if (landed) return;
    held = std::move(ctx->settlers);
    ctx->settlers.clear();
  }

  std::shared_ptr<RequestContext> ctx;
  std::shared_ptr<Flight> flight;
  FlightTable& flights;
  std::string key;
  const Pricing& pricing;
  SemanticMatches* similar;  // the flights by meaning, when semantic dedup is on
  bool landed = false;
  std::vector<std::function<void(RequestContext&)>> held;
};

/// Reads the upstream stream into the flight's broadcast as fast as it comes, whatever the pace
/// of the readers; stops early when no reader is left. Runs on the leader's strand, like the
/// leader's own reads of the context.
boost::asio::awaitable<void> pump_upstream(std::shared_ptr<Pump> pump, std::unique_ptr<ChunkStream> upstream) {
  Broadcast& out = pump->flight->broadcast();
  bool succeeded = false;
  for (;;) {
    auto result = co_await upstream->next();
    if (!result) {
      out.fail(result.error());
      break;
    }
    if (!result->has_value()) {
      pump->flight->set_cost(charge(*pump->ctx, pump->pricing).cost);
      out.finish();
      succeeded = true;
      break;
    }
    out.append(std::move(**result));
    if (out.readers() == 0) break;
  }
  upstream.reset();  // ends the attempt (metrics, in-flight count, slot) before the ledger row
  pump->land(succeeded);
}

/// The leader's client reading the flight's broadcast.
class LeaderStream final : public ChunkStream {
 public:
  LeaderStream(std::unique_ptr<ChunkStream> reader, std::shared_ptr<Pump> pump)
      : reader_(std::move(reader)), pump_(std::move(pump)) {}
  ~LeaderStream() override {
    reader_.reset();
    pump_->hold_settlement();
  }
  LeaderStream(const LeaderStream&) = delete;
  LeaderStream& operator=(const LeaderStream&) = delete;

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override { co_return co_await reader_->next(); }
  bool ready() const noexcept override { return reader_->ready(); }

 private:
  std::unique_ptr<ChunkStream> reader_;
  std::shared_ptr<Pump> pump_;
};

/// A joiner reading the flight's broadcast from its first chunk: notes the usage as it passes and
/// what the leader's call cost once it is known.
class JoinedStream final : public ChunkStream {
 public:
  JoinedStream(std::unique_ptr<ChunkStream> reader, Chunk first, std::shared_ptr<Flight> flight, RequestContext& ctx)
      : reader_(std::move(reader)), first_(std::move(first)), flight_(std::move(flight)), ctx_(ctx) {
    note(*first_);
  }
  ~JoinedStream() override { ctx_.cached_cost = flight_->cost(); }
  JoinedStream(const JoinedStream&) = delete;
  JoinedStream& operator=(const JoinedStream&) = delete;

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override {
    if (first_) {
      std::optional<Chunk> chunk = std::move(first_);
      first_.reset();
      co_return chunk;
    }
    auto result = co_await reader_->next();
    if (result && result->has_value()) note(**result);
    else ctx_.cached_cost = flight_->cost();
    co_return result;
  }
  bool ready() const noexcept override { return first_.has_value() || reader_->ready(); }

 private:
  void note(const Chunk& chunk) {
    if (chunk.usage) ctx_.usage = chunk.usage;
  }

  std::unique_ptr<ChunkStream> reader_;
  std::optional<Chunk> first_;
  std::shared_ptr<Flight> flight_;
  RequestContext& ctx_;
};

FlightHead head_of(const Reply& reply, const RequestContext& ctx) {
  FlightHead head;
  head.status = reply.status;
  head.body = reply.body;
  head.failure = reply.failure;
  head.headers = reply.headers;
  head.provider = ctx.provider_id;
  head.upstream_model = ctx.upstream_model;
  head.usage = ctx.usage;
  return head;
}

}  // namespace

DedupStage::DedupStage(std::shared_ptr<const config::Config> config, FlightTable& flights, const Pricing& pricing,
                       Metrics& metrics, Embedder* embedder)
    : config_(std::move(config)), flights_(flights), pricing_(pricing), metrics_(metrics), embedder_(embedder) {
  if (embedder_ != nullptr) {
    SemanticIndexOptions options;
    options.dimensions = embedder_->dimensions();
    options.max_vectors = kMaxSimilarFlights;
    similar_ = std::make_unique<SemanticMatches>(config_->dedup.semantic.threshold, options);
  }
}

DedupStage::~DedupStage() = default;

boost::asio::awaitable<Reply> DedupStage::handle(RequestContext& ctx, Next next) const {
  const CacheDirectives& directives = ctx.cache_directives;
  if (!directives.read && !directives.write) co_return co_await next(ctx);
  // A stream's upstream is handed to a task that keeps the context alive: it must be shared.
  if (ctx.stream && ctx.weak_from_this().expired()) co_return co_await next(ctx);
  if (ctx.cache_key.empty())
    ctx.cache_key = cache_key(ctx.body, ctx.model_name, ctx.key_partition());
  const std::string_view mode = ctx.stream ? ":stream" : ":json";
  std::string key = ctx.cache_key + std::string(mode);
  std::string similar_partition;  // the probe's partition and mode, when semantic dedup is on
  for (bool may_retry = true;; may_retry = false) {
    std::optional<FlightTable::Ticket> ticket;
    if (similar_ != nullptr) {
      if (const SemanticProbe* probe = co_await semantic_probe(ctx, *embedder_)) {
        similar_partition = probe->partition + std::string(mode);
        // No identical request in flight: one that means the same, when there is one.
        ticket = flights_.join_existing(key);
        if (!ticket) {
          if (auto other = similar_->nearest(similar_partition, probe->vector)) ticket = flights_.join_existing(*other);
        }
      }
    }
    if (!ticket) ticket = flights_.join(key);
    if (ticket->leader) {
      if (!similar_partition.empty()) similar_->add(similar_partition, key, ctx.semantic->vector);
      co_return co_await lead(ctx, next, std::move(key), std::move(ticket->flight));
    }
    std::optional<Reply> joined = co_await join(ctx, std::move(ticket->flight), may_retry);
    if (joined) co_return std::move(*joined);
  }
}

boost::asio::awaitable<Reply> DedupStage::lead(RequestContext& ctx, Next next, std::string key,
                                               std::shared_ptr<Flight> flight) const {
  // Lands the flight as failed when this coroutine ends without answering (destroyed at shutdown,
  // or a stage threw), so that no joiner waits forever.
  struct Abandon {
    FlightTable& flights;
    SemanticMatches* similar;
    const std::string& key;
    std::shared_ptr<Flight> flight;
    ~Abandon() {
      if (!flight) return;
      flight->broadcast().fail(leader_gone());
      if (similar != nullptr) similar->remove(key);
      flights.land(key, flight, false);
    }
  } abandon{flights_, similar_.get(), key, flight};

  ctx.dedup_status = "leader";
  Reply reply = co_await next(ctx);
  if (!reply.is_stream()) {
    const bool succeeded = !reply.is_error() && reply.status == 200;
    if (similar_ != nullptr) similar_->remove(key);
    // Landed first: from then on nobody can join, so when nobody did and the flight is not kept
    // for the recent window, the answer need not be copied (the common case).
    const bool kept = flights_.land(key, flight, succeeded);
    if (kept || flight->joined() > 0) {
      if (succeeded) flight->set_cost(charge(ctx, pricing_).cost);
      flight->set_head(head_of(reply, ctx));
    }
    flight->broadcast().finish();
    abandon.flight.reset();
    reply.set_header("x-tollgate-dedup", "leader");
    co_return reply;
  }
  flight->set_head(head_of(reply, ctx));
  reply.set_header("x-tollgate-dedup", "leader");
  auto pump = std::make_shared<Pump>(ctx.shared_from_this(), flight, flights_, key, pricing_, similar_.get());
  auto reader = flight->broadcast().reader();  // before the task can look for readers
  boost::asio::co_spawn(co_await boost::asio::this_coro::executor, pump_upstream(pump, std::move(reply.stream)),
                        boost::asio::detached);
  reply.stream = std::make_unique<LeaderStream>(std::move(reader), std::move(pump));
  abandon.flight.reset();
  co_return reply;
}

boost::asio::awaitable<std::optional<Reply>> DedupStage::join(RequestContext& ctx, std::shared_ptr<Flight> flight,
                                                              bool may_retry) const {
  auto reader = flight->broadcast().reader();
  // Returns once the leader has its head: the first chunk of a stream, or the end of the flight.
  auto first = co_await reader->next();
  std::optional<FlightHead> head = flight->head();
  const bool streamed = first && first->has_value();
  const bool failed = !head || (!streamed && (!first || head->failure || head->status != 200));
  if (failed && may_retry && (!head || !first || head->retryable())) co_return std::nullopt;

  ctx.dedup_status = "joined";
  metrics_.dedup_joined();
  Reply reply;
  if (!head) {
    reply = Reply::error(leader_gone());
  } else if (streamed) {
    ctx.cached_cost = flight->cost();
    reply = Reply::chunks(std::make_unique<JoinedStream>(std::move(reader), std::move(**first), flight, ctx));
  } else if (!first) {
    reply = Reply::error(first.error());
  } else if (head->failure) {
    reply = Reply::error(*head->failure);
  } else {
    reply = Reply::json(head->status, head->body);
    ctx.usage = head->usage;
    if (head->status == 200) ctx.cached_cost = flight->cost();
  }
  if (head) {
    ctx.provider_id = head->provider;
    ctx.upstream_model = head->upstream_model;
    for (const auto& [name, value] : head->headers)
      reply.set_header(name, name == "x-tollgate-attempts" ? "0" : value);
  }
  reply.set_header("x-tollgate-dedup", "joined");
  co_return reply;
}

}  // namespace tollgate::core
