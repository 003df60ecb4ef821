// Active health checks: a cheap call to every deployment per interval, feeding its breaker.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/routing/fleet.hpp"

namespace tollgate::core {

/// routing.health_check: every `interval`, each deployment gets one chat completion of one output
/// token ("ping"), with `timeout` for each of its deadlines. The result is shown in
/// /api/v1/providers (last_check) and counts in the deployment's circuit breaker like a request:
/// an open circuit whose cool-off has passed is probed by the check rather than by a caller, a
/// failing deployment opens its circuit before callers meet it. A check that the breaker does not
/// admit (open, probe already running) is skipped. Off (never started) when interval is 0.
/// Each check costs a few tokens on a paid deployment; it is not written to the ledger.
class HealthChecker {
 public:
  HealthChecker(Fleet& fleet, config::HealthCheckConfig config, const Clock& clock);

  /// Checks every deployment once, one after the other.
  boost::asio::awaitable<void> check_all();
  /// Runs check_all() every interval until stop(). Start it with co_spawn on the server's executor.
  boost::asio::awaitable<void> run();
  /// Ends run() at its next wake-up (and at once when it is waiting). Thread-safe.
  void stop();

 private:
  boost::asio::awaitable<void> check(DeploymentState& state);

  Fleet& fleet_;
  config::HealthCheckConfig config_;
  const Clock& clock_;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;  // guards timer_
  std::shared_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace tollgate::core
