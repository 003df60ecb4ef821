// BudgetBook: reservations all-or-none, settlement, release, thresholds once, periods, recovery.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

#include "core/money/budget_book.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/time_format.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;

namespace {

constexpr Nanos kCent = 10'000'000;

std::int64_t at(const char* rfc3339) { return *parse_time(rfc3339); }

class RecordingSink final : public AlertSink {
 public:
  void notify(BudgetAlert alert) override {
    std::lock_guard lock(mutex_);
    alerts.push_back(std::move(alert));
  }
  std::vector<BudgetAlert> alerts;

 private:
  std::mutex mutex_;
};

BudgetSpec budget(std::string id, BudgetScope scope, std::string scope_id, Nanos limit,
                  Enforcement enforcement = Enforcement::kHard, Period period = Period::kMonthly) {
  BudgetSpec spec;
  spec.id = std::move(id);
  spec.origin = "api";
  spec.scope = scope;
  spec.scope_id = std::move(scope_id);
  spec.period = period;
  spec.limit = limit;
  spec.enforcement = enforcement;
  spec.alerts = kDefaultAlertThresholds;
  return spec;
}

Attribution key(std::string id, std::string team = {}) {
  Attribution who;
  who.virtual_key = std::move(id);
  who.team = std::move(team);
  who.model = "gpt-4o-mini";
  who.provider = "openai";
  return who;
}

LedgerRecord row(const Attribution& who, Nanos cost, std::int64_t when) {
  LedgerRecord r;
  r.request_id = "req";
  r.at = when;
  r.virtual_key = who.virtual_key;
  r.team = who.team;
  r.model = who.model;
  r.provider = who.provider;
  r.cost_nanos = cost;
  r.status = 200;
  return r;
}

struct Fixture {
  tollgate::testing::TempDir dir;
  std::unique_ptr<Store> store = open_sqlite_store(dir.path().string());
  Metrics metrics;
  RecordingSink sink;
  BudgetBook book{*store, metrics, &sink};
  const std::int64_t now = at("2026-11-22T12:00:00Z");

  Nanos spend(std::string_view id, std::int64_t when) {
    auto rows = book.status_of(id, when);
    REQUIRE(rows.size() == 1);
    return rows[0].spend;
  }
  void charge(const Attribution& who, Nanos reserve, Nanos cost, std::int64_t when) {
    auto held = book.reserve(who, reserve, when);
    REQUIRE(std::holds_alternative<BudgetHold>(held));
    book.record(std::move(std::get<BudgetHold>(held)), who, cost, when, row(who, cost, when));
  }
};

}  // namespace

TEST_CASE("a reservation holds the worst case until settled with the real cost", "[budgets]") {
  Fixture f;
  f.book.put(budget("b1", BudgetScope::kVirtualKey, "vk_a", 10 * kCent), f.now);
  f.store->flush();

  auto held = f.book.reserve(key("vk_a"), 4 * kCent, f.now);
  REQUIRE(std::holds_alternative<BudgetHold>(held));
  auto rows = f.book.status_of("b1", f.now);
  CHECK(rows[0].reserved == 4 * kCent);
  CHECK(rows[0].spend == 0);

  // A second worst case that does not fit beside the first is refused, and holds nothing.
  auto refused = f.book.reserve(key("vk_a"), 7 * kCent, f.now);
  REQUIRE(std::holds_alternative<BudgetRefusal>(refused));
  CHECK(std::get<BudgetRefusal>(refused).reserved == 4 * kCent);
  CHECK(f.book.status_of("b1", f.now)[0].reserved == 4 * kCent);

  f.book.record(std::move(std::get<BudgetHold>(held)), key("vk_a"), 1 * kCent, f.now, row(key("vk_a"), kCent, f.now));
  rows = f.book.status_of("b1", f.now);
  CHECK(rows[0].reserved == 0);
  CHECK(rows[0].spend == 1 * kCent);

  // Released (nothing served): the hold goes back and nothing is spent.
  auto released = f.book.reserve(key("vk_a"), 9 * kCent, f.now);
  REQUIRE(std::holds_alternative<BudgetHold>(released));
  f.book.record(std::move(std::get<BudgetHold>(released)), key("vk_a"), 0, f.now, row(key("vk_a"), 0, f.now));
  rows = f.book.status_of("b1", f.now);
  CHECK(rows[0].reserved == 0);
  CHECK(rows[0].spend == 1 * kCent);
}

