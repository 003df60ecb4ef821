// Chat completions: request validation, the pipeline, and the client-facing stream (usage chunk policy).
#include "server/handlers/chat_handler.hpp"

#include <nlohmann/json.hpp>

#include "core/money/charge.hpp"
#include "core/money/tags.hpp"
#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

/// The stream as the client sees it: the usage chunk tollgate asked for is dropped when the client
/// did not ask for usage, and when it did, that chunk carries a `tollgate` object. Owns the
/// request context, so everything the inner streams reference lives as long as they do.
class ClientStream final : public core::ChunkStream {
 public:
  ClientStream(std::shared_ptr<core::RequestContext> ctx, std::unique_ptr<core::ChunkStream> inner,
               const core::Pricing& pricing)
      : ctx_(std::move(ctx)), inner_(std::move(inner)), pricing_(pricing) {}

  boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> next() override {
    for (;;) {
      auto result = co_await inner_->next();
      if (!result || !result->has_value()) co_return result;
      core::Chunk& chunk = **result;
      if (ctx_->client_wants_usage) {
        if (chunk.usage) annotate(chunk);
        co_return result;
      }
      if (chunk.usage_only) continue;
      strip_null_usage(chunk.data);
      co_return result;
    }
  }

  bool ready() const noexcept override { return inner_->ready(); }

 private:
  /// With include_usage an upstream puts `"usage":null` on every chunk; OpenAI leaves the field
  /// out for clients that did not ask. A suffix check, not a parse: this runs for every chunk.
  static void strip_null_usage(std::string& data) {
    constexpr std::string_view kNullUsage = R"(,"usage":null})";
    if (std::string_view(data).ends_with(kNullUsage)) data.replace(data.size() - kNullUsage.size(), kNullUsage.size(), "}");
  }

  void annotate(core::Chunk& chunk) const {
    auto json = nlohmann::json::parse(chunk.data, nullptr, false);
    if (!json.is_object()) return;
    const core::Charge bill = core::charge(*ctx_, pricing_);
    json["tollgate"] = {{"request_id", ctx_->request_id},
                        {"provider", ctx_->provider_id},
                        {"model", ctx_->upstream_model},
                        {"cost_usd", core::format_usd(bill.cost)},
                        {"usage_source", core::to_string(bill.source)},
                        {"cache", ctx_->cache_status.empty() ? nlohmann::json() : nlohmann::json(ctx_->cache_status)},
                        {"attempts", ctx_->attempts.size()}};
    if (!ctx_->requested_model.empty()) json["tollgate"]["downgraded_from"] = ctx_->requested_model;
    chunk.data = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // Declared first so it is destroyed last: the inner streams reference the context.
  std::shared_ptr<core::RequestContext> ctx_;
  std::unique_ptr<core::ChunkStream> inner_;
  const core::Pricing& pricing_;
};

}  // namespace

core::Result<core::ChatRequest> ChatHandler::parse(std::string_view body) const {
  if (operation_ == core::Operation::kChat) return core::parse_chat_request(body);
  // An embeddings body carries what the pipeline reads of a chat body: the model, never a stream.
  auto embeddings = core::parse_embeddings_request(body);
  if (!embeddings) return embeddings.error();
  return core::ChatRequest{.body = std::move(embeddings->body), .model = std::move(embeddings->model)};
}

ChatHandler::ChatHandler(std::shared_ptr<const config::Config> config, const core::Pipeline& pipeline,
                         const core::Pricing& pricing, const core::Clock& clock, core::Operation operation)
    : config_(std::move(config)), pipeline_(pipeline), pricing_(pricing), clock_(clock), operation_(operation) {}

boost::asio::awaitable<HttpReply> ChatHandler::handle(const Request& request, Exchange& exchange) {
  core::Result<core::ChatRequest> parsed = parse(request.body());
  if (!parsed) co_return HttpReply::error(parsed.error());
  core::Tags tags;
  if (auto header = request.find("x-tollgate-tags"); header != request.end()) {
    auto parsed_tags = core::parse_tags(header->value());
    if (!parsed_tags) co_return HttpReply::error(parsed_tags.error());
    tags = std::move(*parsed_tags);
  }
  auto objective = core::Objective::kNone;
  if (auto header = request.find("x-tollgate-objective"); header != request.end()) {
    auto parsed_objective = core::parse_objective(header->value());
    if (!parsed_objective)
      co_return HttpReply::error(core::make_error(
          core::ErrorKind::kInvalidRequest,
          "Invalid x-tollgate-objective header: expected cost, latency, quality, reliability or fairness.",
          "x-tollgate-objective"));
    objective = *parsed_objective;
  }
  auto priority = core::Priority::kNormal;
  if (auto header = request.find("x-tollgate-priority"); header != request.end()) {
    auto parsed_priority = core::parse_priority(header->value());
    if (!parsed_priority)
      co_return HttpReply::error(core::make_error(core::ErrorKind::kInvalidRequest,
                                                  "Invalid x-tollgate-priority header: expected high, normal or low.",
                                                  "x-tollgate-priority"));
    priority = *parsed_priority;
  }

  std::optional<std::string_view> x_cache, cache_control, cache_ttl;
  if (auto h = request.find("x-tollgate-cache"); h != request.end()) x_cache = h->value();
  if (auto h = request.find(boost::beast::http::field::cache_control); h != request.end()) cache_control = h->value();
  if (auto h = request.find("x-tollgate-cache-ttl"); h != request.end()) cache_ttl = h->value();
  auto directives = core::parse_cache_directives(x_cache, cache_control, cache_ttl);
  if (!directives) co_return HttpReply::error(directives.error());

  auto ctx = std::make_shared<core::RequestContext>();
  ctx->request_id = exchange.request_id;
  ctx->route = exchange.route;
  ctx->operation = operation_;
  ctx->config = config_;
  ctx->model_name = std::move(parsed->model);
  ctx->stream = parsed->stream;
  ctx->client_wants_usage = parsed->include_usage;
  ctx->body = std::move(parsed->body);
  ctx->received_at = exchange.received_at;
  ctx->caller = exchange.caller;
  ctx->received_unix_ms = core::unix_now(clock_);
  ctx->tags = std::move(tags);
  ctx->cache_directives = *directives;
  ctx->objective = objective;
  ctx->priority = priority;
  exchange.request = ctx;

  core::Reply reply = co_await pipeline_.run(*ctx);
  // The metrics label is a configured name only, never raw client input.
  if (ctx->model != nullptr) exchange.model = ctx->model->name;

  HttpReply out;
  if (reply.is_error()) {
    const auto& info = reply.failure->info();
    ctx->outcome.error = std::string(info.code.empty() ? info.type : info.code);
    out = HttpReply::error(*reply.failure);
  } else if (reply.is_stream()) {
    out.content_type = "text/event-stream";
    out.stream = std::make_unique<ClientStream>(ctx, std::move(reply.stream), pricing_);
  } else {
    out = HttpReply::json(static_cast<unsigned>(reply.status), std::move(reply.body));
  }
  for (auto& header : reply.headers) out.headers.push_back(std::move(header));
  co_return out;
}

}  // namespace tollgate::server
