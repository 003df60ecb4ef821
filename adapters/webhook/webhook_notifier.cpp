// WebhookNotifier: a bounded alert queue drained in order by one sender coroutine, with jittered retries.
#include "adapters/webhook/webhook_notifier.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/http/upstream_client.hpp"
#include "adapters/http/url.hpp"
#include "config/config_error.hpp"
#include "core/money/money.hpp"
#include "core/money/periods.hpp"
#include "core/security/tokens.hpp"
#include "core/time_format.hpp"

namespace tollgate::adapters {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// The receiver's answer is not read for anything; a bigger one is a misbehaving receiver.
constexpr std::uint64_t kMaxResponseBytes = 1u << 20;
// Longer Retry-After figures are nonsense; they are capped at max_backoff anyway.
constexpr std::size_t kMaxRetryAfterDigits = 9;

std::string threshold_text(double threshold) { return nlohmann::json(threshold).dump(); }

/// One attempt's outcome.
struct Outcome {
  enum class Kind { kDelivered, kRetry, kGiveUp } kind = Kind::kGiveUp;
  std::string what;  // "status 503", or the client's message (names host:port at most)
  std::optional<milliseconds> retry_after;
};

std::optional<milliseconds> parse_retry_after(const core::Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name != "retry-after") continue;
    std::string_view text = value;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    // Only delay-seconds: an HTTP-date falls back to the backoff.
    if (text.empty() || text.size() > kMaxRetryAfterDigits) return std::nullopt;
    std::int64_t seconds = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      seconds = seconds * 10 + (c - '0');
    }
    return std::chrono::seconds(seconds);
  }
  return std::nullopt;
}

Outcome classify(const http::ClientResult<http::Response>& result) {
  if (!result) return {Outcome::Kind::kRetry, result.error().message, std::nullopt};
  const int status = result->status;
  std::string what = "status " + std::to_string(status);
  if (status >= 200 && status < 300) return {Outcome::Kind::kDelivered, std::move(what), std::nullopt};
  if (status == 408 || status == 429 || status >= 500) {
    return {Outcome::Kind::kRetry, std::move(what), parse_retry_after(result->headers)};
  }
  return {Outcome::Kind::kGiveUp, std::move(what), std::nullopt};
}

nlohmann::json alert_body(const core::BudgetAlert& alert) {
  const bool endless = alert.period == "total" || alert.period_end == core::kEndOfTime;
  return nlohmann::json{
      {"type", "budget.threshold"},
      {"budget",
       {{"id", alert.budget_id},
        {"name", alert.budget_name},
        {"scope", alert.scope},
        {"scope_id", alert.scope_id},
        {"period", alert.period},
        {"period_start", core::format_rfc3339(alert.period_start)},
        {"period_end", endless ? nlohmann::json(nullptr) : nlohmann::json(core::format_rfc3339(alert.period_end))},
        {"enforcement", alert.enforcement}}},
      {"spend_usd", core::format_usd(alert.spend)},
      {"limit_usd", core::format_usd(alert.limit)},
      {"threshold", alert.threshold},
      {"utilization", alert.limit > 0 ? nlohmann::json(static_cast<double>(alert.spend) / static_cast<double>(alert.limit))
                                      : nlohmann::json(nullptr)},
      {"at", core::format_rfc3339(alert.at)},
  };
}

std::string idempotency_key(const core::BudgetAlert& alert) {
  // NUL-separated so that ("a", "bc") and ("ab", "c") cannot collide.
  std::string material = alert.budget_id;
  material += '\0';
  material += alert.scope_id;
  material += '\0';
  material += std::to_string(alert.period_start);
  material += '\0';
  material += threshold_text(alert.threshold);
  return core::sha256_hex(material);
}

http::Url parse_webhook_url(const std::string& text) {
  auto parsed = http::parse_url(text);
  if (!parsed) throw config::ConfigError("", "alerts.webhook", "not a usable webhook URL: " + parsed.error().message);
  return std::move(*parsed);
}

}  // namespace

