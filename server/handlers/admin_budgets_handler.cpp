// Budget administration: API budgets stored and enforced, every budget shown with its spend.
#include "server/handlers/admin_budgets_handler.hpp"

#include <algorithm>
#include <cmath>

#include "core/money/budget_specs.hpp"
#include "core/money/money.hpp"
#include "core/money/periods.hpp"
#include "core/security/tokens.hpp"
#include "core/store/awaiting.hpp"
#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

constexpr std::string_view kPrefix = "/api/v1/budgets/";
constexpr double kMaxLimitUsd = 1e9;
constexpr std::size_t kMaxAlerts = 10;

bool per_value(const core::BudgetSpec& spec) { return spec.scope != core::BudgetScope::kGlobal && spec.scope_id.empty(); }

nlohmann::json optional_text(const std::string& text) { return text.empty() ? nlohmann::json() : nlohmann::json(text); }

nlohmann::json optional_time(core::UnixMillis at) { return at == 0 ? nlohmann::json() : nlohmann::json(core::format_rfc3339(at)); }

std::string default_alerts() { return nlohmann::json(core::kDefaultAlertThresholds).dump(); }

core::GatewayError cannot_be_null(std::string_view name) {
  return BodyFields::invalid(name, "'" + std::string(name) + "' cannot be null.");
}

std::optional<core::GatewayError> read_scope(const BodyFields& body, const BudgetReferences& refs,
                                             core::BudgetRecord& record, bool creating) {
  auto scope = body.text("scope", 32);
  if (!scope) return scope.error();
  if (!creating) {
    if (scope->present && scope->value != record.scope)
      return BodyFields::invalid("scope", "A budget's scope cannot change: create a new budget instead.");
  } else {
    if (!scope->value) return BodyFields::missing("scope");
    if (!core::parse_budget_scope(*scope->value))
      return BodyFields::invalid(
          "scope", "'scope' must be one of global, provider, model, virtual_key, team, project, customer, feature.");
    record.scope = *scope->value;
  }

  // An empty string is the same as no scope_id: the budget applies to each value of its scope.
  std::string scope_id;
  const bool given = body.has("scope_id");
  if (given) {
    const auto& raw = body.json().at("scope_id");
    if (!raw.is_null() && !(raw.is_string() && raw.get_ref<const std::string&>().empty())) {
      auto text = body.text("scope_id", 256);
      if (!text) return text.error();
      scope_id = *text->value;
    }
  }
  if (!creating) {
    if (given && scope_id != record.scope_id)
      return BodyFields::invalid("scope_id", "A budget's scope_id cannot change: create a new budget instead.");
    return std::nullopt;
  }
  if (!scope_id.empty()) {
    const auto kind = *core::parse_budget_scope(record.scope);
    if (kind == core::BudgetScope::kGlobal)
      return BodyFields::invalid("scope_id", "A global budget has no 'scope_id'.");
    if (kind == core::BudgetScope::kProvider && !refs.config.find_provider(scope_id))
      return BodyFields::invalid("scope_id", "'scope_id' must name a configured provider; '" + scope_id + "' is not one.");
    if (kind == core::BudgetScope::kModel && !refs.config.find_model(scope_id))
      return BodyFields::invalid("scope_id", "'scope_id' must name a configured model; '" + scope_id + "' is not one.");
    if (kind == core::BudgetScope::kVirtualKey && !refs.virtual_key_exists(scope_id))
      return BodyFields::invalid("scope_id", "'scope_id' must be a virtual key id; there is no virtual key '" + scope_id + "'.");
  }
  record.scope_id = std::move(scope_id);
  return std::nullopt;
}

