// The failover executor: order, retry classification, commit on first chunk, the 502/504 summaries.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/pipeline/failover_executor.hpp"
#include "core/pipeline/router.hpp"
#include "support/run.hpp"
#include "support/scripted.hpp"

using namespace tollgate::core;
using tollgate::testing::chunk;
using tollgate::testing::failure;
using tollgate::testing::run;
using tollgate::testing::ScriptedProvider;

namespace {

struct Fixture {
  tollgate::config::Config config;
  ScriptedProvider a{"a"};
  ScriptedProvider b{"b"};
  ScriptedProvider c{"c"};
  ManualClock clock;
  Metrics metrics;
  RequestContext ctx;

  Fixture() {
    tollgate::config::ModelConfig model;
    model.name = "chat";
    for (const char* id : {"a", "b", "c"}) model.deployments.push_back({id, std::string("model-") + id, 1.0, "", std::nullopt});
    config.models.push_back(model);
    ctx.model_name = "chat";
    ctx.body = nlohmann::json{{"model", "chat"}};
    ctx.request_id = "req_test";
    for (auto& d : config.models[0].deployments)
      ctx.plan.push_back(Candidate{provider(d.provider), &d, &config.models[0]});
  }

  Provider* provider(std::string_view id) {
    if (id == "a") return &a;
    if (id == "b") return &b;
    if (id == "c") return &c;
    return nullptr;
  }

  /// max_attempts defaults to one pass over the three deployments; no backoff unless a test asks.
  Reply execute(int max_attempts = 3, std::chrono::milliseconds request_timeout = std::chrono::seconds(600)) {
    routing.max_attempts = max_attempts;
    FailoverExecutor executor(deps(request_timeout));
    return run(executor.handle(ctx, Next{{}}));
  }

  ExecutorDeps deps(std::chrono::milliseconds request_timeout = std::chrono::seconds(600)) {
    if (!fleet) fleet = std::make_unique<Fleet>(config, [this](std::string_view id) { return provider(id); });
    return ExecutorDeps{routing, request_timeout, clock, metrics, *fleet, random};
  }

  tollgate::config::RoutingConfig routing = [] {
    tollgate::config::RoutingConfig r;
    r.backoff.base = std::chrono::milliseconds(0);
    return r;
  }();
  std::unique_ptr<Fleet> fleet;
  SequenceRandom random{{0.5}};

  static std::string header(const Reply& reply, std::string_view name) {
    for (const auto& [n, v] : reply.headers)
      if (n == name) return v;
    return "";
  }
};

/// A router with everything it needs, over `config`.
struct RouterRig {
  RouterRig(std::shared_ptr<const tollgate::config::Config> config, ProviderLookup lookup)
      : fleet(*config, lookup),
        pricing(*config, PriceTable::builtin()),
        router(RouterDeps{config, lookup, fleet, pricing, clock, random, metrics}) {}
  ManualClock clock;
  SequenceRandom random{{0.1, 0.6, 0.3, 0.9}};
  Metrics metrics;
  Fleet fleet;
  Pricing pricing;
  Router router;
};

ScriptedProvider::Step fails(FailureKind kind, int status = 0, bool retryable = true, std::string body = {}) {
  ScriptedProvider::Step step;
  step.error = failure(kind, status, retryable, std::move(body));
  return step;
}

}  // namespace

TEST_CASE("the first deployment that answers wins and is named in the headers") {
  Fixture f;
  Reply reply = f.execute();
  REQUIRE_FALSE(reply.is_error());
  CHECK(reply.body == R"({"ok":true})");
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "a");
  CHECK(Fixture::header(reply, "x-tollgate-model") == "model-a");
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "1");
  CHECK(f.a.models == std::vector<std::string>{"model-a"});
  CHECK(f.b.models.empty());
}

