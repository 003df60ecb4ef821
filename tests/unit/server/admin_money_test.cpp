// Budgets and usage admin API: budget views, budget bodies, usage parameters and answers.
#include <catch2/catch.hpp>

#include "core/money/budget_specs.hpp"
#include "core/time_format.hpp"
#include "server/handlers/admin_budgets_handler.hpp"
#include "server/handlers/admin_usage_handler.hpp"

using namespace tollgate;
using namespace tollgate::server;
using nlohmann::json;

namespace {

std::int64_t at(std::string_view rfc3339) {
  auto parsed = core::parse_time(rfc3339);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::shared_ptr<const core::BudgetSpec> spec_of(core::BudgetScope scope, std::string scope_id, core::Period period,
                                                core::Nanos limit) {
  core::BudgetSpec spec;
  spec.id = "bud_test";
  spec.origin = "api";
  spec.scope = scope;
  spec.scope_id = std::move(scope_id);
  spec.period = period;
  spec.limit = limit;
  spec.alerts = core::kDefaultAlertThresholds;
  spec.created_at = at("2026-11-01T08:00:00Z");
  spec.updated_at = at("2026-11-02T09:30:00Z");
  return std::make_shared<const core::BudgetSpec>(std::move(spec));
}

core::BudgetStatus status_of(std::shared_ptr<const core::BudgetSpec> spec, std::string value, core::Nanos spend,
                             core::Nanos reserved = 0) {
  core::BudgetStatus s;
  s.window = spec->calendar.window(spec->period, at("2026-11-22T12:00:00Z"));
  s.spec = std::move(spec);
  s.scope_value = std::move(value);
  s.spend = spend;
  s.reserved = reserved;
  s.projected = spend * 2;
  return s;
}

config::Config test_config() {
  config::Config config;
  config::ProviderConfig provider;
  provider.id = "openai";
  provider.type = "openai";
  config.providers.push_back(provider);
  for (const char* name : {"gpt-4o-mini", "smart"}) {
    config::ModelConfig model;
    model.name = name;
    config.models.push_back(model);
  }
  return config;
}

struct BodyCase {
  config::Config config = test_config();
  BudgetReferences refs{config, [](std::string_view id) { return id == "vk_known"; }};

  /// The error of reading `body` onto `record`, or nullopt.
  std::optional<core::GatewayError> read(std::string_view body, core::BudgetRecord& record, bool creating = true) {
    auto fields = BodyFields::parse(body, {"scope", "scope_id", "period", "timezone", "limit_usd", "enforcement",
                                           "downgrade_to", "alerts"});
    REQUIRE(fields.has_value());
    return read_budget_body(*fields, refs, record, creating);
  }
  /// The param of the 400 that `body` gets on create.
  std::string refused_param(std::string_view body) {
    core::BudgetRecord record;
    auto error = read(body, record);
    REQUIRE(error.has_value());
    CHECK(error->kind == core::ErrorKind::kInvalidRequest);
    return error->param;
  }
};

}  // namespace

TEST_CASE("a budget view shows exact money, utilization and the period", "[admin][budgets]") {
  auto spec = spec_of(core::BudgetScope::kGlobal, "", core::Period::kMonthly, 100 * core::kNanosPerUsd);
  auto view = budget_status_json(status_of(spec, "", 25'500'000'001, 1'000'000'000));
  CHECK(view["id"] == "bud_test");
  CHECK(view["origin"] == "api");
  CHECK(view["scope"] == "global");
  CHECK(view["scope_id"].is_null());
  CHECK_FALSE(view.contains("scope_value"));
  CHECK_FALSE(view.contains("recovering"));
  CHECK(view["period"] == "monthly");
  CHECK(view["timezone"] == "UTC");
  CHECK(view["enforcement"] == "hard");
  CHECK(view["downgrade_to"].is_null());
  CHECK(view["alerts"] == json({0.5, 0.75, 0.9, 1.0}));
  CHECK(view["limit_usd"] == "100");
  CHECK(view["spend_usd"] == "25.500000001");
  CHECK(view["reserved_usd"] == "1");
  CHECK(view["remaining_usd"] == "74.499999999");
  CHECK(view["utilization"].get<double>() == Approx(0.255).margin(1e-12));
  CHECK(view["projected_usd"] == "51.000000002");
  CHECK(view["period_start"] == "2026-11-01T00:00:00Z");
  CHECK(view["period_end"] == "2026-12-01T00:00:00Z");
  CHECK(view["created_at"] == "2026-11-01T08:00:00Z");
  CHECK(view["updated_at"] == "2026-11-02T09:30:00Z");
}

TEST_CASE("an overspent total budget shows nothing remaining and no period end", "[admin][budgets]") {
  auto spec = spec_of(core::BudgetScope::kModel, "smart", core::Period::kTotal, 2 * core::kNanosPerUsd);
  auto status = status_of(spec, "smart", 3 * core::kNanosPerUsd);
  status.recovering = true;
  auto view = budget_status_json(status);
  CHECK(view["scope_id"] == "smart");
  CHECK_FALSE(view.contains("scope_value"));
  CHECK(view["remaining_usd"] == "0");
  CHECK(view["utilization"].get<double>() == 1.5);
  CHECK(view["period_start"] == "1970-01-01T00:00:00Z");
  CHECK(view["period_end"].is_null());
  CHECK(view["recovering"] == true);
}

TEST_CASE("a config budget has no creation time", "[admin][budgets]") {
  core::BudgetSpec spec = *spec_of(core::BudgetScope::kGlobal, "", core::Period::kDaily, core::kNanosPerUsd);
  spec.origin = "config";
  spec.created_at = spec.updated_at = 0;
  auto view = budget_status_json(status_of(std::make_shared<const core::BudgetSpec>(spec), "", 0));
  CHECK(view["origin"] == "config");
  CHECK(view["created_at"].is_null());
  CHECK(view["updated_at"].is_null());
  CHECK(view["utilization"].get<double>() == 0.0);
  CHECK(view["period_start"] == "2026-11-22T00:00:00Z");
  CHECK(view["period_end"] == "2026-11-23T00:00:00Z");
}

TEST_CASE("a per-value budget shows the values that spent this period, or one row without a value",
          "[admin][budgets]") {
  auto team = spec_of(core::BudgetScope::kTeam, "", core::Period::kMonthly, 10 * core::kNanosPerUsd);
  std::vector<core::BudgetStatus> rows{status_of(team, "ml", 3 * core::kNanosPerUsd),
                                       status_of(team, "old-team", 0),  // left from an earlier period
                                       status_of(team, "web", 0, 5)};   // only a hold in flight
  auto shown = shown_accounts(rows);
  REQUIRE(shown.size() == 2);
  CHECK(shown[0].scope_value == "ml");
  CHECK(shown[1].scope_value == "web");

  auto detail = budget_detail_json(rows);
  CHECK(detail["scope_value"] == "ml");
  CHECK(detail["spend_usd"] == "3");
  REQUIRE(detail["accounts"].size() == 2);
  CHECK(detail["accounts"][1]["scope_value"] == "web");
  CHECK(detail["accounts"][1]["reserved_usd"] == "0.000000005");

  auto idle = shown_accounts({status_of(team, "old-team", 0)});
  REQUIRE(idle.size() == 1);
  CHECK(idle[0].scope_value.empty());
  auto idle_view = budget_detail_json({status_of(team, "old-team", 0)});
  CHECK(idle_view["scope_value"].is_null());
  CHECK(idle_view["accounts"].size() == 1);
}

TEST_CASE("the budget list has one entry per shown account of every budget", "[admin][budgets]") {
  auto global = spec_of(core::BudgetScope::kGlobal, "", core::Period::kMonthly, core::kNanosPerUsd);
  auto team = spec_of(core::BudgetScope::kTeam, "", core::Period::kMonthly, core::kNanosPerUsd);
  core::BudgetSpec team_spec = *team;
  team_spec.id = "bud_team";
  team = std::make_shared<const core::BudgetSpec>(team_spec);
  auto list = budget_list_json({status_of(global, "", 7), status_of(team, "a", 1), status_of(team, "b", 0),
                                status_of(team, "c", 2)});
  REQUIRE(list.size() == 3);
  CHECK(list[0]["id"] == "bud_test");
  CHECK(list[0]["spend_usd"] == "0.000000007");
  CHECK(list[1]["id"] == "bud_team");
  CHECK(list[1]["scope_value"] == "a");
  CHECK(list[2]["scope_value"] == "c");
  CHECK(budget_detail_json({}).is_null());
}

TEST_CASE("a budget body is read onto a record with defaults", "[admin][budgets]") {
  BodyCase c;
  core::BudgetRecord record;
  REQUIRE_FALSE(c.read(R"({"scope":"team","scope_id":"ml","period":"weekly","limit_usd":12.5,
                          "timezone":"Europe/Berlin","enforcement":"soft","downgrade_to":"gpt-4o-mini",
                          "alerts":[0.9,0.5,0.9]})",
                       record));
  CHECK(record.scope == "team");
  CHECK(record.scope_id == "ml");
  CHECK(record.period == "weekly");
  CHECK(record.timezone == "Europe/Berlin");
  CHECK(record.limit_nanos == 12'500'000'000);
  CHECK(record.enforcement == "soft");
  CHECK(record.downgrade_to == "gpt-4o-mini");
  CHECK(json::parse(record.alerts) == json({0.5, 0.9}));

  core::BudgetRecord minimal;
  REQUIRE_FALSE(c.read(R"({"scope":"global","scope_id":"","period":"total","limit_usd":1})", minimal));
  CHECK(minimal.scope_id.empty());
  CHECK(minimal.timezone == "UTC");
  CHECK(minimal.enforcement == "hard");
  CHECK(minimal.downgrade_to.empty());

  core::BudgetRecord per_key;
  REQUIRE_FALSE(c.read(R"({"scope":"virtual_key","scope_id":"vk_known","period":"daily","limit_usd":1e9})", per_key));
  CHECK(per_key.limit_nanos == 1'000'000'000 * core::kNanosPerUsd);
}

TEST_CASE("a budget body's mistakes are 400s naming the field", "[admin][budgets]") {
  BodyCase c;
  CHECK(c.refused_param(R"({"period":"daily","limit_usd":1})") == "scope");
  CHECK(c.refused_param(R"({"scope":"planet","period":"daily","limit_usd":1})") == "scope");
  CHECK(c.refused_param(R"({"scope":"global","scope_id":"x","period":"daily","limit_usd":1})") == "scope_id");
  CHECK(c.refused_param(R"({"scope":"model","scope_id":"nope","period":"daily","limit_usd":1})") == "scope_id");
  CHECK(c.refused_param(R"({"scope":"provider","scope_id":"anthropic","period":"daily","limit_usd":1})") ==
        "scope_id");
  CHECK(c.refused_param(R"({"scope":"virtual_key","scope_id":"vk_gone","period":"daily","limit_usd":1})") ==
        "scope_id");
  CHECK(c.refused_param(R"({"scope":"team","scope_id":5,"period":"daily","limit_usd":1})") == "scope_id");
  CHECK(c.refused_param(R"({"scope":"global","limit_usd":1})") == "period");
  CHECK(c.refused_param(R"({"scope":"global","period":"hourly","limit_usd":1})") == "period");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","timezone":"Mars/Olympus","limit_usd":1})") ==
        "timezone");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily"})") == "limit_usd");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":0})") == "limit_usd");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1000000001})") == "limit_usd");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1e-12})") == "limit_usd");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":"5"})") == "limit_usd");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"enforcement":"strict"})") ==
        "enforcement");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"downgrade_to":"gpt-4o-mini"})") ==
        "downgrade_to");
  CHECK(c.refused_param(
            R"({"scope":"global","period":"daily","limit_usd":1,"enforcement":"soft","downgrade_to":"nope"})") ==
        "downgrade_to");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"alerts":[]})") == "alerts");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"alerts":[1.5]})") == "alerts");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"alerts":[0]})") == "alerts");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,"alerts":["0.5"]})") == "alerts");
  CHECK(c.refused_param(R"({"scope":"global","period":"daily","limit_usd":1,
                           "alerts":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,1]})") == "alerts");
}

