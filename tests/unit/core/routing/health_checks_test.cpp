// Active health checks: what a ping records, and how it probes an open circuit.
#include <catch2/catch.hpp>

#include "core/routing/health_checks.hpp"
#include "support/run.hpp"
#include "support/scripted.hpp"

using namespace tollgate::core;
using tollgate::testing::failure;
using tollgate::testing::run;
using tollgate::testing::ScriptedProvider;

namespace {

struct Rig {
  Rig() {
    tollgate::config::ModelConfig model;
    model.name = "m";
    model.deployments.push_back({"a", "model-a", 1.0, "", std::nullopt});
    config.models.push_back(model);
    config.routing.circuit_breaker.min_requests = 2;
    fleet = std::make_unique<Fleet>(config, [this](std::string_view) -> Provider* { return &a; });
  }
  DeploymentState& state() { return fleet->of(config.models[0].deployments[0]); }

  tollgate::config::Config config;
  ScriptedProvider a{"a"};
  ManualClock clock;
  std::unique_ptr<Fleet> fleet;
};

ScriptedProvider::Step failing(int status) {
  ScriptedProvider::Step step;
  step.error = failure(FailureKind::kStatus, status);
  return step;
}

}  // namespace

TEST_CASE("a health check pings with one output token and records the outcome", "[health_checks]") {
  Rig rig;
  HealthChecker checker(*rig.fleet, {std::chrono::seconds(30), std::chrono::seconds(2)}, rig.clock);
  run(checker.check_all());
  REQUIRE(rig.a.models == std::vector<std::string>{"model-a"});
  CHECK(rig.a.timeouts[0].total == std::chrono::seconds(2));
  auto check = rig.state().last_check();
  REQUIRE(check);
  CHECK(check->ok);
  CHECK(check->error.empty());
  CHECK(rig.state().in_flight() == 0);

  rig.a.steps.push_back(failing(503));
  run(checker.check_all());
  check = rig.state().last_check();
  REQUIRE(check);
  CHECK_FALSE(check->ok);
  CHECK(check->error == "scripted failure 503");
}

TEST_CASE("failing checks open the circuit; after the cool-off a check is the probe that closes it", "[health_checks]") {
  Rig rig;
  HealthChecker checker(*rig.fleet, {std::chrono::seconds(30), std::chrono::seconds(2)}, rig.clock);
  rig.a.steps.push_back(failing(500));
  rig.a.steps.push_back(failing(500));
  run(checker.check_all());
  run(checker.check_all());
  CHECK(rig.state().breaker().state(rig.clock.now()) == CircuitState::kOpen);
  // While open, no check is sent.
  run(checker.check_all());
  CHECK(rig.a.models.size() == 2);
  rig.clock.advance(std::chrono::seconds(16));
  run(checker.check_all());
  CHECK(rig.a.models.size() == 3);
  CHECK(rig.state().breaker().state(rig.clock.now()) == CircuitState::kClosed);
}

TEST_CASE("a 4xx answer to a ping still shows the deployment answering", "[health_checks]") {
  Rig rig;
  HealthChecker checker(*rig.fleet, {std::chrono::seconds(30), std::chrono::seconds(2)}, rig.clock);
  ScriptedProvider::Step bad;
  bad.error = failure(FailureKind::kStatus, 404, false);
  rig.a.steps.push_back(bad);
  run(checker.check_all());
  auto check = rig.state().last_check();
  REQUIRE(check);
  CHECK(check->ok);
  CHECK(rig.state().breaker().snapshot(rig.clock.now()).failures == 0);
}