std::optional<core::GatewayError> read_period(const BodyFields& body, core::BudgetRecord& record, bool creating) {
  auto period = body.text("period", 16);
  if (!period) return period.error();
  if (period->present || creating) {
    if (!period->value) return creating ? BodyFields::missing("period") : cannot_be_null("period");
    if (!core::parse_period(*period->value))
      return BodyFields::invalid("period", "'period' must be one of daily, weekly, monthly, total.");
    record.period = *period->value;
  }

  auto timezone = body.text("timezone", 64);
  if (!timezone) return timezone.error();
  if (timezone->present) {
    if (timezone->value && !core::Calendar::in_zone(*timezone->value))
      return BodyFields::invalid("timezone", "'timezone' must be UTC or an IANA time zone such as Europe/Berlin; '" +
                                                 *timezone->value + "' is not one.");
    record.timezone = timezone->value.value_or("UTC");
  }
  return std::nullopt;
}

std::optional<core::GatewayError> read_limit(const BodyFields& body, core::BudgetRecord& record, bool creating) {
  auto limit = body.number("limit_usd", kMaxLimitUsd);
  if (!limit) return limit.error();
  if (!limit->present && !creating) return std::nullopt;
  if (!limit->value) return creating ? BodyFields::missing("limit_usd") : cannot_be_null("limit_usd");
  const auto nanos = core::usd_to_nanos(*limit->value);
  if (!nanos || *nanos <= 0)
    return BodyFields::invalid("limit_usd", "'limit_usd' must be at least 0.000000001 (one nano-dollar).");
  record.limit_nanos = *nanos;
  return std::nullopt;
}

std::optional<core::GatewayError> read_enforcement(const BodyFields& body, const BudgetReferences& refs,
                                                   core::BudgetRecord& record) {
  auto enforcement = body.text("enforcement", 16);
  if (!enforcement) return enforcement.error();
  if (enforcement->present) {
    if (enforcement->value && !core::parse_enforcement(*enforcement->value))
      return BodyFields::invalid("enforcement", "'enforcement' must be one of hard, soft, alert.");
    record.enforcement = enforcement->value.value_or("hard");
  }
  auto downgrade = body.text("downgrade_to", 256);
  if (!downgrade) return downgrade.error();
  if (downgrade->present) {
    if (downgrade->value && !refs.config.find_model(*downgrade->value))
      return BodyFields::invalid("downgrade_to",
                                 "'downgrade_to' must name a configured model; '" + *downgrade->value + "' is not one.");
    record.downgrade_to = downgrade->value.value_or("");
  }
  if (!record.downgrade_to.empty() && record.enforcement != "soft")
    return BodyFields::invalid("downgrade_to", "Only a soft budget downgrades: 'downgrade_to' needs enforcement soft, "
                                               "and this budget's is " + record.enforcement + " (set downgrade_to to "
                                               "null to change that).");
  return std::nullopt;
}

std::optional<core::GatewayError> read_alerts(const BodyFields& body, core::BudgetRecord& record) {
  if (!body.has("alerts")) return std::nullopt;
  const auto& alerts = body.json().at("alerts");
  if (alerts.is_null()) {
    record.alerts = default_alerts();
    return std::nullopt;
  }
  const std::string expected = "'alerts' must be an array of 1 to " + std::to_string(kMaxAlerts) +
                               " fractions of the limit in (0, 1], such as [0.5, 0.9, 1]";
  if (!alerts.is_array() || alerts.empty() || alerts.size() > kMaxAlerts)
    return BodyFields::invalid("alerts", expected + ".");
  std::vector<double> fractions;
  for (const auto& a : alerts) {
    if (!a.is_number() || !std::isfinite(a.get<double>()) || !(a.get<double>() > 0) || a.get<double>() > 1)
      return BodyFields::invalid("alerts", expected + "; " + a.dump().substr(0, 32) + " is not one.");
    fractions.push_back(a.get<double>());
  }
  std::sort(fractions.begin(), fractions.end());
  fractions.erase(std::unique(fractions.begin(), fractions.end()), fractions.end());
  record.alerts = nlohmann::json(fractions).dump();
  return std::nullopt;
}

}  // namespace

