// HttpProvider: one upstream attempt over HTTP, and the ChunkStream that turns an SSE body into chunks.
#include "adapters/http_provider.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "adapters/sse_parser.hpp"
#include "core/error.hpp"
#include "core/time_format.hpp"

// g++ 12 inlines Asio's awaitable frame operator new/delete into call() and then reports them as
// mismatched: a known false positive for coroutine frames, silenced for this file only.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tollgate::adapters {
namespace {

using core::AttemptError;
using core::AttemptResult;
using core::FailureKind;

// Bytes after the end marker are read and dropped so the connection can be pooled; past this
// much it is cheaper to let the connection close.
constexpr std::size_t kMaxDrainBytes = 64u << 10;

AttemptResult failed(AttemptError error) { return AttemptResult(boost::system::in_place_error, std::move(error)); }

bool is_success(int status) noexcept { return status >= 200 && status < 300; }

core::GatewayError read_failure(const AttemptError& error) {
  return core::make_error(
      error.kind == FailureKind::kTimeout ? core::ErrorKind::kUpstreamTimeout : core::ErrorKind::kUpstreamError,
      error.message);
}

/// Pulls the upstream body as it arrives, cuts it into SSE events and hands each to the adapter's
/// decoder; chunks are returned as soon as their event completes. Owned and pulled by one
/// consumer on one strand; destroying it mid-way drops the connection (cancelling the upstream).
class HttpChunkStream final : public core::ChunkStream {
 public:
  /// `on_usage` (may be empty) sees the usage of each chunk that reports one.
  HttpChunkStream(std::unique_ptr<http::BodyReader> reader, std::unique_ptr<StreamDecoder> decoder,
                  std::function<void(const core::Usage&)> on_usage)
      : reader_(std::move(reader)), decoder_(std::move(decoder)), on_usage_(std::move(on_usage)) {}

  boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> next() override;
  bool ready() const noexcept override { return ready_pos_ < ready_.size(); }

 private:
  boost::asio::awaitable<void> drain();
  void decode(std::string_view bytes);

  std::unique_ptr<http::BodyReader> reader_;
  std::unique_ptr<StreamDecoder> decoder_;
  std::function<void(const core::Usage&)> on_usage_;
  SseParser parser_;
  std::vector<SseEvent> events_;
  std::vector<core::Chunk> ready_;  // decoded, not yet returned: ready_[ready_pos_..]
  std::size_t ready_pos_ = 0;
  std::optional<core::GatewayError> failure_;  // returned once the chunks before it are out
  bool finished_ = false;
};

boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> HttpChunkStream::next() {
  for (;;) {
    if (ready_pos_ < ready_.size()) {
      std::optional<core::Chunk> chunk{std::move(ready_[ready_pos_++])};
      if (chunk->usage && on_usage_) on_usage_(*chunk->usage);
      if (ready_pos_ == ready_.size()) {
        ready_.clear();
        ready_pos_ = 0;
      }
      co_return std::move(chunk);
    }
    if (failure_) co_return *failure_;
    if (finished_) co_return std::nullopt;
    if (decoder_->done()) {
      co_await drain();
      finished_ = true;
      co_return std::nullopt;
    }

    auto bytes = co_await reader_->read_some();
    if (!bytes) {
      failure_ = read_failure(bytes.error());
    } else if (!*bytes) {
      failure_ = core::make_error(core::ErrorKind::kUpstreamError, "upstream stream ended before [DONE]");
    } else {
      decode(**bytes);
    }
  }
}

void HttpChunkStream::decode(std::string_view bytes) {
  events_.clear();
  if (!parser_.feed(bytes, events_)) {
    failure_ = core::make_error(core::ErrorKind::kUpstreamError, "upstream stream event too large");
    return;
  }
  for (const SseEvent& event : events_) {
    auto fed = decoder_->feed(event, ready_);
    if (!fed) {
      failure_ = fed.error();
      return;
    }
    if (decoder_->done()) return;
  }
}

boost::asio::awaitable<void> HttpChunkStream::drain() {
  std::size_t drained = 0;
  while (drained <= kMaxDrainBytes) {
    auto bytes = co_await reader_->read_some();
    // A failure here only costs the connection its place in the pool: the stream is complete.
    if (!bytes || !*bytes) co_return;
    drained += (*bytes)->size();
  }
}

/// The clock of providers built without one.
const core::Clock& system_clock() {
  static const core::SystemClock clock;
  return clock;
}

}  // namespace

