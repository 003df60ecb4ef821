// Tests for WebhookNotifier against a scripted HTTP receiver on 127.0.0.1 (real sockets).
#include "adapters/webhook/webhook_notifier.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "config/config_error.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using tollgate::adapters::WebhookNotifier;
using tollgate::core::BudgetAlert;
using namespace std::chrono_literals;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

/// What the receiver saw of one request.
struct Seen {
  std::string method;
  std::string target;
  std::string content_type;
  std::string user_agent;
  std::string idempotency_key;
  std::string body;

  std::string budget_id() const { return nlohmann::json::parse(body).at("budget").at("id").get<std::string>(); }
};

/// One scripted answer; `hang` never answers (the client's timeout must end the attempt).
struct Answer {
  int status = 200;
  std::string extra_headers;  // "Name: value\r\n" lines
  bool hang = false;
};

/// A receiver that records every request and answers from a script (200 once it runs out).
/// Touched by the io_context's thread only (or after that thread has been joined).
struct Receiver {
  explicit Receiver(asio::io_context& ctx) : acceptor(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  std::string url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + path_and_query;
  }

  tcp::acceptor acceptor;
  std::deque<Answer> script;
  std::vector<Seen> seen;
};

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nContent-Length: 0\r\n";
}

asio::awaitable<void> serve_connection(std::shared_ptr<Receiver> receiver, tcp::socket socket) {
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request<bhttp::string_body> req;
    auto [ec, n] = co_await bhttp::async_read(socket, buffer, req, kTok);
    if (ec) co_return;
    Seen seen;
    seen.method = std::string(req.method_string());
    seen.target = std::string(req.target());
    seen.content_type = std::string(req[bhttp::field::content_type]);
    seen.user_agent = std::string(req[bhttp::field::user_agent]);
    seen.idempotency_key = std::string(req["idempotency-key"]);
    seen.body = req.body();
    receiver->seen.push_back(std::move(seen));

    Answer answer;
    if (!receiver->script.empty()) {
      answer = receiver->script.front();
      receiver->script.pop_front();
    }
    if (answer.hang) {
      asio::steady_timer never(socket.get_executor());
      never.expires_at(asio::steady_timer::time_point::max());
      co_await never.async_wait(kTok);
      co_return;
    }
    const std::string text = status_line(answer.status) + answer.extra_headers + "\r\n";
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(text), kTok);
    if (write_ec) co_return;
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<Receiver> receiver) {
  for (;;) {
    auto [ec, socket] = co_await receiver->acceptor.async_accept(kTok);
    if (ec) co_return;
    asio::co_spawn(receiver->acceptor.get_executor(), serve_connection(receiver, std::move(socket)), asio::detached);
  }
}

std::shared_ptr<Receiver> start_receiver(asio::io_context& ctx, std::deque<Answer> script = {}) {
  auto receiver = std::make_shared<Receiver>(ctx);
  receiver->script = std::move(script);
  asio::co_spawn(ctx, accept_loop(receiver), asio::detached);
  return receiver;
}

/// Runs `ctx` until `done()` holds; failing the test after 10 s instead of hanging.
template <class Done>
void run_until(asio::io_context& ctx, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) FAIL("the condition did not hold within 10 s");
    if (ctx.stopped()) ctx.restart();
    ctx.run_one_for(100ms);
  }
}

WebhookNotifier::Options fast_options(const std::string& url) {
  WebhookNotifier::Options options;
  options.url = url;
  options.max_attempts = 5;
  options.backoff = 1ms;
  options.max_backoff = 2ms;
  options.timeout = 5s;
  return options;
}

BudgetAlert make_alert(std::string budget_id, double threshold = 0.75) {
  BudgetAlert alert;
  alert.budget_id = std::move(budget_id);
  alert.budget_name = "team=ml monthly";
  alert.scope = "team";
  alert.scope_id = "ml";
  alert.period = "monthly";
  alert.period_start = 1793491200000;  // 2026-11-01T00:00:00Z
  alert.period_end = 1796083200000;    // 2026-12-01T00:00:00Z
  alert.spend = 75'500'000'001;        // $75.500000001
  alert.limit = 100'000'000'000;       // $100
  alert.threshold = threshold;
  alert.enforcement = "soft";
  alert.at = 1795320420123;  // 2026-11-22T04:07:00.123Z
  return alert;
}