/// Everything the sender coroutine and the public methods share; the coroutine holds a reference,
/// so it outlives the notifier while an attempt is in flight.
struct WebhookNotifier::State {
  State(asio::any_io_executor executor, Options opts, http::Url parsed)
      : options(std::move(opts)),
        url(std::move(parsed)),
        strand(asio::make_strand(executor)),
        timer(strand),
        client(executor, http::UpstreamClient::Options{.max_idle_per_origin = 1,
                                                       .pool_idle_timeout = milliseconds{30'000},
                                                       .max_response_bytes = kMaxResponseBytes,
                                                       .ca_file = {}}),
        random(std::random_device{}()) {}

  const Options options;
  const http::Url url;  // url.origin() is what logs show

  std::mutex mutex;
  std::condition_variable idle;  // signalled when the sender stops with the queue empty
  std::deque<core::BudgetAlert> queue;
  bool sender_running = false;
  bool draining = false;   // no more retries
  bool abandoned = false;  // the notifier is gone: send nothing more
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failed{0};

  // Used on the strand only.
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;  // the wait before a retry
  http::UpstreamClient client;
  std::mt19937_64 random;

  /// Full jitter: uniform in [0, min(max_backoff, backoff × 2^(failures-1))].
  milliseconds backoff_after(int failures) {
    const milliseconds cap = std::max(options.max_backoff, milliseconds{0});
    milliseconds ceiling = std::min(std::max(options.backoff, milliseconds{0}), cap);
    for (int i = 1; i < failures && ceiling < cap; ++i) ceiling = std::min(ceiling * 2, cap);
    std::uniform_int_distribution<milliseconds::rep> pick(0, ceiling.count());
    return milliseconds{pick(random)};
  }

  bool may_retry() {
    std::lock_guard lock(mutex);
    return !draining && !abandoned;
  }

  void give_up(const core::BudgetAlert& alert, int attempts, const std::string& why) {
    failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("webhook: budget alert {} at {} given up after {} attempt(s) to {}: {}", alert.budget_id,
                 threshold_text(alert.threshold), attempts, url.origin(), why);
  }
};

namespace {

using State = WebhookNotifier::State;

http::Request build_request(const State& state, const core::BudgetAlert& alert) {
  http::Request request;
  request.method = "POST";
  request.url = state.options.url;
  request.headers.emplace_back("content-type", "application/json");
  request.headers.emplace_back("user-agent", "tollgate");
  request.headers.emplace_back("idempotency-key", idempotency_key(alert));
  // Budget names and scope values come from admin input: invalid UTF-8 is replaced, not thrown on.
  request.body = alert_body(alert).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return request;
}

/// Sends one alert until it is delivered, refused, out of attempts or the notifier drains.
asio::awaitable<void> send_alert(std::shared_ptr<State> state, core::BudgetAlert alert) {
  const http::Request request = build_request(*state, alert);
  const core::AttemptTimeouts timeouts{.connect = state->options.timeout,
                                       .first_byte = state->options.timeout,
                                       .total = state->options.timeout,
                                       .stream_idle = state->options.timeout};
  const int max_attempts = std::max(state->options.max_attempts, 1);
  for (int attempt = 1;; ++attempt) {
    auto result = co_await state->client.send(request, timeouts);
    Outcome outcome = classify(result);
    if (outcome.kind == Outcome::Kind::kDelivered) {
      state->delivered.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("webhook: budget alert {} at {} delivered to {} ({}, attempt {})", alert.budget_id,
                   threshold_text(alert.threshold), state->url.origin(), outcome.what, attempt);
      co_return;
    }
    if (outcome.kind == Outcome::Kind::kGiveUp) {
      state->failed.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("webhook: budget alert {} at {} refused by {} ({}, attempt {}); not retried", alert.budget_id,
                    threshold_text(alert.threshold), state->url.origin(), outcome.what, attempt);
      co_return;
    }
    if (attempt >= max_attempts) {
      state->give_up(alert, attempt, outcome.what);
      co_return;
    }
    if (!state->may_retry()) {
      state->give_up(alert, attempt, outcome.what + "; shutting down");
      co_return;
    }
    // The receiver's own figure wins over the jittered backoff, within the operator's ceiling.
    const milliseconds delay = outcome.retry_after
                                   ? std::min(*outcome.retry_after, std::max(state->options.max_backoff, milliseconds{0}))
                                   : state->backoff_after(attempt);
    spdlog::info("webhook: budget alert {} at {} to {} failed ({}, attempt {}/{}); retrying in {} ms", alert.budget_id,
                 threshold_text(alert.threshold), state->url.origin(), outcome.what, attempt, max_attempts,
                 delay.count());
    state->timer.expires_after(delay);
    co_await state->timer.async_wait(kTok);
    if (!state->may_retry()) {
      state->give_up(alert, attempt, outcome.what + "; shutting down");
      co_return;
    }
  }
}

/// The one sender: takes alerts in order until the queue is empty, then ends (notify starts a
/// new one). Runs on the state's strand.
asio::awaitable<void> run_sender(std::shared_ptr<State> state) {
  for (;;) {
    std::optional<core::BudgetAlert> alert;
    {
      std::lock_guard lock(state->mutex);
      if (state->abandoned || state->queue.empty()) {
        state->sender_running = false;
        state->idle.notify_all();
        co_return;
      }
      alert.emplace(std::move(state->queue.front()));
      state->queue.pop_front();
    }
    co_await send_alert(state, std::move(*alert));
  }
}

void start_sender(const std::shared_ptr<State>& state) {
  asio::co_spawn(state->strand, run_sender(state), [state](std::exception_ptr failure) {
    if (!failure) return;
    // Only a bug or memory exhaustion gets here; a later notify() starts a new sender.
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      spdlog::error("webhook: the alert sender failed: {}", e.what());
    } catch (...) {
      spdlog::error("webhook: the alert sender failed");
    }
    std::lock_guard lock(state->mutex);
    state->sender_running = false;
    state->idle.notify_all();
  });
}

void cancel_wait(const std::shared_ptr<State>& state) {
  asio::post(state->strand, [state] { state->timer.cancel(); });
}

}  // namespace

