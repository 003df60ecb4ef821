// HttpProvider: a core::Provider that reaches a remote API through an Adapter and the UpstreamClient.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapters/adapter.hpp"
#include "adapters/http/upstream_client.hpp"
#include "config/config.hpp"
#include "core/identity/upstream_keys.hpp"
#include "core/provider.hpp"

namespace tollgate::adapters {

/// One configured HTTP provider: its adapter bound to its base URL and keys. Keys come from the
/// shared pool when one is given (config and API keys, round-robin), else from the config entry;
/// a provider without any key calls without credentials, one whose keys are all disabled fails
/// the attempt (retryably, so another deployment can answer). A pooled key the upstream answers
/// 401/403 to is disabled; one answered 429 rests until the upstream's Retry-After (or reset
/// headers) and is passed over meanwhile; when every key rests the attempt fails (retryably) at
/// once with the soonest end as its retry_after. Thread-safe: call() runs
/// concurrently from any strand. The client and the pool must outlive the provider.
class HttpProvider final : public core::Provider {
 public:
  /// `clock` times key cooldowns; null: the system clock.
  HttpProvider(config::ProviderConfig config, std::shared_ptr<const Adapter> adapter, http::UpstreamClient& client,
               core::UpstreamKeys* keys = nullptr, const core::Clock* clock = nullptr);

  std::string_view id() const noexcept override { return config_.id; }
  std::string_view type() const noexcept override { return config_.type; }

  /// Unary: the decoded 2xx body as Reply::json(200) with its usage. Stream: a Reply whose
  /// ChunkStream reads the upstream SSE body as it arrives (the head was 2xx). A non-2xx answer
  /// is classified by the adapter; a request the adapter cannot encode is a non-retryable 400;
  /// transport failures are the client's AttemptError (kConnect, kTimeout, kProtocol).
  boost::asio::awaitable<core::AttemptResult> call(core::UpstreamCall call) override;
  /// One embedding through the adapter's encode_embedding (openai: {base_url}/embeddings or Azure's
  /// deployment URL; gemini: embedContent), with the same key choice, 429 rests and refused-key
  /// handling as call().
  boost::asio::awaitable<core::EmbeddingResult> embed(core::EmbeddingCall call) override;
  /// From the shared key pool (resting and disabled keys); a provider without a pool never waits.
  std::optional<core::Clock::Steady::time_point> unavailable_until(core::Clock::Steady::time_point now) const override;

 private:
  /// The key for one attempt; `held` keeps a pooled key alive while its material is in use. nullopt
  /// when the pool has keys but none usable; `resting_until` then says when one is free, if known.
  std::optional<std::string_view> next_key(std::shared_ptr<const core::UpstreamKey>& held,
                                           std::optional<core::Clock::Steady::time_point>& resting_until) noexcept;
  /// Why no attempt can be made when next_key() found no key: every key rests (429, with when
  /// the first is free) or is disabled (503).
  core::AttemptError no_usable_key(std::optional<core::Clock::Steady::time_point> resting_until) const;
  /// A 401/403 answered to a pooled key: disables the key (error log, reason stored) and makes the
  /// attempt retryable, since another key or deployment may well succeed. Other errors as they are.
  core::AttemptError rejected_key(core::AttemptError error, const std::shared_ptr<const core::UpstreamKey>& key);
  /// Every answer to a pooled key: its rate-limit headers, and a 429's cooldown (logged).
  void observe(const std::shared_ptr<const core::UpstreamKey>& key, int status, const core::Headers& headers);

  config::ProviderConfig config_;
  std::shared_ptr<const Adapter> adapter_;
  http::UpstreamClient& client_;
  core::UpstreamKeys* keys_;
  const core::Clock& clock_;
  std::atomic<std::uint64_t> next_key_{0};
};

}  // namespace tollgate::adapters
