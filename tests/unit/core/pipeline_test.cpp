// The onion: stage order, short-circuits, decoration of what comes back.
#include <catch2/catch.hpp>

#include "core/pipeline/middleware.hpp"
#include "core/pipeline/stages.hpp"
#include "core/money/price_table.hpp"
#include "core/store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;
using tollgate::testing::run;

namespace {

/// Appends its name to a trace before and after the rest of the chain.
class Tracer final : public Middleware {
 public:
  Tracer(std::string name, std::vector<std::string>& trace) : name_(std::move(name)), trace_(trace) {}
  std::string_view name() const noexcept override { return name_; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override {
    trace_.push_back(name_ + ">");
    Reply reply = co_await next(ctx);
    trace_.push_back("<" + name_);
    reply.set_header("x-seen-by", name_);
    co_return reply;
  }

 private:
  std::string name_;
  std::vector<std::string>& trace_;
};

/// Answers without calling next.
class Answer final : public Middleware {
 public:
  explicit Answer(std::vector<std::string>& trace) : trace_(trace) {}
  std::string_view name() const noexcept override { return "answer"; }
  boost::asio::awaitable<Reply> handle(RequestContext&, Next) const override {
    trace_.push_back("answer");
    co_return Reply::json(200, "{}");
  }

 private:
  std::vector<std::string>& trace_;
};

}  // namespace

TEST_CASE("stages run in order, code after next sees the reply in reverse order") {
  std::vector<std::string> trace;
  std::vector<std::unique_ptr<Middleware>> stages;
  stages.push_back(std::make_unique<Tracer>("a", trace));
  stages.push_back(std::make_unique<Tracer>("b", trace));
  stages.push_back(std::make_unique<Answer>(trace));
  Pipeline pipeline(std::move(stages));
  RequestContext ctx;
  Reply reply = run(pipeline.run(ctx));
  CHECK(trace == std::vector<std::string>{"a>", "b>", "answer", "<b", "<a"});
  REQUIRE(reply.headers.size() == 2);
  CHECK(reply.headers[0].second == "b");
  CHECK(reply.headers[1].second == "a");
}

TEST_CASE("a chain that runs off its end is an internal error, not a crash") {
  std::vector<std::string> trace;
  std::vector<std::unique_ptr<Middleware>> stages;
  stages.push_back(std::make_unique<Tracer>("a", trace));
  Pipeline pipeline(std::move(stages));
  RequestContext ctx;
  Reply reply = run(pipeline.run(ctx));
  REQUIRE(reply.is_error());
  CHECK(reply.failure->kind == ErrorKind::kInternal);
}

TEST_CASE("the chat pipeline is built in DESIGN.md order with the executor last") {
  auto config = std::make_shared<tollgate::config::Config>();
  ManualClock clock;
  Metrics metrics;
  auto counters = make_in_process_counters();
  tollgate::testing::TempDir dir;
  auto store = open_sqlite_store(dir.path().string());
  const Pricing pricing(*config, PriceTable::builtin());
  BudgetBook budgets(*store, metrics, nullptr);
  const ProviderLookup none = [](std::string_view) -> Provider* { return nullptr; };
  Fleet fleet(*config, none);
  SystemRandom random;
  Pipeline pipeline =
      build_chat_pipeline(StageDeps{config, none, clock, metrics, *counters, pricing, budgets, fleet, random});
  CHECK(pipeline.names() ==
        std::vector<std::string_view>{"accounting", "auth", "rate_limit", "budget", "router", "executor"});
}
