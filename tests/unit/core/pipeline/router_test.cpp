// The router over live fleet state: strategies, objectives, unavailable last, reasons and metrics.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/pipeline/router.hpp"
#include "support/run.hpp"
#include "support/scripted.hpp"

using namespace tollgate::core;
using tollgate::testing::run;
using tollgate::testing::ScriptedProvider;

namespace {

/// Providers a, b, c; model "m" with one deployment on each, prices 1/2/3 USD per 1M input tokens
/// (a cheapest), tiers "", standard, premium.
struct Rig {
  explicit Rig(std::string strategy, std::vector<double> draws = {0.5}) : random(std::move(draws)) {
    tollgate::config::ModelConfig model;
    model.name = "m";
    model.strategy = std::move(strategy);
    const char* tiers[] = {"", "standard", "premium"};
    int i = 0;
    for (const char* id : {"a", "b", "c"}) {
      tollgate::config::DeploymentConfig d;
      d.provider = id;
      d.model = std::string("model-") + id;
      d.tier = tiers[i];
      d.price = tollgate::config::PriceOverride{1.0 + i, 4.0 + i, std::nullopt};
      model.deployments.push_back(d);
      ++i;
    }
    auto cfg = std::make_shared<tollgate::config::Config>();
    cfg->models.push_back(std::move(model));
    config = cfg;
    lookup = [this](std::string_view id) -> Provider* {
      if (id == "a") return &a;
      if (id == "b") return &b;
      if (id == "c") return &c;
      return nullptr;
    };
    fleet = std::make_unique<Fleet>(*config, lookup);
    pricing = std::make_unique<Pricing>(*config, PriceTable::builtin());
    router = std::make_unique<Router>(RouterDeps{config, lookup, *fleet, *pricing, clock, random, metrics});
  }

  DeploymentState& state(std::size_t i) { return fleet->of(config->models[0].deployments[i]); }

  /// The plan's providers, in order, for one request.
  std::vector<std::string> route(Objective objective = Objective::kNone, Priority priority = Priority::kNormal,
                                 bool stream = false) {
    RequestContext ctx;
    ctx.model_name = "m";
    ctx.body = nlohmann::json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hello there"}}}}};
    ctx.objective = objective;
    ctx.priority = priority;
    ctx.stream = stream;
    run(router->handle(ctx, Next{{}}));
    last_reason = ctx.routing_reason;
    std::vector<std::string> order;
    for (const auto& c : ctx.plan) order.emplace_back(c.provider->id());
    return order;
  }

  ScriptedProvider a{"a"}, b{"b"}, c{"c"};
  ManualClock clock;
  SequenceRandom random;
  Metrics metrics;
  std::shared_ptr<const tollgate::config::Config> config;
  ProviderLookup lookup;
  std::unique_ptr<Fleet> fleet;
  std::unique_ptr<Pricing> pricing;
  std::unique_ptr<Router> router;
  std::string last_reason;
};

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("cost-optimized puts the cheapest healthy deployment first", "[router]") {
  Rig rig("cost-optimized");
  CHECK(rig.route() == V{"a", "b", "c"});
  CHECK(rig.last_reason.find("cost-optimized: cheapest") == 0);
  // `a` fails until its circuit opens: it goes last, and the next cheapest leads.
  const auto now = rig.clock.now();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(rig.state(0).breaker().try_acquire(now));
    rig.state(0).breaker().record(false, now);
  }
  CHECK(rig.route() == V{"b", "c", "a"});
}

TEST_CASE("least-latency follows the deployments' latency averages as they change", "[router]") {
  Rig rig("least-latency");
  using std::chrono::milliseconds;
  rig.state(0).record(true, false, milliseconds(300));
  rig.state(1).record(true, false, milliseconds(100));
  rig.state(2).record(true, false, milliseconds(200));
  CHECK(rig.route() == V{"b", "c", "a"});
  CHECK(rig.last_reason == "least-latency: 100 ms");
  // b slows down: after a few slow answers its average passes the others'.
  for (int i = 0; i < 10; ++i) rig.state(1).record(true, false, milliseconds(900));
  CHECK(rig.route().front() == "c");
  // Streams rank by time to first token once there is one.
  rig.state(0).record(true, true, milliseconds(20));
  CHECK(rig.route(Objective::kNone, Priority::kNormal, true).front() == "a");
}