nlohmann::json budget_status_json(const core::BudgetStatus& status) {
  const core::BudgetSpec& spec = *status.spec;
  const double utilization =
      spec.limit > 0 ? std::round(static_cast<double>(status.spend) / static_cast<double>(spec.limit) * 1e4) / 1e4 : 0.0;
  nlohmann::json view{{"id", spec.id},
                      {"object", "budget"},
                      {"origin", spec.origin},
                      {"scope", core::to_string(spec.scope)},
                      {"scope_id", optional_text(spec.scope_id)},
                      {"period", core::to_string(spec.period)},
                      {"timezone", spec.calendar.zone_name()},
                      {"enforcement", core::to_string(spec.enforcement)},
                      {"downgrade_to", optional_text(spec.downgrade_to)},
                      {"alerts", spec.alerts},
                      {"limit_usd", core::format_usd(spec.limit)},
                      {"spend_usd", core::format_usd(status.spend)},
                      {"reserved_usd", core::format_usd(status.reserved)},
                      {"remaining_usd", core::format_usd(std::max<core::Nanos>(0, spec.limit - status.spend))},
                      {"utilization", utilization},
                      {"projected_usd", core::format_usd(status.projected)},
                      {"period_start", core::format_rfc3339(status.window.start)},
                      {"period_end", status.window.end == core::kEndOfTime
                                         ? nlohmann::json()
                                         : nlohmann::json(core::format_rfc3339(status.window.end))},
                      {"created_at", optional_time(spec.created_at)},
                      {"updated_at", optional_time(spec.updated_at)}};
  if (per_value(spec)) view["scope_value"] = optional_text(status.scope_value);
  if (status.recovering) view["recovering"] = true;
  return view;
}

std::vector<core::BudgetStatus> shown_accounts(std::vector<core::BudgetStatus> rows) {
  if (rows.empty() || !per_value(*rows.front().spec)) return rows;
  core::BudgetStatus none = rows.front();
  std::erase_if(rows, [](const core::BudgetStatus& s) { return s.spend == 0 && s.reserved == 0 && !s.recovering; });
  if (rows.empty()) {
    none.scope_value.clear();
    none.spend = none.reserved = none.projected = 0;
    none.recovering = false;
    rows.push_back(std::move(none));
  }
  return rows;
}

nlohmann::json budget_list_json(const std::vector<core::BudgetStatus>& all) {
  nlohmann::json items = nlohmann::json::array();
  for (auto begin = all.begin(); begin != all.end();) {
    // status() lists each budget's accounts together.
    auto end = std::find_if(begin, all.end(), [&](const core::BudgetStatus& s) { return s.spec->id != begin->spec->id; });
    for (const auto& row : shown_accounts(std::vector<core::BudgetStatus>(begin, end))) items.push_back(budget_status_json(row));
    begin = end;
  }
  return items;
}

nlohmann::json budget_detail_json(const std::vector<core::BudgetStatus>& rows) {
  const auto shown = shown_accounts(rows);
  if (shown.empty()) return nlohmann::json();
  nlohmann::json view = budget_status_json(shown.front());
  if (per_value(*shown.front().spec)) {
    nlohmann::json accounts = nlohmann::json::array();
    for (const auto& row : shown) accounts.push_back(budget_status_json(row));
    view["accounts"] = std::move(accounts);
  }
  return view;
}

std::optional<core::GatewayError> read_budget_body(const BodyFields& body, const BudgetReferences& refs,
                                                   core::BudgetRecord& record, bool creating) {
  if (auto error = read_scope(body, refs, record, creating)) return error;
  if (auto error = read_period(body, record, creating)) return error;
  if (auto error = read_limit(body, record, creating)) return error;
  if (auto error = read_enforcement(body, refs, record)) return error;
  return read_alerts(body, record);
}