TEST_CASE("a reservation against several hard budgets is all or none", "[budgets]") {
  Fixture f;
  f.book.put(budget("a_global", BudgetScope::kGlobal, "", 100 * kCent), f.now);
  f.book.put(budget("b_team", BudgetScope::kTeam, "ml", 5 * kCent), f.now);
  f.book.put(budget("c_soft", BudgetScope::kTeam, "ml", 1 * kCent, Enforcement::kSoft), f.now);
  f.store->flush();

  auto refused = f.book.reserve(key("vk_a", "ml"), 6 * kCent, f.now);
  REQUIRE(std::holds_alternative<BudgetRefusal>(refused));
  CHECK(std::get<BudgetRefusal>(refused).spec->id == "b_team");
  CHECK(f.book.status_of("a_global", f.now)[0].reserved == 0);  // the global hold was rolled back

  // Another team is not held by the ml budget; soft budgets never refuse.
  auto other = f.book.reserve(key("vk_b", "web"), 6 * kCent, f.now);
  REQUIRE(std::holds_alternative<BudgetHold>(other));
  CHECK(std::get<BudgetHold>(other).amount() == 6 * kCent);
}

TEST_CASE("a spent budget refuses even a request it cannot price", "[budgets]") {
  Fixture f;
  f.book.put(budget("b", BudgetScope::kGlobal, "", 2 * kCent), f.now);
  f.store->flush();
  f.charge(key("vk_a"), 0, 2 * kCent, f.now);
  CHECK(std::holds_alternative<BudgetRefusal>(f.book.reserve(key("vk_a"), 0, f.now)));
}

TEST_CASE("thresholds alert once each per period, in order, and again in the next period", "[budgets]") {
  Fixture f;
  f.book.put(budget("b", BudgetScope::kGlobal, "", 100 * kCent, Enforcement::kAlert), f.now);
  f.store->flush();
  f.charge(key("vk"), 0, 40 * kCent, f.now);
  CHECK(f.sink.alerts.empty());
  f.charge(key("vk"), 0, 40 * kCent, f.now);  // 80%: crosses 50 and 75 at once
  REQUIRE(f.sink.alerts.size() == 2);
  CHECK(f.sink.alerts[0].threshold == 0.5);
  CHECK(f.sink.alerts[1].threshold == 0.75);
  CHECK(f.sink.alerts[1].spend == 80 * kCent);
  CHECK(f.sink.alerts[1].period_start == at("2026-11-01T00:00:00Z"));
  CHECK(f.sink.alerts[1].period_end == at("2026-12-01T00:00:00Z"));
  f.charge(key("vk"), 0, 5 * kCent, f.now);  // 85%: nothing new
  CHECK(f.sink.alerts.size() == 2);
  f.charge(key("vk"), 0, 20 * kCent, f.now);  // 105%: 90 and 100
  REQUIRE(f.sink.alerts.size() == 4);
  CHECK(f.sink.alerts[3].threshold == 1.0);
  f.charge(key("vk"), 0, 20 * kCent, f.now);
  CHECK(f.sink.alerts.size() == 4);

  // December: spend starts again from zero and the thresholds re-arm.
  const auto december = at("2026-12-01T00:00:00Z");
  CHECK(f.spend("b", december) == 0);
  f.charge(key("vk"), 0, 50 * kCent, december);
  REQUIRE(f.sink.alerts.size() == 5);
  CHECK(f.sink.alerts[4].period_start == december);
}

TEST_CASE("daily periods follow the budget's time zone", "[budgets]") {
  Fixture f;
  auto spec = budget("b", BudgetScope::kGlobal, "", 100 * kCent, Enforcement::kHard, Period::kDaily);
  spec.calendar = *Calendar::in_zone("America/New_York");
  f.book.put(spec, f.now);
  f.store->flush();
  f.charge(key("vk"), 0, 3 * kCent, at("2026-11-22T04:59:59Z"));  // still the 21st in New York
  CHECK(f.spend("b", at("2026-11-22T04:59:59Z")) == 3 * kCent);
  CHECK(f.spend("b", at("2026-11-22T05:00:00Z")) == 0);  // midnight in New York
}

TEST_CASE("a per-value budget keeps one account per value", "[budgets]") {
  Fixture f;
  f.book.put(budget("b", BudgetScope::kVirtualKey, "", 5 * kCent), f.now);
  f.store->flush();
  f.charge(key("vk_a"), kCent, 4 * kCent, f.now);
  CHECK(std::holds_alternative<BudgetRefusal>(f.book.reserve(key("vk_a"), 2 * kCent, f.now)));
  CHECK(std::holds_alternative<BudgetHold>(f.book.reserve(key("vk_b"), 2 * kCent, f.now)));
  const auto rows = f.book.status_of("b", f.now);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].scope_value == "vk_a");
  CHECK(rows[0].spend == 4 * kCent);
  CHECK(rows[1].scope_value == "vk_b");
  CHECK(rows[1].reserved == 2 * kCent);
}