TEST_CASE("least-busy prefers the deployment with the fewest requests in flight", "[router]") {
  Rig rig("least-busy");
  rig.state(0).started();
  rig.state(0).started();
  rig.state(1).started();
  CHECK(rig.route() == V{"c", "b", "a"});
  rig.state(0).ended();
  rig.state(0).ended();
  CHECK(rig.route().front() == "a");
}

TEST_CASE("round-robin rotates the lead over the model's deployments", "[router]") {
  Rig rig("round-robin");
  std::vector<std::string> leads;
  for (int i = 0; i < 6; ++i) leads.push_back(rig.route().front());
  CHECK(leads == V{"a", "b", "c", "a", "b", "c"});
}

TEST_CASE("usage-balanced leads with the deployment that took the least recent traffic", "[router]") {
  Rig rig("usage-balanced");
  const auto now = rig.clock.now();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(rig.state(0).breaker().try_acquire(now));
    rig.state(0).breaker().record(true, now);
    REQUIRE(rig.state(2).breaker().try_acquire(now));
    rig.state(2).breaker().record(true, now);
  }
  CHECK(rig.route().front() == "b");
}

TEST_CASE("an objective or a priority replaces the strategy by a blend", "[router]") {
  Rig rig("priority");
  CHECK(rig.route() == V{"a", "b", "c"});
  CHECK(rig.last_reason == "priority: config order");
  CHECK(rig.route(Objective::kQuality).front() == "c");  // premium
  CHECK(rig.last_reason.find("objective quality") == 0);
  CHECK(rig.route(Objective::kCost).front() == "a");
  CHECK(rig.route(Objective::kNone, Priority::kLow).front() == "a");   // low priority goes for the cheapest
  CHECK(rig.route(Objective::kNone, Priority::kHigh).front() == "c");  // high pays for quality
  const std::string text = rig.metrics.serialize();
  CHECK(text.find(R"(tollgate_routing_decisions_total{deployment="a/model-a",strategy="priority"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(tollgate_routing_decisions_total{deployment="c/model-c",strategy="objective"} 2)") !=
        std::string::npos);
}

TEST_CASE("a deployment over its rpm goes last until its minute refills", "[router]") {
  auto rig = std::make_unique<Rig>("priority");
  // Rebuild with an rpm on `a`: the config is immutable once routed, so make a new one.
  auto cfg = std::make_shared<tollgate::config::Config>(*rig->config);
  cfg->models[0].deployments[0].rpm = 2;
  cfg->models[0].strategy = "cost-optimized";
  rig->config = cfg;
  rig->fleet = std::make_unique<Fleet>(*cfg, rig->lookup);
  rig->pricing = std::make_unique<Pricing>(*cfg, PriceTable::builtin());
  rig->router = std::make_unique<Router>(
      RouterDeps{cfg, rig->lookup, *rig->fleet, *rig->pricing, rig->clock, rig->random, rig->metrics});
  auto& a = rig->state(0);
  REQUIRE_FALSE(a.admit(1, rig->clock.now()));
  REQUIRE_FALSE(a.admit(1, rig->clock.now()));
  CHECK(a.admit(1, rig->clock.now()).has_value());
  CHECK(rig->route() == V{"b", "c", "a"});
  rig->clock.advance(std::chrono::seconds(31));  // one request's worth refilled (2 per minute)
  CHECK(rig->route() == V{"a", "b", "c"});
}

TEST_CASE("least-latency does not keep exploring a deployment that only fails", "[router]") {
  Rig rig("least-latency");
  using std::chrono::milliseconds;
  rig.state(1).record(true, false, milliseconds(100));
  rig.state(2).record(true, false, milliseconds(200));
  CHECK(rig.route().front() == "a");  // never measured: explored first
  rig.state(0).record(false, false, milliseconds(3));  // a fast 500
  CHECK(rig.route() == V{"b", "c", "a"});
}