WebhookNotifier::WebhookNotifier(asio::any_io_executor executor, Options options) {
  http::Url url = parse_webhook_url(options.url);
  state_ = std::make_shared<State>(std::move(executor), std::move(options), std::move(url));
}

WebhookNotifier::~WebhookNotifier() {
  std::size_t dropped = 0;
  {
    std::lock_guard lock(state_->mutex);
    state_->abandoned = true;
    dropped = state_->queue.size();
    state_->queue.clear();
  }
  state_->failed.fetch_add(dropped, std::memory_order_relaxed);
  if (dropped > 0) spdlog::warn("webhook: {} budget alert(s) abandoned unsent to {}", dropped, state_->url.origin());
  cancel_wait(state_);
}

void WebhookNotifier::notify(core::BudgetAlert alert) {
  std::optional<core::BudgetAlert> dropped;
  bool start = false;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->queue.size() >= std::max<std::size_t>(state_->options.max_queue, 1)) {
      dropped.emplace(std::move(state_->queue.front()));
      state_->queue.pop_front();
    }
    state_->queue.push_back(std::move(alert));
    if (!state_->sender_running && !state_->abandoned) {
      state_->sender_running = true;
      start = true;
    }
  }
  if (dropped) {
    state_->failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("webhook: queue full ({} alerts); budget alert {} at {} dropped unsent", state_->options.max_queue,
                  dropped->budget_id, threshold_text(dropped->threshold));
  }
  if (start) start_sender(state_);
}

void WebhookNotifier::drain(milliseconds grace) {
  {
    std::lock_guard lock(state_->mutex);
    state_->draining = true;
  }
  cancel_wait(state_);
  std::size_t dropped = 0;
  {
    std::unique_lock lock(state_->mutex);
    const bool idle = state_->idle.wait_for(lock, grace, [&] { return !state_->sender_running; });
    if (!idle) {
      dropped = state_->queue.size();
      state_->queue.clear();
    }
  }
  state_->failed.fetch_add(dropped, std::memory_order_relaxed);
  if (dropped > 0) {
    spdlog::warn("webhook: {} budget alert(s) not sent to {} within the {} ms shutdown grace", dropped,
                 state_->url.origin(), grace.count());
  }
}

std::uint64_t WebhookNotifier::delivered() const noexcept { return state_->delivered.load(std::memory_order_relaxed); }

std::uint64_t WebhookNotifier::failed() const noexcept { return state_->failed.load(std::memory_order_relaxed); }

}  // namespace tollgate::adapters
