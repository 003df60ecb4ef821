// ModelAccess and RateLimit stages: given a caller and a scripted next, the expected Reply.
#include <catch2/catch.hpp>

#include "core/pipeline/model_access.hpp"
#include "core/pipeline/rate_limit.hpp"
#include "support/run.hpp"

using namespace tollgate::core;
using tollgate::testing::run;

namespace {

/// The terminal stage of these tests: counts calls and answers 200.
class Counting final : public Middleware {
 public:
  std::string_view name() const noexcept override { return "counting"; }
  boost::asio::awaitable<Reply> handle(RequestContext&, Next) const override {
    ++calls;
    co_return Reply::json(200, "{}");
  }
  mutable int calls = 0;
};

std::shared_ptr<const VirtualKey> key_with(std::optional<std::int64_t> rpm, std::optional<std::int64_t> tpm,
                                           std::vector<std::string> models = {}, std::string id = "vk_test") {
  auto key = std::make_shared<VirtualKey>();
  key->id = std::move(id);
  key->name = "test key";
  key->rpm = rpm;
  key->tpm = tpm;
  key->models = std::move(models);
  return key;
}

std::unique_ptr<RequestContext> request_by(std::shared_ptr<const VirtualKey> key, std::string model = "gpt-4o-mini",
                                           std::string content = "hi") {
  auto ctx = std::make_unique<RequestContext>();
  ctx->model_name = model;
  ctx->body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", content}}}}};
  if (key) ctx->caller = Caller{Caller::Kind::kVirtualKey, std::move(key)};
  return ctx;
}

Reply call(const Middleware& stage, const Middleware& terminal, RequestContext& ctx) {
  const Middleware* rest[] = {&terminal};
  return run(stage.handle(ctx, Next(rest)));
}

}  // namespace

TEST_CASE("model access: a key's model list is enforced, other callers pass", "[access]") {
  ModelAccess stage;
  Counting terminal;
  auto limited = key_with(std::nullopt, std::nullopt, {"gpt-4o-mini"});

  auto allowed = request_by(limited, "gpt-4o-mini");
  CHECK(call(stage, terminal, *allowed).status == 200);

  auto denied = request_by(limited, "gpt-4o");
  Reply reply = call(stage, terminal, *denied);
  REQUIRE(reply.is_error());
  CHECK(reply.failure->kind == ErrorKind::kModelNotAllowed);
  CHECK(reply.failure->param == "model");
  CHECK(reply.failure->message.find("'gpt-4o'") != std::string::npos);
  CHECK(terminal.calls == 1);

  auto any_model = request_by(key_with(std::nullopt, std::nullopt), "gpt-4o");
  CHECK(call(stage, terminal, *any_model).status == 200);
  auto anonymous = request_by(nullptr, "gpt-4o");
  CHECK(call(stage, terminal, *anonymous).status == 200);
  CHECK(terminal.calls == 3);
}

TEST_CASE("rate limit: rpm admits a minute's worth, then 429 with an accurate Retry-After", "[ratelimit]") {
  ManualClock clock;
  Metrics metrics;
  auto counters = make_in_process_counters();
  RateLimit stage(*counters, clock, metrics);
  Counting terminal;
  auto key = key_with(3, std::nullopt);

  for (int i = 0; i < 3; ++i) {
    auto ctx = request_by(key);
    CHECK(call(stage, terminal, *ctx).status == 200);
  }
  auto ctx = request_by(key);
  Reply reply = call(stage, terminal, *ctx);
  REQUIRE(reply.is_error());
  CHECK(reply.failure->kind == ErrorKind::kRateLimited);
  REQUIRE(reply.failure->retry_after);
  CHECK(reply.failure->retry_after->count() == 20);  // one request every 60/3 s
  CHECK(terminal.calls == 3);

  clock.advance(std::chrono::seconds(19));
  auto early = request_by(key);
  Reply still = call(stage, terminal, *early);
  REQUIRE(still.is_error());
  CHECK(still.failure->retry_after->count() == 1);
  clock.advance(std::chrono::seconds(1));
  auto later = request_by(key);
  CHECK(call(stage, terminal, *later).status == 200);

  SECTION("callers without a virtual key, or keys without limits, are not limited") {
    for (int i = 0; i < 10; ++i) {
      auto anonymous = request_by(nullptr);
      CHECK(call(stage, terminal, *anonymous).status == 200);
      auto unlimited = request_by(key_with(std::nullopt, std::nullopt));
      CHECK(call(stage, terminal, *unlimited).status == 200);
    }
  }
}

TEST_CASE("rate limit: tpm takes the estimate, then settles it against the real usage", "[ratelimit]") {
  ManualClock clock;
  Metrics metrics;
  auto counters = make_in_process_counters();
  RateLimit stage(*counters, clock, metrics);
  Counting terminal;
  auto key = key_with(100, 1000);

  const std::string prompt(1200, 'a');  // ~300 tokens estimated
  auto first = request_by(key, "gpt-4o-mini", prompt);
  CHECK(call(stage, terminal, *first).status == 200);
  auto second = request_by(key, "gpt-4o-mini", prompt);
  CHECK(call(stage, terminal, *second).status == 200);
  auto third = request_by(key, "gpt-4o-mini", prompt);
  CHECK(call(stage, terminal, *third).status == 200);
  auto fourth = request_by(key, "gpt-4o-mini", prompt);
  Reply refused = call(stage, terminal, *fourth);
  REQUIRE(refused.is_error());
  CHECK(refused.failure->kind == ErrorKind::kRateLimited);
  CHECK(refused.failure->retry_after.has_value());

  // The upstream said the three requests used 10 tokens each: settling gives the rest back.
  for (auto* done : {first.get(), second.get(), third.get()}) {
    done->usage = Usage{5, 5, 10};
    done->settle();
  }
  auto fifth = request_by(key, "gpt-4o-mini", prompt);
  CHECK(call(stage, terminal, *fifth).status == 200);

  SECTION("a request larger than the whole TPM is refused as too large, without Retry-After") {
    auto huge = request_by(key, "gpt-4o-mini", std::string(8000, 'b'));
    Reply reply = call(stage, terminal, *huge);
    REQUIRE(reply.is_error());
    CHECK(reply.failure->message.find("too large") != std::string::npos);
    CHECK_FALSE(reply.failure->retry_after.has_value());
  }
  SECTION("a request refused on TPM does not use up RPM") {
    auto rpm_only = key_with(1, 10, {}, "vk_small");
    auto big = request_by(rpm_only, "gpt-4o-mini", std::string(400, 'c'));
    CHECK(call(stage, terminal, *big).is_error());
    auto small = request_by(rpm_only, "gpt-4o-mini", "x");
    CHECK(call(stage, terminal, *small).status == 200);
  }
}