TEST_CASE("a soft budget that is spent downgrades; under it, nothing changes", "[budgets]") {
  Fixture f;
  auto spec = budget("b", BudgetScope::kModel, "gpt-4o", 2 * kCent, Enforcement::kSoft);
  spec.downgrade_to = "gpt-4o-mini";
  f.book.put(spec, f.now);
  f.store->flush();
  Attribution who = key("vk");
  who.model = "gpt-4o";
  CHECK_FALSE(f.book.downgrade(who, f.now).has_value());
  f.charge(who, 0, 2 * kCent, f.now);
  CHECK(f.book.downgrade(who, f.now) == std::optional<std::string>("gpt-4o-mini"));
  who.model = "other";
  CHECK_FALSE(f.book.downgrade(who, f.now).has_value());
}

TEST_CASE("spend is recovered from the ledger, and thresholds already passed stay quiet", "[budgets]") {
  tollgate::testing::TempDir dir;
  const auto now = at("2026-11-22T12:00:00Z");
  {
    auto store = open_sqlite_store(dir.path().string());
    Metrics metrics;
    BudgetBook book(*store, metrics, nullptr);
    book.put(budget("b", BudgetScope::kTeam, "ml", 100 * kCent, Enforcement::kAlert), now);
    store->flush();
    for (int i = 0; i < 6; ++i) {
      auto held = book.reserve(key("vk", "ml"), 0, now);
      book.record(std::move(std::get<BudgetHold>(held)), key("vk", "ml"), 10 * kCent, now,
                  row(key("vk", "ml"), 10 * kCent, now));
    }
    // Last month's row and another team's do not count.
    store->append_ledger(row(key("vk", "ml"), 50 * kCent, at("2026-10-31T23:59:59Z")));
    store->append_ledger(row(key("vk", "web"), 50 * kCent, now));
    store->flush();
  }
  auto store = open_sqlite_store(dir.path().string());
  Metrics metrics;
  RecordingSink sink;
  BudgetBook book(*store, metrics, &sink);
  book.put(budget("b", BudgetScope::kTeam, "ml", 100 * kCent, Enforcement::kAlert), now);
  store->flush();
  const auto rows = book.status_of("b", now);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].spend == 60 * kCent);
  CHECK_FALSE(rows[0].recovering);
  auto held = book.reserve(key("vk", "ml"), 0, now);
  book.record(std::move(std::get<BudgetHold>(held)), key("vk", "ml"), 20 * kCent, now, row(key("vk", "ml"), 20 * kCent, now));
  REQUIRE(sink.alerts.size() == 1);  // 75% only: 50% was passed before the restart
  CHECK(sink.alerts[0].threshold == 0.75);
}

TEST_CASE("spend recorded while a new budget's ledger read is queued is counted exactly once", "[budgets]") {
  Fixture f;
  const Attribution who = key("vk", "ml");
  f.charge(who, 0, 3 * kCent, f.now);  // before the budget exists: only in the ledger
  f.book.put(budget("b", BudgetScope::kGlobal, "", 100 * kCent), f.now);
  f.charge(who, 0, 4 * kCent, f.now);  // after: in memory, and queued after the read
  f.store->flush();
  CHECK(f.spend("b", f.now) == 7 * kCent);
}

TEST_CASE("200 threads reserving against a nearly spent budget never overshoot it", "[budgets]") {
  Fixture f;
  f.book.put(budget("b", BudgetScope::kGlobal, "", 100 * kCent), f.now);
  f.store->flush();
  f.charge(key("vk"), 0, 80 * kCent, f.now);  // room for 20 cents

  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 200; ++i) {
    threads.emplace_back([&f, &served] {
      auto held = f.book.reserve(key("vk"), kCent, f.now);  // worst case 1 cent
      if (auto* hold = std::get_if<BudgetHold>(&held)) {
        ++served;
        f.book.record(std::move(*hold), key("vk"), kCent * 3 / 4, f.now, row(key("vk"), kCent * 3 / 4, f.now));
      }
    });
  }
  for (auto& t : threads) t.join();
  const Nanos spent = f.spend("b", f.now);
  CHECK(spent <= 100 * kCent);
  CHECK(served.load() >= 20);  // at least the 20 that fit at their worst case
  CHECK(spent == 80 * kCent + served.load() * (kCent * 3 / 4));
  CHECK(f.book.status_of("b", f.now)[0].reserved == 0);
}