HttpProvider::HttpProvider(config::ProviderConfig config, std::shared_ptr<const Adapter> adapter,
                           http::UpstreamClient& client, core::UpstreamKeys* keys, const core::Clock* clock)
    : config_(std::move(config)), adapter_(std::move(adapter)), client_(client), keys_(keys),
      clock_(clock != nullptr ? *clock : system_clock()) {
  // "${OPENAI_API_KEY}" with the variable unset expands to "": that is no key, not an empty one.
  std::erase_if(config_.keys, [](const std::string& key) { return key.empty(); });
}

std::optional<std::string_view> HttpProvider::next_key(std::shared_ptr<const core::UpstreamKey>& held,
                                                       std::optional<core::Clock::Steady::time_point>& resting_until) noexcept {
  if (keys_ != nullptr) {
    auto choice = keys_->next(config_.id, clock_.now());
    resting_until = choice.available_at;
    if (!choice.key) return choice.provider_has_keys ? std::nullopt : std::optional<std::string_view>(std::string_view{});
    held = std::move(choice.key);
    return std::string_view(held->material);
  }
  if (config_.keys.empty()) return std::string_view{};
  const auto n = next_key_.fetch_add(1, std::memory_order_relaxed);
  return config_.keys[n % config_.keys.size()];
}

std::optional<core::Clock::Steady::time_point> HttpProvider::unavailable_until(core::Clock::Steady::time_point now) const {
  if (keys_ == nullptr) return std::nullopt;
  return keys_->unavailable_until(config_.id, now);
}

void HttpProvider::observe(const std::shared_ptr<const core::UpstreamKey>& key, int status,
                           const core::Headers& headers) {
  if (key == nullptr || keys_ == nullptr) return;
  const auto rest = keys_->observe(key->record.id, status, headers, clock_.now(), core::unix_now(clock_));
  if (rest)
    spdlog::warn("provider '{}': key {} ({}) answered 429; it rests for {} ms", config_.id, key->record.id,
                 key->record.fingerprint, rest->count());
}

AttemptError HttpProvider::rejected_key(AttemptError error, const std::shared_ptr<const core::UpstreamKey>& key) {
  if (key == nullptr || keys_ == nullptr || error.kind != FailureKind::kStatus) return error;
  if (error.status == 429) {
    // The key rests (observe()); another key of the pool may answer on the same deployment.
    error.key_failure = keys_->any_usable(config_.id, clock_.now());
    return error;
  }
  if (error.status != 401 && error.status != 403) return error;
  // The upstream refuses our credential, not the caller's request: take the key out of rotation
  // and let the attempt fail over to another key or deployment.
  const std::string reason = "the upstream answered " + std::to_string(error.status) + " (" +
                             error.message.substr(0, 200) + ")";
  if (keys_->disable(key->record.id, reason, core::unix_now(clock_)))
    spdlog::error("provider '{}': key {} ({}) disabled: {}", config_.id, key->record.id, key->record.fingerprint, reason);
  error.retryable = true;
  error.key_failure = keys_->any_usable(config_.id, clock_.now());
  error.body.clear();
  error.message = "key " + key->record.fingerprint + " rejected with " + std::to_string(error.status) + "; disabled";
  return error;
}

AttemptError HttpProvider::no_usable_key(std::optional<core::Clock::Steady::time_point> resting_until) const {
  if (resting_until) {
    const auto rest = std::chrono::ceil<std::chrono::seconds>(*resting_until - clock_.now());
    return AttemptError{.kind = FailureKind::kStatus,
                        .status = 429,
                        .retryable = true,
                        .message = "every key of provider '" + config_.id + "' is resting after a 429 (for " +
                                   std::to_string(std::max<std::int64_t>(rest.count(), 1)) + " s more)",
                        .body = {},
                        .retry_after = std::max(rest, std::chrono::seconds(1))};
  }
  return AttemptError{.kind = FailureKind::kStatus,
                      .status = 503,
                      .retryable = true,
                      .message = "every key of provider '" + config_.id + "' is disabled",
                      .body = {},
                      .retry_after = std::nullopt};
}

