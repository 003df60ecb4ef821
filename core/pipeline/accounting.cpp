// Accounting stage: attribution, the cost header, and settlement into metrics, budgets and the ledger.
#include "core/pipeline/accounting.hpp"

#include <spdlog/spdlog.h>

#include "core/money/charge.hpp"
#include "core/time_format.hpp"

namespace tollgate::core {
namespace {

constexpr std::size_t kMaxStoredModelName = 256;

/// The key's own attribution wins; a tag fills in what the key leaves empty.
std::string attribute(const std::string& from_key, const Tags& tags, std::string_view tag) {
  return from_key.empty() ? std::string(tag_value(tags, tag)) : from_key;
}

}  // namespace

boost::asio::awaitable<Reply> Accounting::handle(RequestContext& ctx, Next next) const {
  Attribution& who = ctx.attribution;
  static const std::string kNone;
  const auto& key = ctx.caller.key;
  who.virtual_key = key ? key->id : std::string();
  who.team = attribute(key ? key->team : kNone, ctx.tags, "team");
  who.project = attribute(key ? key->project : kNone, ctx.tags, "project");
  who.customer = attribute(key ? key->customer : kNone, ctx.tags, "customer");
  who.feature = std::string(tag_value(ctx.tags, "feature"));
  who.model = ctx.model_name;
  ctx.settlers.push_back([this](RequestContext& done) { settle(done); });

  Reply reply = co_await next(ctx);
  if (!reply.is_stream()) reply.set_header("x-tollgate-cost-usd", format_usd(charge(ctx, pricing_).cost));
  co_return reply;
}

void Accounting::settle(RequestContext& ctx) const {
  const Charge bill = charge(ctx, pricing_);
  if (ctx.deployment != nullptr || ctx.cached_cost) {
    Metrics::Spend spend{bill.usage.prompt_tokens, bill.usage.completion_tokens, bill.usage.cached_tokens,
                         bill.usage.reasoning_tokens, to_usd(bill.cost), bill.priced};
    metrics_.spend(ctx.provider_id, ctx.upstream_model, to_string(bill.source), spend);
    if (!bill.priced)
      spdlog::warn("request {}: {}/{} has no price; counted at 0 USD (add it to the prices file or the deployment's "
                   "`price`)",
                   ctx.request_id, ctx.provider_id, ctx.upstream_model);
  }
  const std::string_view saved_source = bill.source != UsageSource::kCache ? "routing"
                                        : ctx.dedup_status == "joined"   ? "dedup"
                                                                         : "cache";
  if (bill.saved > 0) metrics_.saved(saved_source, to_usd(bill.saved));

  ctx.billed = RequestContext::Billed{bill.usage, to_string(bill.source), bill.cost};

  Attribution& who = ctx.attribution;
  who.model = ctx.model_name;
  if (!ctx.provider_id.empty()) who.provider = ctx.provider_id;

  LedgerRecord row;
  row.request_id = ctx.request_id;
  row.at = ctx.received_unix_ms;
  row.route = std::string(ctx.route);
  row.caller = std::string(ctx.caller.id());
  row.virtual_key = who.virtual_key;
  row.team = who.team;
  row.project = who.project;
  row.customer = who.customer;
  row.feature = who.feature;
  row.tags = tags_json(ctx.tags);
  // The requested name is the client's text (an unknown one too): bounded before it is stored.
  row.model = (ctx.requested_model.empty() ? ctx.model_name : ctx.requested_model).substr(0, kMaxStoredModelName);
  row.served_model = ctx.model_name.substr(0, kMaxStoredModelName);
  row.provider = ctx.provider_id;
  row.deployment = ctx.upstream_model;
  row.prompt_tokens = bill.usage.prompt_tokens;
  row.completion_tokens = bill.usage.completion_tokens;
  row.cached_tokens = bill.usage.cached_tokens;
  row.reasoning_tokens = bill.usage.reasoning_tokens;
  row.usage_source = std::string(to_string(bill.source));
  row.cost_nanos = bill.cost;
  row.saved_nanos = bill.saved;
  if (bill.saved > 0) row.saved_source = std::string(saved_source);
  row.cache = std::string(ctx.cache_status);
  row.dedup = std::string(ctx.dedup_status);
  row.routing_reason = ctx.routing_reason;
  row.attempts = static_cast<int>(ctx.attempts.size());
  row.latency_ms = ctx.outcome.latency_ms;
  row.status = ctx.outcome.status;
  row.error = ctx.outcome.error;
  book_.record(std::move(ctx.hold), who, bill.cost, unix_now(clock_), std::move(row));
}

}  // namespace tollgate::core