TEST_CASE("retryable failures move on to the next deployment in order") {
  for (auto step : {fails(FailureKind::kStatus, 500), fails(FailureKind::kStatus, 429), fails(FailureKind::kStatus, 408),
                    fails(FailureKind::kStatus, 409), fails(FailureKind::kTimeout), fails(FailureKind::kConnect),
                    fails(FailureKind::kProtocol)}) {
    Fixture f;
    f.a.steps.push_back(step);
    Reply reply = f.execute();
    REQUIRE_FALSE(reply.is_error());
    CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
    CHECK(Fixture::header(reply, "x-tollgate-attempts") == "2");
    CHECK(f.ctx.attempts.size() == 2);
    CHECK(f.ctx.attempts[0].error.has_value());
    CHECK_FALSE(f.ctx.attempts[1].error.has_value());
  }
}

TEST_CASE("a refused key retries the same deployment with the next key before moving on") {
  Fixture f;
  auto refused = fails(FailureKind::kStatus, 429);
  refused.error->key_failure = true;
  f.a.steps.push_back(refused);
  f.a.steps.push_back(refused);
  Reply reply = f.execute();
  REQUIRE_FALSE(reply.is_error());
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "a");  // the third key of `a` answered
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "3");
  CHECK(f.a.models.size() == 3);
  CHECK(f.b.models.empty());

  // Bounded by max_attempts like any other retry.
  Fixture g;
  for (int i = 0; i < 5; ++i) g.a.steps.push_back(refused);
  Reply limited = g.execute(2);
  CHECK(limited.is_error());
  CHECK(g.a.models.size() == 2);
  CHECK(g.b.models.empty());
}

TEST_CASE("a non-retryable 4xx is returned as is and nothing else is tried") {
  Fixture f;
  const std::string body = R"({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})";
  f.a.steps.push_back(fails(FailureKind::kStatus, 400, false, body));
  Reply reply = f.execute();
  CHECK_FALSE(reply.is_error());
  CHECK(reply.status == 400);
  CHECK(reply.body == body);
  CHECK(f.b.models.empty());
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "1");
}

TEST_CASE("every attempt failing is a 502 listing each attempt") {
  Fixture f;
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.b.steps.push_back(fails(FailureKind::kConnect));
  f.c.steps.push_back(fails(FailureKind::kStatus, 503));
  Reply reply = f.execute();
  REQUIRE(reply.is_error());
  CHECK(reply.status == 502);
  CHECK(reply.failure->message.find("All 3 upstream attempts failed") == 0);
  CHECK(reply.failure->message.find("a/model-a") != std::string::npos);
  CHECK(reply.failure->message.find("c/model-c") != std::string::npos);
}

TEST_CASE("a timeout on the last attempt is a 504") {
  Fixture f;
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.b.steps.push_back(fails(FailureKind::kStatus, 500));
  f.c.steps.push_back(fails(FailureKind::kTimeout));
  Reply reply = f.execute();
  REQUIRE(reply.is_error());
  CHECK(reply.status == 504);
}

TEST_CASE("max_attempts bounds the number of deployments tried") {
  Fixture f;
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.b.steps.push_back(fails(FailureKind::kStatus, 500));
  Reply reply = f.execute(2);
  REQUIRE(reply.is_error());
  CHECK(f.c.models.empty());
  CHECK(f.ctx.attempts.size() == 2);
}

TEST_CASE("no candidate at all is a 503 no_healthy_deployment") {
  Fixture f;
  f.ctx.plan.clear();
  Reply reply = f.execute();
  REQUIRE(reply.is_error());
  CHECK(reply.failure->kind == ErrorKind::kNoHealthyDeployment);
}

TEST_CASE("a stream failing before its first chunk fails over invisibly") {
  Fixture f;
  f.ctx.stream = true;
  ScriptedProvider::Step broken;
  broken.fail_at = 0;
  f.a.steps.push_back(broken);
  ScriptedProvider::Step good;
  good.chunks = {chunk("one"), chunk("two")};
  f.b.steps.push_back(good);

  Reply reply = f.execute();
  REQUIRE(reply.is_stream());
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
  CHECK(f.ctx.first_token_at.has_value());
  auto first = run(reply.stream->next());
  REQUIRE(first.has_value());
  CHECK((*first)->data == "one");
  auto second = run(reply.stream->next());
  CHECK((*second)->data == "two");
  auto end = run(reply.stream->next());
  REQUIRE(end.has_value());
  CHECK_FALSE(end->has_value());
}

