// Budget specs: config budgets, stored budgets and virtual-key budgets as BudgetSpec.
#include "core/money/budget_specs.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tollgate::core {
namespace {

std::vector<double> thresholds(std::vector<double> alerts) {
  if (alerts.empty()) return kDefaultAlertThresholds;
  std::sort(alerts.begin(), alerts.end());
  alerts.erase(std::unique(alerts.begin(), alerts.end()), alerts.end());
  return alerts;
}

}  // namespace

std::vector<BudgetSpec> config_budgets(const config::Config& config) {
  std::vector<BudgetSpec> out;
  for (std::size_t i = 0; i < config.budgets.size(); ++i) {
    const auto& b = config.budgets[i];
    BudgetSpec spec;
    spec.id = "config_" + std::to_string(i);
    spec.origin = "config";
    spec.scope = parse_budget_scope(b.scope).value_or(BudgetScope::kGlobal);
    spec.scope_id = spec.scope == BudgetScope::kGlobal ? std::string() : b.scope_id;
    spec.period = parse_period(b.period).value_or(Period::kMonthly);
    spec.calendar = Calendar::in_zone(b.timezone).value_or(Calendar());
    spec.limit = usd_to_nanos(b.limit_usd).value_or(0);
    spec.enforcement = parse_enforcement(b.enforcement).value_or(Enforcement::kHard);
    spec.downgrade_to = b.downgrade_to;
    spec.alerts = thresholds(b.alerts);
    out.push_back(std::move(spec));
  }
  return out;
}

std::optional<BudgetSpec> budget_from_record(const BudgetRecord& record) {
  BudgetSpec spec;
  spec.id = record.id;
  spec.origin = "api";
  const auto scope = parse_budget_scope(record.scope);
  const auto period = parse_period(record.period);
  const auto calendar = Calendar::in_zone(record.timezone);
  const auto enforcement = parse_enforcement(record.enforcement);
  auto alerts = nlohmann::json::parse(record.alerts, nullptr, false);
  if (!scope || !period || !calendar || !enforcement || !alerts.is_array() || record.limit_nanos <= 0) {
    spdlog::error("budget {} in the store cannot be read (scope {}, period {}, time zone {}): it is not enforced",
                  record.id, record.scope, record.period, record.timezone);
    return std::nullopt;
  }
  spec.scope = *scope;
  spec.scope_id = record.scope_id;
  spec.period = *period;
  spec.calendar = *calendar;
  spec.limit = record.limit_nanos;
  spec.enforcement = *enforcement;
  spec.downgrade_to = record.downgrade_to;
  std::vector<double> fractions;
  for (const auto& a : alerts)
    if (a.is_number()) fractions.push_back(a.get<double>());
  spec.alerts = thresholds(std::move(fractions));
  spec.created_at = record.created_at;
  spec.updated_at = record.updated_at;
  return spec;
}

std::string key_budget_id(const VirtualKeyRecord& key) { return "vkb_" + key.id; }

std::optional<BudgetSpec> key_budget(const VirtualKeyRecord& key) {
  if (key.budget.empty() || key.revoked_at) return std::nullopt;
  const auto budget = nlohmann::json::parse(key.budget, nullptr, false);
  if (!budget.is_object() || !budget.contains("limit_usd") || !budget["limit_usd"].is_number()) return std::nullopt;
  BudgetSpec spec;
  spec.id = key_budget_id(key);
  spec.origin = "virtual_key";
  spec.scope = BudgetScope::kVirtualKey;
  spec.scope_id = key.id;
  spec.period = parse_period(budget.value("period", "monthly")).value_or(Period::kMonthly);
  spec.limit = usd_to_nanos(budget["limit_usd"].get<double>()).value_or(0);
  spec.enforcement = parse_enforcement(budget.value("enforcement", "hard")).value_or(Enforcement::kHard);
  spec.alerts = kDefaultAlertThresholds;
  spec.created_at = key.created_at;
  spec.updated_at = key.updated_at;
  if (spec.limit <= 0) return std::nullopt;
  return spec;
}

}  // namespace tollgate::core
