// Budget stage: downgrade, worst-case reservation, budget_exceeded.
#include "core/pipeline/budget.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/time_format.hpp"

namespace tollgate::core {
namespace {

GatewayError exceeded(const BudgetRefusal& refusal) {
  const BudgetSpec& spec = *refusal.spec;
  std::string what = spec.label();
  if (spec.scope != BudgetScope::kGlobal && spec.scope_id.empty()) what += " (" + refusal.scope_value + ")";
  return make_error(ErrorKind::kBudgetExceeded,
                    fmt::format("Budget exceeded: {} budget {} has spent ${} of ${} this period{}; this request could "
                                "cost up to ${}. Lower max_tokens, or raise the budget.",
                                what, spec.id, format_usd(refusal.spend), format_usd(spec.limit),
                                refusal.reserved > 0 ? fmt::format(" (${} more held by requests in flight)",
                                                                   format_usd(refusal.reserved))
                                                     : std::string(),
                                format_usd(refusal.needed)));
}

}  // namespace

boost::asio::awaitable<Reply> BudgetGate::handle(RequestContext& ctx, Next next) const {
  if (book_.size() == 0) co_return co_await next(ctx);
  const std::int64_t now = unix_now(clock_);

  if (auto to = book_.downgrade(ctx.attribution, now); to && *to != ctx.model_name) {
    ctx.requested_model = std::move(ctx.model_name);
    ctx.model_name = std::move(*to);
    ctx.attribution.model = ctx.model_name;
  }
  const config::ModelConfig* model = config_->find_model(ctx.model_name);
  if (model == nullptr) co_return co_await next(ctx);  // the router answers 404
  if (!model->deployments.empty()) ctx.attribution.provider = model->deployments.front().provider;

  const DeploymentPrice& worst = pricing_.worst_case(*model);
  std::int64_t output = requested_output_tokens(ctx.body);
  // An embeddings request has no output tokens to reserve for.
  if (output == 0 && ctx.operation == Operation::kChat)
    output = worst.max_output_tokens.value_or(kDefaultWorstCaseOutputTokens);
  Usage worst_usage;
  worst_usage.prompt_tokens = ctx.estimated_prompt_tokens();
  worst_usage.completion_tokens = output;
  const Nanos worst_cost = cost_nanos(worst_usage, worst.price);
  auto reserved = book_.reserve(ctx.attribution, worst_cost, now);
  // Refused only because requests in flight hold money they will mostly give back: wait for them
  // to settle rather than refuse a request the budget may well have room for.
  // The timer exists only on that path: a request that fits at once pays nothing for it.
  const auto deadline = std::min(ctx.received_at + config_->server.request_timeout, clock_.now() + kMaxBudgetWait);
  std::optional<boost::asio::steady_timer> timer;
  auto pause = std::chrono::milliseconds(2);
  while (std::holds_alternative<BudgetRefusal>(reserved)) {
    const auto& refusal = std::get<BudgetRefusal>(reserved);
    const bool settling_may_help =
        refusal.reserved > 0 && refusal.spend + refusal.needed <= refusal.spec->limit;
    if (!settling_may_help || clock_.now() + pause > deadline) co_return Reply::error(exceeded(refusal));
    if (!timer) timer.emplace(co_await boost::asio::this_coro::executor);
    timer->expires_after(pause);
    co_await timer->async_wait(boost::asio::use_awaitable);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
    reserved = book_.reserve(ctx.attribution, worst_cost, unix_now(clock_));
  }
  ctx.hold = std::move(std::get<BudgetHold>(reserved));

  Reply reply = co_await next(ctx);
  if (!ctx.requested_model.empty()) reply.headers.emplace_back("x-tollgate-downgraded-from", ctx.requested_model);
  co_return reply;
}

}  // namespace tollgate::core
