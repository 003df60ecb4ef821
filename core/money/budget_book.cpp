// BudgetBook: accounts per budget and scope value, reservations, settlement, thresholds, recovery.
#include "core/money/budget_book.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <spdlog/spdlog.h>

namespace tollgate::core {

struct BudgetHold::Account {
  Window window;
  Nanos spent = 0;     // settled in `window`
  Nanos reserved = 0;  // held by requests in flight
  std::size_t fired = 0;  // thresholds (spec->alerts, ascending) already alerted in `window`
  bool recovering = false;  // the ledger read for `window` has not returned yet
  bool published = false;   // has its own metric series
};

struct BudgetBook::Budget {
  std::shared_ptr<const BudgetSpec> spec;
  std::unordered_map<std::string, std::shared_ptr<Account>> accounts;  // by scope value
  std::size_t published = 0;  // accounts with metric series (capped: values may come from client tags)
  std::uint64_t generation = 0;  // bumped when a recovery starts; a stale read is ignored
};

namespace {

constexpr std::size_t kMaxSeriesPerBudget = 100;

struct ScopeName {
  BudgetScope scope;
  std::string_view name;
  std::string_view column;
};
constexpr std::array<ScopeName, 8> kScopes{{{BudgetScope::kGlobal, "global", ""},
                                            {BudgetScope::kProvider, "provider", "provider"},
                                            {BudgetScope::kModel, "model", "model"},
                                            {BudgetScope::kVirtualKey, "virtual_key", "virtual_key"},
                                            {BudgetScope::kTeam, "team", "team"},
                                            {BudgetScope::kProject, "project", "project"},
                                            {BudgetScope::kCustomer, "customer", "customer"},
                                            {BudgetScope::kFeature, "feature", "feature"}}};

/// The accounts a request touches: for a fixed scope_id the one account when the value matches;
/// for a per-value budget the account of the request's value; global always.
std::optional<std::string_view> matching_value(const BudgetSpec& spec, const Attribution& who) {
  if (spec.scope == BudgetScope::kGlobal) return std::string_view{};
  const std::string_view value = who.value(spec.scope);
  if (value.empty()) return std::nullopt;
  if (!spec.scope_id.empty() && value != spec.scope_id) return std::nullopt;
  return value;
}

std::string series_name(const BudgetSpec& spec, std::string_view value) {
  if (!spec.scope_id.empty() || spec.scope == BudgetScope::kGlobal) return spec.id;
  return spec.id + "/" + std::string(value);
}

std::string percent(double fraction) {
  const double p = fraction * 100;
  return std::floor(p) == p ? fmt::format("{:.0f}%", p) : fmt::format("{}%", p);
}

}  // namespace

std::optional<BudgetScope> parse_budget_scope(std::string_view text) noexcept {
  for (const auto& s : kScopes)
    if (s.name == text) return s.scope;
  return std::nullopt;
}

std::string_view to_string(BudgetScope scope) noexcept { return kScopes[static_cast<std::size_t>(scope)].name; }
std::string_view ledger_column(BudgetScope scope) noexcept { return kScopes[static_cast<std::size_t>(scope)].column; }

std::optional<Enforcement> parse_enforcement(std::string_view text) noexcept {
  if (text == "hard") return Enforcement::kHard;
  if (text == "soft") return Enforcement::kSoft;
  if (text == "alert") return Enforcement::kAlert;
  return std::nullopt;
}

std::string_view to_string(Enforcement enforcement) noexcept {
  switch (enforcement) {
    case Enforcement::kHard: return "hard";
    case Enforcement::kSoft: return "soft";
    case Enforcement::kAlert: break;
  }
  return "alert";
}

std::string BudgetSpec::label() const {
  std::string out(to_string(scope));
  if (scope != BudgetScope::kGlobal) out += "=" + (scope_id.empty() ? std::string("each") : scope_id);
  out += " ";
  out += to_string(period);
  return out;
}

std::string_view Attribution::value(BudgetScope scope) const noexcept {
  switch (scope) {
    case BudgetScope::kGlobal: return {};
    case BudgetScope::kProvider: return provider;
    case BudgetScope::kModel: return model;
    case BudgetScope::kVirtualKey: return virtual_key;
    case BudgetScope::kTeam: return team;
    case BudgetScope::kProject: return project;
    case BudgetScope::kCustomer: return customer;
    case BudgetScope::kFeature: return feature;
  }
  return {};
}

BudgetBook::BudgetBook(Store& store, Metrics& metrics, AlertSink* alerts)
    : store_(store), metrics_(metrics), alerts_(alerts) {}

void BudgetBook::roll(const Budget& budget, Account& account, std::int64_t now) const {
  if (account.window.contains(now)) return;
  account.window = budget.spec->calendar.window(budget.spec->period, now);
  account.spent = 0;
  account.fired = 0;
  account.recovering = false;  // a read for the old window no longer applies
}

BudgetBook::Account& BudgetBook::account(Budget& budget, std::string_view value, std::int64_t now) {
  auto it = budget.accounts.find(std::string(value));
  if (it == budget.accounts.end()) {
    auto created = std::make_shared<Account>();
    created->window = budget.spec->calendar.window(budget.spec->period, now);
    it = budget.accounts.emplace(std::string(value), std::move(created)).first;
  }
  roll(budget, *it->second, now);
  return *it->second;
}

void BudgetBook::publish(Budget& budget, std::string_view value, Account& account) {
  if (!account.published) {
    if (budget.published >= kMaxSeriesPerBudget) return;
    account.published = true;
    ++budget.published;
  }
  metrics_.budget(series_name(*budget.spec, value), to_usd(account.spent), to_usd(budget.spec->limit));
}

void BudgetBook::put(BudgetSpec spec, std::int64_t now) {
  std::sort(spec.alerts.begin(), spec.alerts.end());
  auto shared_spec = std::make_shared<const BudgetSpec>(std::move(spec));
  std::lock_guard lock(mutex_);
  auto it = std::lower_bound(budgets_.begin(), budgets_.end(), shared_spec->id,
                             [](const std::shared_ptr<Budget>& b, const std::string& id) { return b->spec->id < id; });
  if (it != budgets_.end() && (*it)->spec->id == shared_spec->id) {
    Budget& existing = **it;
    const BudgetSpec& old = *existing.spec;
    const bool same_accounts = old.scope == shared_spec->scope && old.scope_id == shared_spec->scope_id &&
                               old.period == shared_spec->period &&
                               old.calendar.zone_name() == shared_spec->calendar.zone_name();
    existing.spec = shared_spec;
    if (same_accounts) {
      // A new limit or threshold list: thresholds already passed stay fired.
      for (auto& [value, account] : existing.accounts) {
        const double used = static_cast<double>(account->spent) / static_cast<double>(shared_spec->limit);
        account->fired = static_cast<std::size_t>(
            std::upper_bound(shared_spec->alerts.begin(), shared_spec->alerts.end(), used) - shared_spec->alerts.begin());
        publish(existing, value, *account);
      }
      return;
    }
    existing.accounts.clear();
    start_recovery(*it, now);
    return;
  }
  auto budget = std::make_shared<Budget>();
  budget->spec = shared_spec;
  budgets_.insert(it, budget);
  count_ = budgets_.size();
  start_recovery(budget, now);
}

void BudgetBook::start_recovery(const std::shared_ptr<Budget>& budget, std::int64_t now) {
  const BudgetSpec& spec = *budget->spec;
  const Window window = spec.calendar.window(spec.period, now);
  const std::uint64_t generation = ++budget->generation;
  // Accounts created from now on count in memory what the read will not see; the read adds the rest.
  if (spec.scope == BudgetScope::kGlobal || !spec.scope_id.empty()) {
    account(*budget, spec.scope == BudgetScope::kGlobal ? std::string_view{} : spec.scope_id, now).recovering = true;
  }
  SpendQuery query{std::string(ledger_column(spec.scope)), window.start, window.end};
  std::weak_ptr<Budget> weak = budget;
  store_.query_spend(std::move(query), [this, weak, generation, window](std::optional<SpendRows> rows) {
    auto budget = weak.lock();
    if (!budget) return;
    std::lock_guard lock(mutex_);
    if (budget->generation != generation) return;
    const BudgetSpec& spec = *budget->spec;
    if (!rows) {
      spdlog::error("budget {} ({}): could not read its spend from the ledger; it counts from zero", spec.id,
                    spec.label());
      rows.emplace();
    }
    const bool per_value = spec.scope != BudgetScope::kGlobal && spec.scope_id.empty();
    for (const auto& [value, nanos] : *rows) {
      if (spec.scope == BudgetScope::kGlobal || value == spec.scope_id || (per_value && !value.empty())) {
        auto it = budget->accounts.find(spec.scope == BudgetScope::kGlobal ? std::string() : value);
        if (it == budget->accounts.end()) {
          auto created = std::make_shared<Account>();
          created->window = window;
          it = budget->accounts.emplace(spec.scope == BudgetScope::kGlobal ? std::string() : value, std::move(created))
                   .first;
        } else if (!(it->second->window == window)) {
          continue;  // the period ended while the read ran
        }
        it->second->spent += nanos;
      }
    }
    for (auto& [value, account] : budget->accounts) {
      account->recovering = false;
      const double used = static_cast<double>(account->spent) / static_cast<double>(spec.limit);
      account->fired = static_cast<std::size_t>(std::upper_bound(spec.alerts.begin(), spec.alerts.end(), used) -
                                                spec.alerts.begin());
      publish(*budget, value, *account);
    }
  });
}

bool BudgetBook::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(budgets_.begin(), budgets_.end(), [&](const auto& b) { return b->spec->id == id; });
  if (it == budgets_.end()) return false;
  budgets_.erase(it);
  count_ = budgets_.size();
  return true;
}