core::BudgetRecord budget_record(const core::BudgetSpec& spec) {
  core::BudgetRecord record;
  record.id = spec.id;
  record.scope = std::string(core::to_string(spec.scope));
  record.scope_id = spec.scope_id;
  record.period = std::string(core::to_string(spec.period));
  record.timezone = spec.calendar.zone_name();
  record.limit_nanos = spec.limit;
  record.enforcement = std::string(core::to_string(spec.enforcement));
  record.downgrade_to = spec.downgrade_to;
  record.alerts = nlohmann::json(spec.alerts).dump();
  record.created_at = spec.created_at;
  record.updated_at = spec.updated_at;
  return record;
}

BudgetReferences AdminBudgetsHandler::references() const {
  const core::VirtualKeys* keys = &services_.virtual_keys;
  return {*services_.config, [keys](std::string_view id) { return keys->find(id) != nullptr; }};
}

std::optional<core::GatewayError> AdminBudgetsHandler::not_ours(const core::BudgetSpec& spec) const {
  if (spec.origin == "config") {
    const std::string index = spec.id.starts_with("config_") ? spec.id.substr(7) : spec.id;
    return core::make_error(core::ErrorKind::kConflict, "The budget '" + spec.id +
                                                            "' comes from the config file (budgets[" + index +
                                                            "]): change it there.");
  }
  if (spec.origin == "virtual_key")
    return core::make_error(core::ErrorKind::kConflict,
                            "The budget '" + spec.id + "' is the own budget of virtual key '" + spec.scope_id +
                                "': change it with PATCH /api/v1/virtual-keys/" + spec.scope_id + " (field budget).");
  return std::nullopt;
}

boost::asio::awaitable<bool> AdminBudgetsHandler::save(core::BudgetRecord record) {
  core::Store& store = services_.store;
  // Named, not a temporary inside co_await: g++ 12 destroys such temporaries at the wrong address.
  std::function<void(core::Store::Done)> submit = [&store, r = std::move(record)](core::Store::Done done) mutable {
    store.put_budget(std::move(r), std::move(done));
  };
  const bool ok = co_await core::committed(std::move(submit));
  co_return ok;
}

boost::asio::awaitable<HttpReply> AdminBudgetsHandler::handle(const Request& request, Exchange& exchange) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string what = std::string(http::to_string(request.method())) + " " + std::string(path);
  if (path == "/api/v1/budgets") {
    if (request.method() == http::verb::post) co_return co_await create(request, exchange);
    if (request.method() != http::verb::get)
      co_return HttpReply::error(core::make_error(core::ErrorKind::kMethodNotAllowed, "Invalid method for URL (" + what + ")"));
    co_return list_reply(budget_list_json(services_.budgets.status(core::unix_now(services_.clock))));
  }
  auto resource = resource_path(target, kPrefix);
  if (!resource) co_return not_found("budget", "");
  if (!resource->action.empty())
    co_return HttpReply::error(core::make_error(core::ErrorKind::kRouteNotFound, "Invalid URL (" + what + ")"));
  if (request.method() == http::verb::patch) co_return co_await update(request, exchange, resource->id);
  if (request.method() == http::verb::delete_) co_return co_await remove(exchange, resource->id);
  if (request.method() != http::verb::get)
    co_return HttpReply::error(core::make_error(core::ErrorKind::kMethodNotAllowed, "Invalid method for URL (" + what + ")"));
  auto rows = services_.budgets.status_of(resource->id, core::unix_now(services_.clock));
  if (rows.empty()) co_return not_found("budget", resource->id);
  co_return HttpReply::json(200, budget_detail_json(rows).dump());
}