TEST_CASE("after the first chunk a stream failure reaches the client as an error, with no failover") {
  Fixture f;
  f.ctx.stream = true;
  ScriptedProvider::Step breaks_later;
  breaks_later.chunks = {chunk("one"), chunk("two")};
  breaks_later.fail_at = 1;
  f.a.steps.push_back(breaks_later);

  Reply reply = f.execute();
  REQUIRE(reply.is_stream());
  CHECK((*run(reply.stream->next()))->data == "one");
  auto broken = run(reply.stream->next());
  CHECK_FALSE(broken.has_value());
  CHECK(f.b.models.empty());
}

TEST_CASE("the usage a stream reports is kept on the context") {
  Fixture f;
  f.ctx.stream = true;
  ScriptedProvider::Step step;
  tollgate::core::Chunk usage_chunk{"{}", Usage{10, 5, 15, 0, 0, false}, true};
  step.chunks = {chunk("one"), usage_chunk};
  f.a.steps.push_back(step);
  Reply reply = f.execute();
  REQUIRE(reply.is_stream());
  while (true) {
    auto next = run(reply.stream->next());
    REQUIRE(next.has_value());
    if (!next->has_value()) break;
  }
  REQUIRE(f.ctx.usage.has_value());
  CHECK(f.ctx.usage->completion_tokens == 5);
}

TEST_CASE("time waiting on upstreams is accounted across attempts, from the injected clock") {
  Fixture f;
  f.a.clock = &f.clock;
  f.a.latency = std::chrono::milliseconds(30);
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.b.clock = &f.clock;
  f.b.latency = std::chrono::milliseconds(20);
  f.execute();
  CHECK(f.ctx.upstream_time == std::chrono::milliseconds(50));
  CHECK(f.ctx.attempts[0].duration == std::chrono::milliseconds(30));
}

TEST_CASE("the router orders deployments, appends fallbacks once, and 404s unknown models") {
  tollgate::config::Config config;
  tollgate::config::ModelConfig primary{"smart", {{"a", "big", 3, "", std::nullopt}, {"b", "big-b", 1, "", std::nullopt}}, {"cheap"}, ""};
  tollgate::config::ModelConfig cheap{"cheap", {{"b", "small", 1, "", std::nullopt}, {"a", "big", 1, "", std::nullopt}}, {"smart"}, ""};
  config.models = {primary, cheap};
  auto shared = std::make_shared<const tollgate::config::Config>(config);
  ScriptedProvider a{"a"}, b{"b"};
  RouterRig rig(shared, [&](std::string_view id) -> Provider* { return id == "a" ? &a : id == "b" ? &b : nullptr; });
  Router& router = rig.router;

  const auto* plan = router.plan_for("smart");
  REQUIRE(plan != nullptr);
  std::vector<std::string> order;
  for (const auto& c : *plan) order.push_back(std::string(c.provider->id()) + "/" + c.deployment->model);
  CHECK(order == std::vector<std::string>{"a/big", "b/big-b", "b/small"});
  CHECK(plan->back().model->name == "cheap");

  RequestContext known;
  known.model_name = "smart";
  run(router.handle(known, Next{{}}));
  REQUIRE(known.model != nullptr);
  CHECK(known.model->name == "smart");
  CHECK(known.plan.size() == 3);

  RequestContext ctx;
  ctx.model_name = "nope";
  Reply reply = run(router.handle(ctx, Next{{}}));
  REQUIRE(reply.is_error());
  CHECK(reply.failure->kind == ErrorKind::kModelNotFound);
  CHECK(reply.failure->param == "model");
}

namespace {
class Unavailable final : public Provider {
 public:
  std::string_view id() const noexcept override { return "u"; }
  std::string_view type() const noexcept override { return "anthropic"; }
  bool available() const noexcept override { return false; }
  boost::asio::awaitable<AttemptResult> call(UpstreamCall) override { co_return tollgate::testing::failure(FailureKind::kProtocol); }
};
}  // namespace

