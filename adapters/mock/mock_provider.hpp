// MockProvider: the built-in, in-process, deterministic provider for demos, tests and benchmarks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "core/provider.hpp"

namespace tollgate::adapters {

/// Answers without any network, scripted by the upstream model name (call.upstream_model):
///  - contains "slow":   waits 100 ms before answering and 100 ms between stream chunks (then
///                       behaves as the rest of the name says);
///  - contains "error":  AttemptError{kStatus, 500, retryable}, OpenAI-shaped server_error body;
///  - contains "429":    AttemptError{kStatus, 429, retryable, retry_after 1 s}, rate_limit_error body;
///  - contains "broken": unary: AttemptError{kConnect, "mock connection reset"}; stream: the role
///                       chunk and (at most) 2 content chunks, then next() fails (kUpstreamError
///                       "mock stream broken");
///  - otherwise echo:    the content is the last user message's text (string content, or the text
///                       parts of an array content joined by "\n"; "Hello from tollgate's mock
///                       provider." when there is none or it is empty), cut to
///                       max_completion_tokens / max_tokens words (finish_reason "length", else
///                       "stop"). Usage: prompt_tokens = max(1, bytes of all message texts / 4),
///                       completion_tokens = words emitted.
/// Embeddings (Operation::kEmbeddings): one unit vector per input (`dimensions` floats, default 16;
/// FNV-1a hashed words, so equal texts embed equally), in OpenAI's list shape, base64 when asked;
/// prompt_tokens = max(1, tollgate's input estimate).
/// Unary answers are chat.completion objects; streams are OpenAI's chunk sequence (role chunk,
/// one chunk per word, finish chunk, usage chunk with `choices: []`). Thread-safe.
class MockProvider final : public core::Provider {
 public:
  /// `clock` gives `created`; null means the system clock.
  explicit MockProvider(std::string id = "mock", std::shared_ptr<const core::Clock> clock = nullptr);

  std::string_view id() const noexcept override { return id_; }
  std::string_view type() const noexcept override { return "mock"; }

  boost::asio::awaitable<core::AttemptResult> call(core::UpstreamCall call) override;

 private:
  std::string id_;
  std::shared_ptr<const core::Clock> clock_;
  std::atomic<std::uint64_t> completions_{0};  // numbers the ids chatcmpl-mock-N
};

}  // namespace tollgate::adapters