boost::asio::awaitable<HttpReply> AdminBudgetsHandler::create(const Request& request, Exchange& exchange) {
  auto fail = [&](const core::GatewayError& error) { return refused(services_, exchange, "budgets.create", "", error); };
  auto body = BodyFields::parse(request.body(), {"scope", "scope_id", "period", "timezone", "limit_usd", "enforcement",
                                                 "downgrade_to", "alerts"});
  if (!body) co_return fail(body.error());
  core::BudgetRecord record;
  record.alerts = default_alerts();
  if (auto error = read_budget_body(*body, references(), record, true)) co_return fail(*error);

  const auto now = core::unix_now(services_.clock);
  record.id = "bud_" + core::random_base62(20);
  record.created_at = record.updated_at = now;
  auto spec = core::budget_from_record(record);
  if (!spec) co_return HttpReply::error(core::make_error(core::ErrorKind::kInternal, "The budget could not be built."));
  const std::string id = record.id;
  const nlohmann::json detail{{"scope", record.scope},
                              {"scope_id", optional_text(record.scope_id)},
                              {"period", record.period},
                              {"limit_usd", core::format_usd(record.limit_nanos)},
                              {"enforcement", record.enforcement}};
  if (!co_await save(std::move(record))) co_return not_stored();
  services_.budgets.put(std::move(*spec), now);
  audit_admin(services_, exchange, "budgets.create", id, 201, detail);
  auto rows = services_.budgets.status_of(id, now);
  if (rows.empty()) co_return not_found("budget", id);  // deleted meanwhile
  co_return HttpReply::json(201, budget_detail_json(rows).dump());
}

boost::asio::awaitable<HttpReply> AdminBudgetsHandler::update(const Request& request, Exchange& exchange, std::string id) {
  auto fail = [&](const core::GatewayError& error) { return refused(services_, exchange, "budgets.update", id, error); };
  auto current = services_.budgets.find(id);
  if (!current) co_return not_found("budget", id);
  if (auto conflict = not_ours(*current)) co_return fail(*conflict);
  auto body = BodyFields::parse(request.body(), {"scope", "scope_id", "period", "timezone", "limit_usd", "enforcement",
                                                 "downgrade_to", "alerts"});
  if (!body) co_return fail(body.error());
  core::BudgetRecord record = budget_record(*current);
  if (auto error = read_budget_body(*body, references(), record, false)) co_return fail(*error);

  const auto now = core::unix_now(services_.clock);
  record.updated_at = now;
  auto spec = core::budget_from_record(record);
  if (!spec) co_return HttpReply::error(core::make_error(core::ErrorKind::kInternal, "The budget could not be built."));
  if (!co_await save(std::move(record))) co_return not_stored();
  services_.budgets.put(std::move(*spec), now);
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& [field, value] : body->json().items()) fields.push_back(field);
  audit_admin(services_, exchange, "budgets.update", id, 200, {{"fields", std::move(fields)}});
  auto rows = services_.budgets.status_of(id, now);
  if (rows.empty()) co_return not_found("budget", id);  // deleted meanwhile
  co_return HttpReply::json(200, budget_detail_json(rows).dump());
}

boost::asio::awaitable<HttpReply> AdminBudgetsHandler::remove(Exchange& exchange, std::string id) {
  auto current = services_.budgets.find(id);
  if (!current) co_return not_found("budget", id);
  if (auto conflict = not_ours(*current)) co_return refused(services_, exchange, "budgets.delete", id, *conflict);
  core::Store& store = services_.store;
  // Named, not a temporary inside co_await: g++ 12 destroys such temporaries at the wrong address.
  std::function<void(core::Store::Done)> submit = [&store, id](core::Store::Done done) {
    store.delete_budget(id, std::move(done));
  };
  if (!co_await core::committed(std::move(submit))) co_return not_stored();
  services_.budgets.remove(id);
  audit_admin(services_, exchange, "budgets.delete", id, 200, {{"scope", core::to_string(current->scope)}});
  co_return HttpReply::json(200, nlohmann::json{{"id", id}, {"deleted", true}}.dump());
}

}  // namespace tollgate::server
