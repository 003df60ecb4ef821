// /api/v1/budgets: spend limits (create, list with spend, show, change, delete).
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/money/budget_book.hpp"
#include "server/admin/admin_support.hpp"
#include "server/admin/body_fields.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// The public view of one budget account: the spec (scope, period, limits, alerts) and its period's
/// spend, reserved, remaining (max(0, limit − spend)), utilization (spend/limit, 4 decimals) and
/// projected spend; money as exact decimal strings, times as RFC 3339 (period_end null for total).
/// "scope_value" only for a per-value budget (non-global with no scope_id): the value, or null when
/// no value has spent yet. "recovering" only while the ledger's spend is still being read.
nlohmann::json budget_status_json(const core::BudgetStatus& status);

/// The accounts worth showing of one budget's rows (as BudgetBook::status_of returns them): a
/// per-value budget drops the values that neither spent nor hold money in this period (accounts
/// left from earlier periods), keeping one row with no value when nothing is left.
std::vector<core::BudgetStatus> shown_accounts(std::vector<core::BudgetStatus> rows);

/// GET /api/v1/budgets: one entry per shown account of every budget in `all` (BudgetBook::status).
nlohmann::json budget_list_json(const std::vector<core::BudgetStatus>& all);
/// GET /api/v1/budgets/{id} from that budget's rows (not empty): the first shown account's view,
/// plus "accounts" (every shown account's view) for a per-value budget.
nlohmann::json budget_detail_json(const std::vector<core::BudgetStatus>& rows);

/// What a budget body may refer to, checked against the running configuration and virtual keys.
struct BudgetReferences {
  const config::Config& config;
  std::function<bool(std::string_view)> virtual_key_exists;
};

/// Reads a POST (`creating`: scope, period and limit_usd required; scope_id allowed) or PATCH body
/// onto `record`: scope, scope_id, period, timezone, limit_usd, enforcement, downgrade_to, alerts.
/// In a PATCH, scope and scope_id may only repeat the current values, null resets timezone,
/// enforcement, downgrade_to and alerts to their defaults. The first mistake is a 400 naming the field.
std::optional<core::GatewayError> read_budget_body(const BodyFields& body, const BudgetReferences& refs,
                                                   core::BudgetRecord& record, bool creating);

/// The stored form of an API budget's spec (for a PATCH, which starts from what the book holds).
core::BudgetRecord budget_record(const core::BudgetSpec& spec);

/// Serves POST/GET /api/v1/budgets and GET/PATCH/DELETE /api/v1/budgets/{id} (admin only).
/// Budgets from the config file and virtual keys' own budgets are listed and shown but change only
/// where they are defined (409). Writes answer once committed, and the book enforces the new
/// budget before the answer.
class AdminBudgetsHandler final : public Handler {
 public:
  explicit AdminBudgetsHandler(AdminServices services) : services_(std::move(services)) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  boost::asio::awaitable<HttpReply> create(const Request& request, Exchange& exchange);
  boost::asio::awaitable<HttpReply> update(const Request& request, Exchange& exchange, std::string id);
  boost::asio::awaitable<HttpReply> remove(Exchange& exchange, std::string id);
  boost::asio::awaitable<bool> save(core::BudgetRecord record);
  BudgetReferences references() const;
  /// The 409 for a budget that is not the API's to change, or nullopt.
  std::optional<core::GatewayError> not_ours(const core::BudgetSpec& spec) const;

  AdminServices services_;
};

}  // namespace tollgate::server