TEST_CASE("the router leaves out providers this build cannot call") {
  tollgate::config::Config config;
  config.models = {{"m", {{"u", "claude", 1, "", std::nullopt}, {"a", "gpt", 1, "", std::nullopt}}, {}, ""}};
  auto shared = std::make_shared<const tollgate::config::Config>(config);
  ScriptedProvider a{"a"};
  Unavailable u;
  RouterRig rig(shared, [&](std::string_view id) -> Provider* { return id == "a" ? static_cast<Provider*>(&a) : &u; });
  Router& router = rig.router;
  const auto* plan = router.plan_for("m");
  REQUIRE(plan != nullptr);
  REQUIRE(plan->size() == 1);
  CHECK(plan->front().provider == &a);
}

TEST_CASE("request_timeout stops new attempts and caps each attempt's deadlines") {
  Fixture f;
  f.a.clock = &f.clock;
  f.a.latency = std::chrono::seconds(50);
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.b.clock = &f.clock;
  f.b.latency = std::chrono::seconds(20);
  f.b.steps.push_back(fails(FailureKind::kStatus, 500));
  Reply reply = f.execute(4, std::chrono::seconds(60));
  REQUIRE(reply.is_error());
  // a used 50 s of 60; b got the 10 s left, used 20; c was never tried.
  CHECK(f.ctx.attempts.size() == 2);
  CHECK(f.c.models.empty());
  REQUIRE(f.b.timeouts.size() == 1);
  CHECK(f.b.timeouts[0].total == std::chrono::seconds(10));
  CHECK(f.b.timeouts[0].first_byte == std::chrono::seconds(10));
  CHECK(f.a.timeouts[0].total == std::chrono::seconds(60));  // routing.attempt_timeout (120 s) capped
}

TEST_CASE("a stream failing before its first chunk counts its wait as upstream time") {
  Fixture f;
  f.ctx.stream = true;
  f.a.clock = &f.clock;
  f.a.latency = std::chrono::milliseconds(40);
  ScriptedProvider::Step broken;
  broken.fail_at = 0;
  f.a.steps.push_back(broken);
  ScriptedProvider::Step good;
  good.chunks = {chunk("one")};
  f.b.steps.push_back(good);
  Reply reply = f.execute();
  REQUIRE(reply.is_stream());
  CHECK(f.ctx.upstream_time == std::chrono::milliseconds(40));
}

TEST_CASE("an open circuit keeps its deployment out; every circuit open is an immediate 503 with Retry-After") {
  Fixture f;
  f.routing.max_attempts = 2;  // no second pass over the deployments still closed
  FailoverExecutor executor(f.deps());
  const auto once = [&](Fixture& fx) {
    RequestContext ctx;
    ctx.model_name = "chat";
    ctx.body = nlohmann::json{{"model", "chat"}};
    ctx.plan = fx.ctx.plan;
    return run(executor.handle(ctx, Next{{}}));
  };

  // `a` fails 10 times (the breaker's minimum), `b` answers each time.
  for (int i = 0; i < 10; ++i) {
    f.a.steps.push_back(fails(FailureKind::kStatus, 500));
    Reply reply = once(f);
    REQUIRE_FALSE(reply.is_error());
    CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
  }
  CHECK(f.a.models.size() == 10);
  // Now `a` is passed over without a call.
  Reply skipped = once(f);
  CHECK(Fixture::header(skipped, "x-tollgate-provider") == "b");
  CHECK(Fixture::header(skipped, "x-tollgate-attempts") == "1");
  CHECK(f.a.models.size() == 10);
  const std::string text = f.metrics.serialize();
  CHECK(text.find("tollgate_failovers_total{reason=\"500\"} 10") != std::string::npos);
  CHECK(text.find("tollgate_failovers_total{reason=\"circuit_open\"} 1") != std::string::npos);
  CHECK(text.find("tollgate_retries_total 10") != std::string::npos);

  // `b` (11 answers so far) and `c` fail too until their circuits open: then the answer is at once a 503.
  for (int i = 0; i < 11; ++i) {
    f.b.steps.push_back(fails(FailureKind::kStatus, 503));
    f.c.steps.push_back(fails(FailureKind::kTimeout));
    once(f);
  }
  const auto calls = f.b.models.size() + f.c.models.size();
  f.clock.advance(std::chrono::seconds(2));
  Reply refused = once(f);
  INFO("answered by " << Fixture::header(refused, "x-tollgate-provider") << ", b calls " << f.b.models.size()
                      << ", c calls " << f.c.models.size());
  REQUIRE(refused.is_error());
  CHECK(refused.failure->kind == ErrorKind::kNoHealthyDeployment);
  REQUIRE(refused.failure->retry_after);
  CHECK(refused.failure->retry_after->count() >= 1);
  CHECK(refused.failure->retry_after->count() <= 15);
  CHECK(f.b.models.size() + f.c.models.size() == calls);

  // After the cool-off a probe goes through, and an answer closes the circuit again.
  f.clock.advance(std::chrono::seconds(20));
  Reply recovered = once(f);
  REQUIRE_FALSE(recovered.is_error());
  CHECK(Fixture::header(recovered, "x-tollgate-provider") == "a");
}

