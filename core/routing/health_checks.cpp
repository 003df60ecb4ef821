// Active health checks: one-token pings per interval, outcomes into the breaker and the providers view.
#include "core/routing/health_checks.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/time_format.hpp"

namespace tollgate::core {

HealthChecker::HealthChecker(Fleet& fleet, config::HealthCheckConfig config, const Clock& clock)
    : fleet_(fleet), config_(config), clock_(clock) {}

boost::asio::awaitable<void> HealthChecker::check(DeploymentState& state) {
  Provider* provider = state.provider();
  if (provider == nullptr) co_return;
  const auto started = clock_.now();
  if (provider->unavailable_until(started)) co_return;  // every key resting or disabled: nothing to learn
  if (!state.breaker().try_acquire(started)) co_return;
  const nlohmann::json body = {{"model", state.upstream_model()},
                               {"messages", {{{"role", "user"}, {"content", "ping"}}}},
                               {"max_tokens", 1}};
  const AttemptTimeouts timeouts{config_.timeout, config_.timeout, config_.timeout, config_.timeout};
  state.started();
  AttemptResult result = co_await provider->call(UpstreamCall{body, state.upstream_model(), false, "health-check", timeouts});
  state.ended();
  const auto ended = clock_.now();
  DeploymentState::Check outcome;
  outcome.at_unix_ms = unix_now(clock_);
  outcome.latency_ms = std::chrono::duration<double, std::milli>(ended - started).count();
  if (result) {
    outcome.ok = true;
    state.breaker().record(true, ended);
  } else if (result.error().key_failure) {
    outcome.error = result.error().message;
    state.breaker().release(ended);
  } else {
    outcome.error = result.error().message;
    // A 4xx to a well-formed ping still means the deployment answers.
    outcome.ok = !result.error().retryable;
    state.breaker().record(outcome.ok, ended);
    if (!outcome.ok) spdlog::warn("health check of {} failed: {}", state.label(), outcome.error);
  }
  state.note_check(std::move(outcome));
}

boost::asio::awaitable<void> HealthChecker::check_all() {
  for (const auto& state : fleet_.all()) {
    if (stopped_.load()) co_return;
    co_await check(*state);
  }
}

boost::asio::awaitable<void> HealthChecker::run() {
  if (config_.interval.count() <= 0) co_return;
  auto timer = std::make_shared<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor);
  {
    std::lock_guard lock(mutex_);
    timer_ = timer;
  }
  while (!stopped_.load()) {
    co_await check_all();
    timer->expires_after(config_.interval);
    boost::system::error_code ec;
    co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

void HealthChecker::stop() {
  stopped_.store(true);
  std::lock_guard lock(mutex_);
  if (timer_) boost::asio::post(timer_->get_executor(), [timer = timer_] { timer->cancel(); });
}

}  // namespace tollgate::core