TEST_CASE("a budget PATCH changes limits and keeps its scope", "[admin][budgets]") {
  BodyCase c;
  core::BudgetRecord base;
  base.id = "bud_x";
  base.scope = "team";
  base.scope_id = "ml";
  base.period = "monthly";
  base.limit_nanos = core::kNanosPerUsd;
  base.enforcement = "soft";
  base.downgrade_to = "gpt-4o-mini";
  base.alerts = "[0.5]";

  auto record = base;
  REQUIRE_FALSE(c.read(R"({"limit_usd":3,"timezone":"Asia/Tokyo","alerts":null,"scope":"team"})", record, false));
  CHECK(record.limit_nanos == 3 * core::kNanosPerUsd);
  CHECK(record.timezone == "Asia/Tokyo");
  CHECK(record.period == "monthly");
  CHECK(json::parse(record.alerts) == json({0.5, 0.75, 0.9, 1.0}));
  CHECK(record.downgrade_to == "gpt-4o-mini");

  record = base;
  auto error = c.read(R"({"scope":"project"})", record, false);
  REQUIRE(error);
  CHECK(error->param == "scope");
  record = base;
  CHECK(c.read(R"({"scope_id":"web"})", record, false)->param == "scope_id");
  record = base;
  CHECK(c.read(R"({"limit_usd":null})", record, false)->param == "limit_usd");
  record = base;
  CHECK(c.read(R"({"period":null})", record, false)->param == "period");
  record = base;
  CHECK(c.read(R"({"enforcement":"hard"})", record, false)->param == "downgrade_to");
  record = base;
  REQUIRE_FALSE(c.read(R"({"enforcement":"hard","downgrade_to":null})", record, false));
  CHECK(record.enforcement == "hard");
  CHECK(record.downgrade_to.empty());
}

