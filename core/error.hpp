// Gateway errors: one table maps each kind to its HTTP status, OpenAI type/code and retryability.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::core {

/// Every way a request can fail that tollgate itself reports. Each maps to exactly one row of
/// the table in error.cpp; a test walks every enumerator.
enum class ErrorKind {
  kInvalidRequest,       // 400: malformed JSON, wrong field types, bad HTTP framing
  kInvalidApiKey,        // 401
  kModelNotAllowed,      // 403
  kModelNotFound,        // 404 model_not_found
  kRouteNotFound,        // 404 unknown path
  kMethodNotAllowed,     // 405
  kResourceNotFound,     // 404 an admin resource (key, virtual key) that does not exist
  kConflict,             // 409 the resource cannot change that way (e.g. a key from the config file)
  kRequestTooLarge,      // 413
  kHeadersTooLarge,      // 431
  kRateLimited,          // 429 rate_limit_exceeded
  kBudgetExceeded,       // 429 insufficient_quota / budget_exceeded
  kUpstreamError,        // 502 every attempt failed
  kNoHealthyDeployment,  // 503
  kShuttingDown,         // 503 the server is draining
  kUpstreamTimeout,      // 504
  kInternal,             // 500 a bug; the message stays generic
};
inline constexpr int kErrorKindCount = 17;

/// The static facts of one ErrorKind.
struct ErrorInfo {
  int status;
  std::string_view type;  // OpenAI error.type
  std::string_view code;  // OpenAI error.code; empty means null
  bool retryable;         // may the client retry the same request later
};

const ErrorInfo& error_info(ErrorKind kind) noexcept;

/// An expected failure: what the client is told (message is client-safe, never a secret).
struct GatewayError {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  std::string param;                                  // offending field, empty means null
  std::optional<std::chrono::seconds> retry_after{};  // sets Retry-After when present

  const ErrorInfo& info() const noexcept { return error_info(kind); }
};

GatewayError make_error(ErrorKind kind, std::string message, std::string param = {});

/// OpenAI's error body: {"error": {"message", "type", "param", "code"}}.
std::string to_openai_json(const GatewayError& error);

}  // namespace tollgate::core
