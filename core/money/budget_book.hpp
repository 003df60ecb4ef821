// BudgetBook: every budget's spend and reservations, in memory, kept exact against the ledger.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/metrics/metrics.hpp"
#include "core/money/alerts.hpp"
#include "core/money/attribution.hpp"
#include "core/money/money.hpp"
#include "core/money/periods.hpp"
#include "core/store/store.hpp"

namespace tollgate::core {

enum class Enforcement { kHard, kSoft, kAlert };

std::optional<BudgetScope> parse_budget_scope(std::string_view text) noexcept;
std::string_view to_string(BudgetScope scope) noexcept;
/// The ledger column a scope is recorded in ("" for global).
std::string_view ledger_column(BudgetScope scope) noexcept;
std::optional<Enforcement> parse_enforcement(std::string_view text) noexcept;
std::string_view to_string(Enforcement enforcement) noexcept;

/// The thresholds used when a budget names none.
inline const std::vector<double> kDefaultAlertThresholds{0.5, 0.75, 0.9, 1.0};

/// One budget as configured. With an empty scope_id a non-global budget applies to each value of
/// its scope separately (`{scope: team, limit_usd: 100}`: every team gets 100).
struct BudgetSpec {
  std::string id;      // "config_<n>", "bud_…" (admin API), "vkb_<virtual key id>"
  std::string origin;  // config | api | virtual_key
  BudgetScope scope = BudgetScope::kGlobal;
  std::string scope_id;
  Period period = Period::kMonthly;
  Calendar calendar;
  Nanos limit = 0;
  Enforcement enforcement = Enforcement::kHard;
  std::string downgrade_to;      // soft: the model name served once over
  std::vector<double> alerts;    // ascending fractions of the limit
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;

  std::string label() const;  // "team=ml monthly", for logs and alerts
};

/// One budget for one scope value, as GET /api/v1/budgets shows it.
struct BudgetStatus {
  std::shared_ptr<const BudgetSpec> spec;
  std::string scope_value;  // the value this account is for (== spec->scope_id unless per-value)
  Window window;
  Nanos spend = 0;
  Nanos reserved = 0;
  Nanos projected = 0;  // the period's end spend at the rate so far (total: the spend)
  bool recovering = false;  // the ledger's spend for this budget is still being read
};

/// Why a request may not start, for the 429 budget_exceeded message.
struct BudgetRefusal {
  std::shared_ptr<const BudgetSpec> spec;
  std::string scope_value;
  Nanos spend = 0;     // settled in the period
  Nanos reserved = 0;  // held by requests in flight
  Nanos needed = 0;    // this request's worst case
};

/// All budgets' accounts. Thread-safe: one mutex guards every account, so a reservation against
/// several budgets is atomic, and recording a request (memory and ledger queue) happens in one
/// step, which keeps the in-memory spend exact against the ledger (see add()).
class BudgetBook {
 public:
  /// `alerts` may be null (no webhook): thresholds still log and count.
  BudgetBook(Store& store, Metrics& metrics, AlertSink* alerts);

  /// Adds or replaces a budget. A new budget (or one whose scope, period or zone changed) reads its
  /// period's spend from the ledger: the read is queued behind every ledger row already queued,
  /// and spend recorded meanwhile is kept apart and added to what the read returns, so nothing is
  /// counted twice or missed. Thresholds already passed on recovery do not alert again.
  void put(BudgetSpec spec, std::int64_t now);
  /// Removes a budget and its accounts (holds on it become no-ops). False when unknown.
  bool remove(std::string_view id);
  /// Replaces every budget of `origin` with `specs` (start-up, config).
  void replace_origin(std::string_view origin, std::vector<BudgetSpec> specs, std::int64_t now);

  std::shared_ptr<const BudgetSpec> find(std::string_view id) const;
  /// Every budget's accounts for the period containing `now`, by budget id then value. A per-value
  /// budget with no spend yet shows one row with an empty value.
  std::vector<BudgetStatus> status(std::int64_t now) const;
  /// The accounts of one budget.
  std::vector<BudgetStatus> status_of(std::string_view id, std::int64_t now) const;

  /// The model to serve instead when a soft budget that applies is spent (its downgrade_to), else
  /// nullopt. The first such budget, in id order, wins.
  std::optional<std::string> downgrade(const Attribution& who, std::int64_t now) const;

  /// Reserves `worst_case` against every hard budget that applies, all or none. On refusal
  /// returns the first budget that cannot take it (nothing is held).
  std::variant<BudgetHold, BudgetRefusal> reserve(const Attribution& who, Nanos worst_case, std::int64_t now);

  /// Settles a request: releases its hold, adds `cost` to every budget that applies to `who` (in
  /// the period containing `now`), fires thresholds crossed, and queues `row` for the ledger — in
  /// one step under the lock. Alerts are sent after the lock is released.
  void record(BudgetHold hold, const Attribution& who, Nanos cost, std::int64_t now, LedgerRecord row);

  /// How many budgets there are; lock-free (the budget stage asks it on every request).
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  struct Budget;
  using Account = BudgetHold::Account;
  Account& account(Budget& budget, std::string_view value, std::int64_t now);
  void start_recovery(const std::shared_ptr<Budget>& budget, std::int64_t now);
  BudgetStatus status_row(const Budget& budget, const Account& account, std::int64_t now) const;
  void roll(const Budget& budget, Account& account, std::int64_t now) const;
  void publish(Budget& budget, std::string_view value, Account& account);

  Store& store_;
  Metrics& metrics_;
  AlertSink* alerts_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Budget>> budgets_;  // by id
  std::atomic<std::size_t> count_{0};             // budgets_.size(), kept under mutex_
};

}  // namespace tollgate::core