std::vector<std::string> budget_ids(const Receiver& receiver) {
  std::vector<std::string> ids;
  for (const Seen& seen : receiver.seen) ids.push_back(seen.budget_id());
  return ids;
}

/// Keeps every formatted line, and lets another thread wait for one.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() const {
    std::lock_guard lock(lines_mutex_);
    return text_;
  }
  bool wait_for(const std::string& part, std::chrono::milliseconds limit) {
    std::unique_lock lock(lines_mutex_);
    return logged_.wait_for(lock, limit, [&] { return text_.find(part) != std::string::npos; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::lock_guard lock(lines_mutex_);
    text_.append(formatted.data(), formatted.size());
    logged_.notify_all();
  }
  void flush_() override {}

 private:
  mutable std::mutex lines_mutex_;
  std::condition_variable logged_;
  std::string text_;
};

/// Routes spdlog's default logger into a LineSink for one test, restoring the previous one after.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()), sink_(std::make_shared<LineSink>()) {
    auto logger = std::make_shared<spdlog::logger>("webhook-test", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return sink_->text(); }
  bool wait_for(const std::string& part) { return sink_->wait_for(part, std::chrono::milliseconds{10'000}); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<LineSink> sink_;
};

}  // namespace

TEST_CASE("WebhookNotifier posts one alert with the exact JSON body and headers", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx);
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hooks/budget?token=abc")));

  notifier.notify(make_alert("bud_7"));
  run_until(ctx, [&] { return notifier.delivered() == 1; });

  REQUIRE(receiver->seen.size() == 1);
  const Seen& seen = receiver->seen[0];
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/hooks/budget?token=abc");
  CHECK(seen.content_type == "application/json");
  CHECK(seen.user_agent == "tollgate");
  CHECK(seen.idempotency_key.size() == 64);
  const auto expected = nlohmann::json::parse(R"({
    "type": "budget.threshold",
    "budget": {"id": "bud_7", "name": "team=ml monthly", "scope": "team", "scope_id": "ml",
               "period": "monthly", "period_start": "2026-11-01T00:00:00Z",
               "period_end": "2026-12-01T00:00:00Z", "enforcement": "soft"},
    "spend_usd": "75.500000001",
    "limit_usd": "100",
    "threshold": 0.75,
    "utilization": 0.75500000001,
    "at": "2026-11-22T04:07:00.123Z"
  })");
  CHECK(nlohmann::json::parse(seen.body) == expected);
  CHECK(notifier.failed() == 0);
}

TEST_CASE("WebhookNotifier sends a null period_end for a total budget and a null utilization for a zero limit",
          "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx);
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hook")));

  BudgetAlert alert = make_alert("config_0", 1.0);
  alert.scope = "global";
  alert.scope_id = "";
  alert.period = "total";
  alert.period_start = 0;
  alert.period_end = std::numeric_limits<std::int64_t>::max();
  alert.limit = 0;
  notifier.notify(alert);
  run_until(ctx, [&] { return notifier.delivered() == 1; });

  REQUIRE(receiver->seen.size() == 1);
  const auto body = nlohmann::json::parse(receiver->seen[0].body);
  CHECK(body["budget"]["period_start"] == "1970-01-01T00:00:00Z");
  CHECK(body["budget"]["period_end"].is_null());
  CHECK(body["budget"]["scope_id"] == "");
  CHECK(body["limit_usd"] == "0");
  CHECK(body["utilization"].is_null());
  CHECK(body["threshold"] == 1.0);
}

TEST_CASE("WebhookNotifier retries a 503 with the same idempotency key", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{503, "", false}, {200, "", false}});
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hook")));

  notifier.notify(make_alert("bud_7"));
  run_until(ctx, [&] { return notifier.delivered() == 1; });

  REQUIRE(receiver->seen.size() == 2);
  CHECK(receiver->seen[0].idempotency_key == receiver->seen[1].idempotency_key);
  CHECK(receiver->seen[0].body == receiver->seen[1].body);
  CHECK(notifier.failed() == 0);
}

TEST_CASE("WebhookNotifier gives up at once on a 400 and goes on with the next alert", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{400, "", false}});
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hook")));

  notifier.notify(make_alert("bud_refused"));
  notifier.notify(make_alert("bud_next"));
  run_until(ctx, [&] { return notifier.delivered() + notifier.failed() == 2; });

  CHECK(notifier.failed() == 1);
  CHECK(notifier.delivered() == 1);
  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_refused", "bud_next"});
}

