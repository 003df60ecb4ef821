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
#include "core/provider.hpp"

namespace tollgate::adapters {

/// One configured HTTP provider: its adapter bound to its base URL and keys. Keys are used
/// round-robin across attempts; a provider without keys calls without credentials. Thread-safe:
/// call() runs concurrently from any strand. The client must outlive the provider.
class HttpProvider final : public core::Provider {
 public:
  HttpProvider(config::ProviderConfig config, std::shared_ptr<const Adapter> adapter, http::UpstreamClient& client);

  std::string_view id() const noexcept override { return config_.id; }
  std::string_view type() const noexcept override { return config_.type; }

  /// Unary: the decoded 2xx body as Reply::json(200) with its usage. Stream: a Reply whose
  /// ChunkStream reads the upstream SSE body as it arrives (the head was 2xx). A non-2xx answer
  /// is classified by the adapter; a request the adapter cannot encode is a non-retryable 400;
  /// transport failures are the client's AttemptError (kConnect, kTimeout, kProtocol).
  boost::asio::awaitable<core::AttemptResult> call(core::UpstreamCall call) override;

 private:
  std::string_view next_key() noexcept;

  config::ProviderConfig config_;
  std::shared_ptr<const Adapter> adapter_;
  http::UpstreamClient& client_;
  std::atomic<std::uint64_t> next_key_{0};
};

}  // namespace tollgate::adapters
