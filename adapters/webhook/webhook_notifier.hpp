// WebhookNotifier: budget alerts posted as JSON to the operator's webhook, queued and retried off the request path.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "core/money/alerts.hpp"

namespace tollgate::adapters {

/// Posts each alert as JSON to a webhook URL, off the request path: notify() appends to a bounded
/// queue (max_queue, the oldest dropped with an error log when full) and returns; one sender
/// coroutine on `executor` posts them in order with retries.
///
/// The body is {"type": "budget.threshold", "budget": {id, name, scope, scope_id, period,
/// period_start, period_end (null for total), enforcement}, "spend_usd", "limit_usd" (exact decimal
/// strings), "threshold", "utilization" (numbers; utilization is null for a zero limit), "at"};
/// times are RFC 3339. Every attempt of one alert carries the same `idempotency-key` (a hash of
/// budget id, scope id, period start and threshold), so a receiver can drop retried duplicates.
///
/// An attempt is retried (up to max_attempts in all) after a connect error, a timeout, a protocol
/// error, 408, 429 or 5xx; other statuses give up at once. Logs name the webhook by its origin
/// (scheme://host:port) only: chat webhooks carry their token in the path or query.
class WebhookNotifier final : public core::AlertSink {
 public:
  struct Options {
    std::string url;  // http:// or https://
    int max_attempts = 5;
    std::chrono::milliseconds backoff{500};  // doubling, full jitter, capped at max_backoff
    std::chrono::milliseconds max_backoff{30'000};  // also caps a Retry-After the receiver asks for
    std::chrono::milliseconds timeout{10'000};      // per attempt
    std::size_t max_queue = 1000;
  };

  /// Throws config::ConfigError (key path alerts.webhook) when `options.url` is not an absolute
  /// http(s) URL without userinfo; the message never echoes the URL.
  WebhookNotifier(boost::asio::any_io_executor executor, Options options);
  /// Abandons what is still queued (counted as failed); an attempt in flight ends within its timeout.
  ~WebhookNotifier() override;
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  /// Thread-safe, never blocks on I/O, never throws for a full queue (the oldest alert is dropped
  /// and counted as failed). After drain() alerts are still sent, each once.
  void notify(core::BudgetAlert alert) override;

  /// Stops retrying and waits up to `grace` for what is queued to be sent once (shutdown): an
  /// alert waiting for its retry is given up, each queued one gets one attempt. What is still
  /// queued when `grace` runs out is dropped (counted as failed). Blocks the calling thread, so it
  /// must be called while the executor runs on other threads (never on one of them).
  void drain(std::chrono::milliseconds grace);

  /// For tests and metrics: alerts delivered (2xx), given up (including dropped ones).
  std::uint64_t delivered() const noexcept;
  std::uint64_t failed() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tollgate::adapters