TEST_CASE("a deployment that failed is retried after a backoff, within max_attempts") {
  Fixture f;
  f.ctx.plan.resize(1);  // only `a`
  f.routing.backoff.base = std::chrono::milliseconds(1);
  f.routing.backoff.max = std::chrono::milliseconds(4);
  f.a.steps.push_back(fails(FailureKind::kStatus, 500));
  f.a.steps.push_back(fails(FailureKind::kStatus, 503));
  Reply reply = f.execute(4);
  REQUIRE_FALSE(reply.is_error());
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "3");
  CHECK(f.a.models.size() == 3);
  CHECK(f.ctx.routing_reason.find("failover: attempt 3 on a/model-a") != std::string::npos);

  Fixture g;
  g.ctx.plan.resize(1);
  for (int i = 0; i < 5; ++i) g.a.steps.push_back(fails(FailureKind::kStatus, 500));
  Reply failed = g.execute(2);
  REQUIRE(failed.is_error());
  CHECK(failed.status == 502);
  CHECK(g.a.models.size() == 2);
}

TEST_CASE("deployments whose keys all rest are passed over; when all rest, 503 at once with Retry-After") {
  Fixture f;
  f.a.unavailable = f.clock.now() + std::chrono::milliseconds(2500);
  Reply reply = f.execute();
  REQUIRE_FALSE(reply.is_error());
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
  CHECK(f.a.models.empty());

  Fixture g;
  g.a.unavailable = g.clock.now() + std::chrono::milliseconds(2500);
  g.b.unavailable = g.clock.now() + std::chrono::seconds(9);
  g.c.unavailable = Clock::Steady::time_point::max();  // every key disabled
  Reply refused = g.execute();
  REQUIRE(refused.is_error());
  CHECK(refused.status == 503);
  CHECK(refused.failure->kind == ErrorKind::kNoHealthyDeployment);
  REQUIRE(refused.failure->retry_after);
  CHECK(refused.failure->retry_after->count() == 3);  // the soonest, rounded up
  CHECK(refused.failure->message.find("every key resting after a 429") != std::string::npos);
  CHECK(refused.failure->message.find("every key disabled") != std::string::npos);
  CHECK(g.a.models.empty());
  CHECK(g.b.models.empty());
  CHECK(g.c.models.empty());
}

TEST_CASE("a prompt too long for the context window moves to the context_window_fallbacks plan once") {
  Fixture f;
  tollgate::config::ModelConfig larger;
  larger.name = "chat-long";
  larger.deployments.push_back({"c", "model-long", 1.0, "", std::nullopt});
  f.config.models.push_back(larger);
  f.ctx.plan.resize(1);  // `a` only
  f.ctx.context_plan.push_back(Candidate{&f.c, &f.config.models.back().deployments[0], &f.config.models.back()});
  auto overflow = fails(FailureKind::kStatus, 400, false, R"({"error":{"code":"context_length_exceeded"}})");
  overflow.error->context_overflow = true;
  f.a.steps.push_back(overflow);
  Reply reply = f.execute();
  REQUIRE_FALSE(reply.is_error());
  CHECK(reply.status == 200);
  CHECK(Fixture::header(reply, "x-tollgate-model") == "model-long");
  CHECK(f.ctx.routing_reason.find("context window exceeded on a/model-a") != std::string::npos);

  // Without context_window_fallbacks the 400 goes back as it came.
  Fixture g;
  g.a.steps.push_back(overflow);
  Reply passed = g.execute();
  CHECK(passed.status == 400);
  CHECK(g.b.models.empty());
}