void BudgetBook::replace_origin(std::string_view origin, std::vector<BudgetSpec> specs, std::int64_t now) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(budgets_, [&](const auto& b) {
      return b->spec->origin == origin &&
             std::none_of(specs.begin(), specs.end(), [&](const BudgetSpec& s) { return s.id == b->spec->id; });
    });
    count_ = budgets_.size();
  }
  for (auto& spec : specs) put(std::move(spec), now);
}

std::shared_ptr<const BudgetSpec> BudgetBook::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  for (const auto& b : budgets_)
    if (b->spec->id == id) return b->spec;
  return nullptr;
}

BudgetStatus BudgetBook::status_row(const Budget& budget, const Account& account, std::int64_t now) const {
  BudgetStatus row;
  row.spec = budget.spec;
  row.window = account.window;
  row.reserved = account.reserved;
  row.recovering = account.recovering;
  if (account.window.contains(now)) {
    row.spend = account.spent;
  } else {
    row.window = budget.spec->calendar.window(budget.spec->period, now);
  }
  row.projected = row.spend;
  if (row.window.end != kEndOfTime && row.spend > 0) {
    // The spend so far, continued at its average rate to the period's end. The elapsed time is at
    // least a minute, so the first request of a period does not project a fortune.
    const double elapsed = static_cast<double>(std::max<std::int64_t>(now - row.window.start, 60'000));
    const double length = static_cast<double>(row.window.end - row.window.start);
    row.projected = static_cast<Nanos>(std::llround(static_cast<double>(row.spend) * std::max(1.0, length / elapsed)));
  }
  return row;
}

std::vector<BudgetStatus> BudgetBook::status(std::int64_t now) const {
  std::vector<BudgetStatus> out;
  std::lock_guard lock(mutex_);
  for (const auto& budget : budgets_) {
    if (budget->accounts.empty()) {
      Account none;
      none.window = budget->spec->calendar.window(budget->spec->period, now);
      auto row = status_row(*budget, none, now);
      row.scope_value = budget->spec->scope_id;
      out.push_back(std::move(row));
      continue;
    }
    std::vector<const std::pair<const std::string, std::shared_ptr<Account>>*> sorted;
    for (const auto& entry : budget->accounts) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* entry : sorted) {
      auto row = status_row(*budget, *entry->second, now);
      row.scope_value = entry->first;
      out.push_back(std::move(row));
    }
  }
  return out;
}

std::vector<BudgetStatus> BudgetBook::status_of(std::string_view id, std::int64_t now) const {
  auto all = status(now);
  std::erase_if(all, [&](const BudgetStatus& s) { return s.spec->id != id; });
  return all;
}

std::optional<std::string> BudgetBook::downgrade(const Attribution& who, std::int64_t now) const {
  std::lock_guard lock(mutex_);
  for (const auto& budget : budgets_) {
    const BudgetSpec& spec = *budget->spec;
    if (spec.enforcement != Enforcement::kSoft || spec.downgrade_to.empty()) continue;
    const auto value = matching_value(spec, who);
    if (!value) continue;
    auto it = budget->accounts.find(std::string(*value));
    if (it == budget->accounts.end() || !it->second->window.contains(now)) continue;
    if (it->second->spent >= spec.limit) return spec.downgrade_to;
  }
  return std::nullopt;
}

std::variant<BudgetHold, BudgetRefusal> BudgetBook::reserve(const Attribution& who, Nanos worst_case,
                                                            std::int64_t now) {
  BudgetHold hold;
  hold.amount_ = std::max<Nanos>(worst_case, 0);
  std::lock_guard lock(mutex_);
  for (const auto& budget : budgets_) {
    const BudgetSpec& spec = *budget->spec;
    if (spec.enforcement != Enforcement::kHard) continue;
    const auto value = matching_value(spec, who);
    if (!value) continue;
    auto& acct = account(*budget, *value, now);
    // Without a price (worst case 0) a spent budget still refuses: serving would overshoot it.
    const bool fits = hold.amount_ > 0 ? acct.spent + acct.reserved + hold.amount_ <= spec.limit : acct.spent < spec.limit;
    if (!fits) {
      for (const auto& held : hold.entries_) held->reserved -= hold.amount_;
      return BudgetRefusal{budget->spec, std::string(*value), acct.spent, acct.reserved, hold.amount_};
    }
    acct.reserved += hold.amount_;
    hold.entries_.push_back(budget->accounts.find(std::string(*value))->second);
  }
  return hold;
}

void BudgetBook::record(BudgetHold hold, const Attribution& who, Nanos cost, std::int64_t now, LedgerRecord row) {
  std::vector<BudgetAlert> crossed;
  {
    std::lock_guard lock(mutex_);
    for (const auto& held : hold.entries_) held->reserved -= hold.amount_;
    if (cost > 0) {
      for (const auto& budget : budgets_) {
        const BudgetSpec& spec = *budget->spec;
        const auto value = matching_value(spec, who);
        if (!value) continue;
        auto& acct = account(*budget, *value, now);
        acct.spent += cost;
        const double used = static_cast<double>(acct.spent) / static_cast<double>(spec.limit);
        while (acct.fired < spec.alerts.size() && used >= spec.alerts[acct.fired]) {
          BudgetAlert alert;
          alert.budget_id = spec.id;
          alert.budget_name = spec.label();
          alert.scope = std::string(to_string(spec.scope));
          alert.scope_id = std::string(*value);
          alert.period = std::string(to_string(spec.period));
          alert.period_start = acct.window.start;
          alert.period_end = acct.window.end;
          alert.spend = acct.spent;
          alert.limit = spec.limit;
          alert.threshold = spec.alerts[acct.fired];
          alert.enforcement = std::string(to_string(spec.enforcement));
          alert.at = now;
          crossed.push_back(std::move(alert));
          ++acct.fired;
        }
        publish(*budget, *value, acct);
      }
    }
    // Under the same lock as the spend: a recovery read queued after this row sees it, and one
    // queued before it does not while memory already counts it (see put()).
    store_.append_ledger(std::move(row));
  }
  for (auto& alert : crossed) {
    spdlog::warn("budget {} ({}{}{}) reached {} of its limit: spent {} of {} USD", alert.budget_id, alert.budget_name,
                 alert.scope_id.empty() ? "" : ", ", alert.scope_id, percent(alert.threshold), format_usd(alert.spend),
                 format_usd(alert.limit));
    metrics_.budget_alert(alert.budget_id, alert.threshold);
    if (alerts_ != nullptr) alerts_->notify(std::move(alert));
  }
}


}  // namespace tollgate::core
