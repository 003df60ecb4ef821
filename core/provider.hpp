// Provider: how the failover executor reaches one configured upstream provider.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/pipeline/reply.hpp"

namespace tollgate::core {

/// How an attempt failed, for retry decisions and the attempt list in a 502.
enum class FailureKind {
  kConnect,   // DNS, TCP, TLS handshake or certificate failure; reset before a response
  kTimeout,   // connect, first byte, idle or total deadline passed
  kStatus,    // the upstream answered a non-2xx status
  kProtocol,  // the upstream answered something that is not its wire format
};

/// One failed attempt. `message` is safe to show the client and to log: no keys, no prompts.
struct AttemptError {
  FailureKind kind = FailureKind::kConnect;
  int status = 0;          // upstream HTTP status for kStatus
  bool retryable = true;   // may another deployment (or key) be tried
  std::string message;
  std::string body;        // for a non-retryable kStatus: the error body to return, in OpenAI's shape
  std::optional<std::chrono::seconds> retry_after;  // the upstream's Retry-After
  bool context_overflow = false;  // a 400 saying the prompt exceeds the model's context window
  bool key_failure = false;  // the upstream refused this attempt's key (401/403/429): another key of
                             // the same provider may well succeed on the same deployment
  bool untranslatable = false;  // nothing was sent: this provider cannot express the request (a field
                                // its API lacks, embeddings on a chat-only API); another deployment may
};

/// True for the statuses worth trying elsewhere: 408, 409, 429 and 5xx. Other 4xx are the
/// request's own fault and are returned as they are.
bool is_retryable_status(int status) noexcept;

/// Deadlines of one attempt.
struct AttemptTimeouts {
  std::chrono::milliseconds connect{10'000};
  std::chrono::milliseconds first_byte{60'000};   // response head (and first chunk of a stream)
  std::chrono::milliseconds total{120'000};       // unary: start to last byte
  std::chrono::milliseconds stream_idle{60'000};  // stream: between two chunks
};

/// What an attempt asks of the upstream: a chat completion (POST /v1/chat/completions) or
/// embeddings (POST /v1/embeddings; never streamed).
enum class Operation { kChat, kEmbeddings };

/// What the executor asks one deployment to do. References stay valid for the whole call and,
/// for a stream, for the stream's life (the RequestContext owns them).
struct UpstreamCall {
  const nlohmann::json& body;      // the client's request, as parsed
  std::string_view upstream_model; // the deployment's model
  bool stream = false;
  std::string_view request_id;
  AttemptTimeouts timeouts;
  Operation operation = Operation::kChat;
};

using AttemptResult = boost::system::result<Reply, AttemptError>;

/// One text to embed with a deployment's embedding model (the semantic cache's provider embedder).
struct EmbeddingCall {
  std::string_view upstream_model;
  std::string_view input;
  std::optional<std::size_t> dimensions;  // asked of models that can shorten their vectors
  AttemptTimeouts timeouts;
};

/// The embedding as the provider returned it (not normalised), or why there is none.
using EmbeddingResult = boost::system::result<std::vector<float>, AttemptError>;

/// Called by boost::system::result::value() on an AttemptError; found by ADL.
[[noreturn]] void throw_exception_from_error(const AttemptError& e, const boost::source_location& loc);

/// One configured provider (an adapter bound to its base URL, keys and the HTTP client).
/// Called from any connection strand, concurrently; implementations are thread-safe.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view id() const noexcept = 0;    // config id, e.g. "openai"
  virtual std::string_view type() const noexcept = 0;  // openai|anthropic|gemini|mock
  /// False when this build cannot call the provider at all (no adapter for its type yet): the
  /// router then leaves its deployments out of every plan.
  virtual bool available() const noexcept { return true; }
  /// When the provider can take an attempt, as far as its keys tell at `now`: nullopt when it can
  /// now (a usable key, or it needs none); else when its first resting key is free, or
  /// Clock::Steady::time_point::max() when every key is disabled.
  virtual std::optional<Clock::Steady::time_point> unavailable_until(Clock::Steady::time_point) const {
    return std::nullopt;
  }
  /// Sends one attempt. Success is a buffered 2xx reply in OpenAI's chat.completion shape (for
  /// kEmbeddings: OpenAI's embeddings list) with `usage` filled when known, or, for `stream`, a
  /// reply whose ChunkStream has not been pulled yet (the response head was 2xx). Every failure
  /// is an AttemptError; never throws for I/O.
  virtual boost::asio::awaitable<AttemptResult> call(UpstreamCall call) = 0;
  /// One embedding from the provider's embeddings endpoint. Default: this provider cannot embed
  /// (a non-retryable error). Never throws for I/O.
  virtual boost::asio::awaitable<EmbeddingResult> embed(EmbeddingCall call);
};

}  // namespace tollgate::core