TEST_CASE("a deployment over its rpm is passed over without a call") {
  Fixture f;
  f.config.models[0].deployments[0].rpm = 1;
  Reply first = f.execute();
  CHECK(Fixture::header(first, "x-tollgate-provider") == "a");
  RequestContext second;
  second.model_name = "chat";
  second.body = nlohmann::json{{"model", "chat"}};
  second.plan = f.ctx.plan;
  FailoverExecutor executor(f.deps());
  Reply reply = run(executor.handle(second, Next{{}}));
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
  CHECK(f.a.models.size() == 1);
  CHECK(f.metrics.serialize().find("tollgate_failovers_total{reason=\"rate_limited\"} 1") != std::string::npos);
}

TEST_CASE("failures that leave every candidate resting end in a 503 with Retry-After, listing the attempts") {
  Fixture f;
  f.ctx.plan.resize(1);
  auto limited = fails(FailureKind::kStatus, 429);
  f.a.steps.push_back(limited);
  // The 429 rests the provider's only key (as the key pool does) for 7 s.
  struct RestingAfterCall final : public Provider {
    ScriptedProvider& inner;
    const ManualClock& clock;
    std::optional<Clock::Steady::time_point> until;
    RestingAfterCall(ScriptedProvider& p, const ManualClock& c) : inner(p), clock(c) {}
    std::string_view id() const noexcept override { return inner.id(); }
    std::string_view type() const noexcept override { return inner.type(); }
    std::optional<Clock::Steady::time_point> unavailable_until(Clock::Steady::time_point now) const override {
      return until && *until > now ? until : std::nullopt;
    }
    boost::asio::awaitable<AttemptResult> call(UpstreamCall call) override {
      until = clock.now() + std::chrono::seconds(7);
      co_return co_await inner.call(call);
    }
  } resting(f.a, f.clock);
  f.ctx.plan[0].provider = &resting;
  Reply reply = f.execute(4);
  REQUIRE(reply.is_error());
  CHECK(reply.status == 503);
  CHECK(reply.failure->kind == ErrorKind::kNoHealthyDeployment);
  REQUIRE(reply.failure->retry_after);
  CHECK(reply.failure->retry_after->count() == 7);
  CHECK(reply.failure->message.find("Attempts made: [1] a/model-a") != std::string::npos);
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "1");
  CHECK(f.a.models.size() == 1);
}

TEST_CASE("a deployment that cannot express the request is passed over; when none can, the first refusal answers") {
  const std::string refusal =
      R"({"error":{"message":"groq does not support 'logit_bias'","type":"invalid_request_error","param":"logit_bias","code":null}})";
  auto untranslatable = fails(FailureKind::kStatus, 400, false, refusal);
  untranslatable.error->untranslatable = true;

  Fixture f;
  f.a.steps.push_back(untranslatable);
  Reply reply = f.execute();
  REQUIRE_FALSE(reply.is_error());
  CHECK(reply.body == R"({"ok":true})");
  CHECK(Fixture::header(reply, "x-tollgate-provider") == "b");
  CHECK(Fixture::header(reply, "x-tollgate-attempts") == "2");
  CHECK(f.a.models.size() == 1);  // passed over at once: no backoff retry of the same deployment

  Fixture g;
  auto other = untranslatable;
  other.error->body = R"({"error":{"message":"second"}})";
  g.a.steps.push_back(untranslatable);
  g.b.steps.push_back(other);
  g.c.steps.push_back(other);
  Reply none = g.execute();
  REQUIRE_FALSE(none.is_error());
  CHECK(none.status == 400);
  CHECK(none.body == refusal);
  CHECK(Fixture::header(none, "x-tollgate-provider") == "a");
  CHECK(Fixture::header(none, "x-tollgate-attempts") == "3");

  // Mixed with a real failure: the usual 502 listing both.
  Fixture h;
  h.a.steps.push_back(untranslatable);
  h.b.steps.push_back(fails(FailureKind::kStatus, 500));
  h.c.steps.push_back(fails(FailureKind::kStatus, 500));
  Reply mixed = h.execute();
  REQUIRE(mixed.is_error());
  CHECK(mixed.status == 502);
}