TEST_CASE("a budget's record reads back as the same budget", "[admin][budgets]") {
  core::BudgetRecord record;
  record.id = "bud_round";
  record.scope = "customer";
  record.scope_id = "acme";
  record.period = "weekly";
  record.timezone = "America/New_York";
  record.limit_nanos = 123'456'789;
  record.enforcement = "alert";
  record.alerts = "[0.25,1.0]";
  record.created_at = 1000;
  record.updated_at = 2000;
  auto spec = core::budget_from_record(record);
  REQUIRE(spec);
  auto back = budget_record(*spec);
  CHECK(back.id == record.id);
  CHECK(back.scope == "customer");
  CHECK(back.scope_id == "acme");
  CHECK(back.period == "weekly");
  CHECK(back.timezone == "America/New_York");
  CHECK(back.limit_nanos == 123'456'789);
  CHECK(back.enforcement == "alert");
  CHECK(json::parse(back.alerts) == json({0.25, 1.0}));
  CHECK(back.created_at == 1000);
  CHECK(back.updated_at == 2000);
}

TEST_CASE("usage parameters default to this UTC month until now", "[admin][usage]") {
  const auto now = at("2026-11-22T13:45:00Z");
  auto query = usage_query("/api/v1/usage", now, false);
  REQUIRE(query.has_value());
  CHECK(query->from == at("2026-11-01T00:00:00Z"));
  CHECK(query->to == now + 1);
  CHECK(query->group_by.empty());
  CHECK(query->limit == 0);

  auto given = usage_query("/api/v1/usage?from=1700000000&to=2026-11-02T00:00:00%2B01:00&group_by=day&limit=5", now, false);
  REQUIRE(given.has_value());
  CHECK(given->from == 1'700'000'000'000);
  CHECK(given->to == at("2026-11-01T23:00:00Z"));
  CHECK(given->group_by == "day");
  CHECK(given->limit == 5);
}

