// Accounting stage: attribution on the way in; cost, ledger row, budgets and metrics once over.
#pragma once

#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/money/budget_book.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"

namespace tollgate::core {

/// The first stage, so that every request that reaches the pipeline is accounted for, refused ones
/// included. On the way in it sets ctx.attribution from the caller's virtual key (team, project,
/// customer) and the request's tags (`feature`; `team`/`project`/`customer` where the key sets
/// none). On the way back a buffered reply gets `x-tollgate-cost-usd`. Once the reply is over (a
/// settler, so a client that left is accounted too) it prices the request (charge.hpp), records
/// tokens, cost, unpriced and savings metrics, and hands the ledger row to the budget book, which
/// releases the request's hold and adds the real cost to every budget that applies.
class Accounting final : public Middleware {
 public:
  Accounting(const Pricing& pricing, BudgetBook& book, Metrics& metrics, const Clock& clock)
      : pricing_(pricing), book_(book), metrics_(metrics), clock_(clock) {}
  std::string_view name() const noexcept override { return "accounting"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  void settle(RequestContext& ctx) const;

  const Pricing& pricing_;
  BudgetBook& book_;
  Metrics& metrics_;
  const Clock& clock_;
};

}  // namespace tollgate::core