TEST_CASE("WebhookNotifier gives up after max_attempts retryable failures", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{500, "", false}, {502, "", false}, {429, "", false}});
  auto options = fast_options(receiver->url("/hook"));
  options.max_attempts = 3;
  WebhookNotifier notifier(ctx.get_executor(), options);

  notifier.notify(make_alert("bud_a"));
  notifier.notify(make_alert("bud_b"));
  run_until(ctx, [&] { return notifier.delivered() + notifier.failed() == 2; });

  CHECK(notifier.failed() == 1);
  CHECK(notifier.delivered() == 1);
  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_a", "bud_a", "bud_a", "bud_b"});
}

TEST_CASE("WebhookNotifier retries when the receiver cannot be reached", "[webhook]") {
  asio::io_context ctx;
  std::string url;
  {
    // A port that was just free and has nobody listening on it: the connect is refused.
    tcp::acceptor closed(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/hook";
  }
  auto options = fast_options(url);
  options.max_attempts = 2;
  WebhookNotifier notifier(ctx.get_executor(), options);
  LogCapture logs;

  notifier.notify(make_alert("bud_7"));
  run_until(ctx, [&] { return notifier.failed() == 1; });

  CHECK(notifier.delivered() == 0);
  const std::string text = logs.text();
  CHECK(text.find("attempt 1/2") != std::string::npos);
  CHECK(text.find("given up after 2 attempt(s)") != std::string::npos);
}

TEST_CASE("WebhookNotifier ends an unanswered attempt at its timeout and retries", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{0, "", true}});
  auto options = fast_options(receiver->url("/hook"));
  options.timeout = 50ms;
  WebhookNotifier notifier(ctx.get_executor(), options);

  notifier.notify(make_alert("bud_7"));
  run_until(ctx, [&] { return notifier.delivered() == 1; });

  CHECK(receiver->seen.size() == 2);
  CHECK(notifier.failed() == 0);
}

TEST_CASE("WebhookNotifier drops the oldest alert when its queue is full", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx);
  auto options = fast_options(receiver->url("/hook"));
  options.max_queue = 2;
  WebhookNotifier notifier(ctx.get_executor(), options);

  // Nothing runs the io_context yet, so all four wait in the queue.
  notifier.notify(make_alert("bud_1"));
  notifier.notify(make_alert("bud_2"));
  notifier.notify(make_alert("bud_3"));
  notifier.notify(make_alert("bud_4"));
  CHECK(notifier.failed() == 2);

  run_until(ctx, [&] { return notifier.delivered() == 2; });
  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_3", "bud_4"});
  CHECK(notifier.failed() == 2);
}

TEST_CASE("WebhookNotifier honours Retry-After over its backoff", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{429, "Retry-After: 0\r\n", false}});
  auto options = fast_options(receiver->url("/hook"));
  // Without the receiver's figure the retry would wait up to an hour and the test would time out.
  options.backoff = 1h;
  options.max_backoff = 1h;
  WebhookNotifier notifier(ctx.get_executor(), options);

  notifier.notify(make_alert("bud_a"));
  notifier.notify(make_alert("bud_b"));
  run_until(ctx, [&] { return notifier.delivered() == 2; });

  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_a", "bud_a", "bud_b"});
  CHECK(notifier.failed() == 0);
}

TEST_CASE("WebhookNotifier caps Retry-After at max_backoff", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{503, "Retry-After: 86400\r\n", false}});
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hook")));

  notifier.notify(make_alert("bud_a"));
  run_until(ctx, [&] { return notifier.delivered() == 1; });

  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_a", "bud_a"});
}

TEST_CASE("WebhookNotifier keys each alert by budget, scope value, period and threshold", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx);
  WebhookNotifier notifier(ctx.get_executor(), fast_options(receiver->url("/hook")));

  notifier.notify(make_alert("bud_7", 0.75));
  notifier.notify(make_alert("bud_7", 0.75));  // the same crossing reported twice
  notifier.notify(make_alert("bud_7", 0.9));
  BudgetAlert next_period = make_alert("bud_7", 0.75);
  next_period.period_start = 1796083200000;
  notifier.notify(next_period);
  BudgetAlert other_team = make_alert("bud_7", 0.75);
  other_team.scope_id = "infra";
  notifier.notify(other_team);
  notifier.notify(make_alert("bud_8", 0.75));
  run_until(ctx, [&] { return notifier.delivered() == 6; });

  REQUIRE(receiver->seen.size() == 6);
  CHECK(receiver->seen[0].idempotency_key == receiver->seen[1].idempotency_key);
  std::set<std::string> distinct;
  for (const Seen& seen : receiver->seen) distinct.insert(seen.idempotency_key);
  CHECK(distinct.size() == 5);
}