TEST_CASE("bad usage parameters are 400s naming the parameter", "[admin][usage]") {
  const auto now = at("2026-11-22T13:45:00Z");
  auto param = [&](std::string_view target, bool top = false) {
    auto query = usage_query(target, now, top);
    REQUIRE_FALSE(query.has_value());
    CHECK(query.error().kind == core::ErrorKind::kInvalidRequest);
    return query.error().param;
  };
  CHECK(param("/api/v1/usage?from=yesterday") == "from");
  CHECK(param("/api/v1/usage?to=2026-02-30T00:00:00Z") == "to");
  CHECK(param("/api/v1/usage?from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z") == "from");
  CHECK(param("/api/v1/usage?group_by=planet") == "group_by");
  CHECK(param("/api/v1/usage?limit=0") == "limit");
  CHECK(param("/api/v1/usage?limit=1001") == "limit");
  CHECK(param("/api/v1/usage?limit=5x") == "limit");
  CHECK(param("/api/v1/usage/top?by=team", true) == "by");

  auto unknown = usage_query("/api/v1/usage?group_by=planet", now, false);
  CHECK(unknown.error().message ==
        "'group_by' must be one of model, provider, deployment, virtual_key, team, project, customer, feature, day, hour.");
}

TEST_CASE("the top-N view groups by model and keeps ten by default", "[admin][usage]") {
  const auto now = at("2026-11-22T13:45:00Z");
  auto top = usage_query("/api/v1/usage/top", now, true);
  REQUIRE(top.has_value());
  CHECK(top->group_by == "model");
  CHECK(top->limit == 10);
  auto customers = usage_query("/api/v1/usage/top?by=customer&limit=3", now, true);
  REQUIRE(customers.has_value());
  CHECK(customers->group_by == "customer");
  CHECK(customers->limit == 3);
}