boost::asio::awaitable<core::EmbeddingResult> HttpProvider::embed(core::EmbeddingCall call) {
  using Result = core::EmbeddingResult;
  std::shared_ptr<const core::UpstreamKey> held_key;
  std::optional<core::Clock::Steady::time_point> resting_until;
  const auto key = next_key(held_key, resting_until);
  if (!key) co_return Result(boost::system::in_place_error, no_usable_key(resting_until));
  auto request = adapter_->encode_embedding(call, Endpoint{config_.base_url, *key});
  if (!request) {
    co_return Result(boost::system::in_place_error, AttemptError{.kind = FailureKind::kStatus,
                                                                 .status = 400,
                                                                 .retryable = false,
                                                                 .message = request.error().message,
                                                                 .body = {},
                                                                 .retry_after = std::nullopt});
  }
  auto response = co_await client_.send(std::move(*request), call.timeouts);
  if (!response) co_return Result(boost::system::in_place_error, response.error());
  observe(held_key, response->status, response->headers);
  if (!is_success(response->status)) {
    co_return Result(boost::system::in_place_error,
                     rejected_key(adapter_->classify(response->status, response->headers, response->body), held_key));
  }
  auto vector = adapter_->decode_embedding(response->body);
  if (!vector) {
    co_return Result(boost::system::in_place_error, AttemptError{.kind = FailureKind::kProtocol,
                                                                 .status = response->status,
                                                                 .retryable = true,
                                                                 .message = vector.error().message,
                                                                 .body = {},
                                                                 .retry_after = std::nullopt});
  }
  co_return Result(std::move(*vector));
}

boost::asio::awaitable<core::AttemptResult> HttpProvider::call(core::UpstreamCall call) {
  std::shared_ptr<const core::UpstreamKey> held_key;
  std::optional<core::Clock::Steady::time_point> resting_until;
  const auto key = next_key(held_key, resting_until);
  if (!key) co_return failed(no_usable_key(resting_until));
  const Endpoint endpoint{config_.base_url, *key};
  auto request = adapter_->encode(call, endpoint);
  if (!request) {
    const core::GatewayError error = request.error();
    co_return failed(AttemptError{.kind = FailureKind::kStatus,
                                  .status = 400,
                                  .retryable = false,
                                  .message = error.message,
                                  .body = core::to_openai_json(error),
                                  .retry_after = std::nullopt,
                                  .untranslatable = true});
  }
  // The request id travels upstream too, so one id traces a request through both logs.
  if (!call.request_id.empty()) request->headers.emplace_back("x-request-id", std::string(call.request_id));

  if (!call.stream) {
    auto response = co_await client_.send(std::move(*request), call.timeouts);
    if (!response) co_return failed(response.error());
    observe(held_key, response->status, response->headers);
    if (!is_success(response->status))
      co_return failed(rejected_key(adapter_->classify(response->status, response->headers, response->body), held_key));
    auto decoded = adapter_->decode(response->body, call);
    if (!decoded) {
      co_return failed(AttemptError{.kind = FailureKind::kProtocol,
                                    .status = response->status,
                                    .retryable = true,
                                    .message = decoded.error().message,
                                    .body = {},
                                    .retry_after = std::nullopt});
    }
    core::Reply reply = core::Reply::json(200, std::move(decoded->body));
    reply.usage = decoded->usage;
    if (held_key && reply.usage)
      keys_->charge_tokens(held_key->record.id, reply.usage->prompt_tokens + reply.usage->completion_tokens, clock_.now());
    co_return std::move(reply);
  }

  auto opened = co_await client_.open(std::move(*request), call.timeouts);
  if (!opened) co_return failed(opened.error());
  std::unique_ptr<http::BodyReader> reader = std::move(*opened);
  observe(held_key, reader->status(), reader->headers());
  if (!is_success(reader->status())) {
    auto body = co_await reader->read_all();
    const std::string_view text = body ? std::string_view(*body) : std::string_view();
    co_return failed(rejected_key(adapter_->classify(reader->status(), reader->headers(), text), held_key));
  }
  std::function<void(const core::Usage&)> on_usage;
  if (held_key && held_key->record.tpm.value_or(0) > 0) {
    // The key's tpm learns what the stream used once its usage chunk arrives.
    on_usage = [keys = keys_, id = held_key->record.id, &clock = clock_](const core::Usage& usage) {
      keys->charge_tokens(id, usage.prompt_tokens + usage.completion_tokens, clock.now());
    };
  }
  co_return core::Reply::chunks(
      std::make_unique<HttpChunkStream>(std::move(reader), adapter_->stream_decoder(call), std::move(on_usage)));
}

}  // namespace tollgate::adapters