TEST_CASE("WebhookNotifier stops retrying on drain and sends what is queued once", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{503, "", false}, {503, "", false}, {503, "", false}});
  auto options = fast_options(receiver->url("/hook"));
  options.backoff = 1h;
  options.max_backoff = 1h;
  WebhookNotifier notifier(ctx.get_executor(), options);
  LogCapture logs;
  auto work = asio::make_work_guard(ctx);
  std::thread io_thread([&] { ctx.run(); });

  notifier.notify(make_alert("bud_a"));
  notifier.notify(make_alert("bud_b"));
  // bud_a now waits an hour for its retry; drain must cut that short and send bud_b once.
  const bool waiting = logs.wait_for("retrying in");
  notifier.drain(5s);
  const auto failed = notifier.failed();
  const auto delivered = notifier.delivered();

  work.reset();
  ctx.stop();
  io_thread.join();
  REQUIRE(waiting);
  CHECK(failed == 2);
  CHECK(delivered == 0);
  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_a", "bud_b"});
  CHECK(logs.text().find("shutting down") != std::string::npos);
}

TEST_CASE("WebhookNotifier sends an alert that was in flight at drain once", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{503, "", false}, {503, "", false}});
  auto options = fast_options(receiver->url("/hook"));
  options.backoff = 1h;
  options.max_backoff = 1h;
  WebhookNotifier notifier(ctx.get_executor(), options);
  auto work = asio::make_work_guard(ctx);
  std::thread io_thread([&] { ctx.run(); });

  // Drained at once: each alert gets its one attempt whether or not it had started.
  notifier.notify(make_alert("bud_a"));
  notifier.notify(make_alert("bud_b"));
  notifier.drain(5s);
  const auto failed = notifier.failed();

  work.reset();
  ctx.stop();
  io_thread.join();
  CHECK(failed == 2);
  CHECK(budget_ids(*receiver) == std::vector<std::string>{"bud_a", "bud_b"});
}

TEST_CASE("WebhookNotifier drain drops what it could not send within the grace", "[webhook]") {
  asio::io_context ctx;  // never run: nothing can be sent
  WebhookNotifier notifier(ctx.get_executor(), fast_options("http://127.0.0.1:9/hook"));

  notifier.notify(make_alert("bud_a"));
  notifier.notify(make_alert("bud_b"));
  notifier.drain(0ms);

  CHECK(notifier.failed() == 2);
  CHECK(notifier.delivered() == 0);
}

TEST_CASE("WebhookNotifier logs the webhook's origin only, never its path or query", "[webhook]") {
  asio::io_context ctx;
  auto receiver = start_receiver(ctx, {{503, "", false}, {200, "", false}, {401, "", false}});
  const std::string url = receiver->url("/services/T000/B000/SECRETPATH?token=SECRETQUERY");
  WebhookNotifier notifier(ctx.get_executor(), fast_options(url));
  LogCapture logs;

  notifier.notify(make_alert("bud_ok"));
  notifier.notify(make_alert("bud_refused"));
  run_until(ctx, [&] { return notifier.delivered() + notifier.failed() == 2; });

  const std::string text = logs.text();
  const std::string origin = "http://127.0.0.1:" + std::to_string(receiver->acceptor.local_endpoint().port());
  CHECK(text.find(origin) != std::string::npos);
  CHECK(text.find("status 503") != std::string::npos);
  CHECK(text.find("status 401") != std::string::npos);
  CHECK(text.find("[error]") != std::string::npos);
  CHECK(text.find("SECRET") == std::string::npos);
  CHECK(text.find("/services") == std::string::npos);
}

TEST_CASE("WebhookNotifier refuses a URL it cannot post to without echoing it", "[webhook]") {
  asio::io_context ctx;
  auto options = fast_options("http://user:hunter2@example.com/hook");
  try {
    WebhookNotifier notifier(ctx.get_executor(), options);
    FAIL("a URL with userinfo was accepted");
  } catch (const tollgate::config::ConfigError& e) {
    CHECK(e.key_path() == "alerts.webhook");
    CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
  }
  options.url = "ftp://example.com/hook";
  CHECK_THROWS_AS(WebhookNotifier(ctx.get_executor(), options), tollgate::config::ConfigError);
}