TEST_CASE("the usage answer has exact money and a null group for rows without a value", "[admin][usage]") {
  core::UsageQuery query;
  query.from = at("2026-11-01T00:00:00Z");
  query.to = at("2026-11-22T13:45:00.001Z");
  query.group_by = "virtual_key";
  core::UsageReport report;
  report.rows.push_back({"vk_a", 3, 30, 60, 1'500, 250});
  report.rows.push_back({"", 1, 10, 20, 0, 0});
  report.total = {"", 4, 40, 80, 1'500, 250};
  auto answer = usage_json(query, report);
  CHECK(answer["from"] == "2026-11-01T00:00:00Z");
  CHECK(answer["to"] == "2026-11-22T13:45:00.001Z");
  CHECK(answer["group_by"] == "virtual_key");
  REQUIRE(answer["rows"].size() == 2);
  CHECK(answer["rows"][0] == json{{"group", "vk_a"},
                                  {"requests", 3},
                                  {"prompt_tokens", 30},
                                  {"completion_tokens", 60},
                                  {"cost_usd", "0.0000015"},
                                  {"saved_usd", "0.00000025"}});
  CHECK(answer["rows"][1]["group"].is_null());
  CHECK(answer["total"] == json{{"requests", 4},
                                {"prompt_tokens", 40},
                                {"completion_tokens", 80},
                                {"cost_usd", "0.0000015"},
                                {"saved_usd", "0.00000025"}});

  core::UsageQuery total_only = query;
  total_only.group_by.clear();
  auto bare = usage_json(total_only, core::UsageReport{});
  CHECK(bare["group_by"].is_null());
  CHECK(bare["rows"] == json::array());
  CHECK(bare["total"]["cost_usd"] == "0");
}
