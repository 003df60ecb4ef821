// Budget stage: soft-budget downgrades and worst-case reservations against hard budgets.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "core/money/budget_book.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"

namespace tollgate::core {

/// Output tokens assumed for the worst case when neither the request (max_tokens) nor the price
/// map (max_output_tokens) bounds them.
inline constexpr std::int64_t kDefaultWorstCaseOutputTokens = 4096;
/// How long a request that does not fit only because of money held by requests in flight waits
/// for them to settle (never past the request's own deadline).
inline constexpr std::chrono::seconds kMaxBudgetWait{30};

/// When a soft budget that applies is spent, serves its `downgrade_to` model instead (the reply
/// says so in `x-tollgate-downgraded-from`). Then reserves the request's worst-case cost —
/// (estimated prompt tokens + max output tokens) × the highest price any of the model's
/// deployments or fallbacks charges — against every hard budget that applies, all or none, and
/// answers 429 budget_exceeded (x-should-retry: false) when one cannot take it. When only money
/// held by requests in flight is in the way, it first waits (polling, 2 ms doubling to 50 ms, at
/// most kMaxBudgetWait) for them to settle. The hold is settled by the accounting stage with the
/// real cost, or released if nothing was served.
class BudgetGate final : public Middleware {
 public:
  BudgetGate(std::shared_ptr<const config::Config> config, const Pricing& pricing, BudgetBook& book, const Clock& clock)
      : config_(std::move(config)), pricing_(pricing), book_(book), clock_(clock) {}
  std::string_view name() const noexcept override { return "budget"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

 private:
  std::shared_ptr<const config::Config> config_;
  const Pricing& pricing_;
  BudgetBook& book_;
  const Clock& clock_;
};

}  // namespace tollgate::core
