// AnthropicAdapter: OpenAI chat completions ↔ Anthropic's Messages API (/v1/messages).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "adapters/adapter.hpp"

namespace tollgate::adapters {

/// The `anthropic` provider type. Translates OpenAI chat requests into Messages API requests and
/// Messages responses, errors and SSE events back into OpenAI's shapes. Stateless and thread-safe.
class AnthropicAdapter final : public Adapter {
 public:
  /// Sent as `anthropic-version`.
  static constexpr std::string_view kApiVersion = "2023-06-01";
  /// `max_tokens` when the client gives neither max_tokens nor max_completion_tokens (Anthropic
  /// requires it).
  static constexpr std::int64_t kDefaultMaxTokens = 4096;

  std::string_view type() const noexcept override { return "anthropic"; }

  /// POST {base_url}/v1/messages, or {base_url}/messages when base_url already ends in /v1;
  /// `x-api-key` only when a key is given, `anthropic-version: 2023-06-01`. System/developer
  /// messages become `system`; image parts, tools, tool_choice, assistant tool_calls and tool
  /// results become Anthropic content blocks. A JSON `response_format` (json_object, or json_schema
  /// with an object schema) becomes one forced tool, `json_response`, whose input is the answer (not
  /// together with the client's own tools: a 400). A parameter Anthropic cannot express (or outside
  /// its range) is a 400 naming it; the harmless ones dropped are listed in the .cpp.
  core::Result<http::Request> encode(const core::UpstreamCall& call, const Endpoint& endpoint) const override;

  /// A Messages API `message` → chat.completion (text joined, tool_use → tool_calls,
  /// stop_reason → finish_reason, usage with cache reads as cached_tokens). For a JSON
  /// response_format the `json_response` tool's input is the content, finish_reason stop. `created` is the
  /// decode time (Anthropic sends none). Anything else is an upstream error.
  core::Result<Decoded> decode(std::string_view body, const core::UpstreamCall& call) const override;

  /// kStatus; retryable per is_retryable_status (429 rate_limit_error and 529 overloaded_error
  /// are, 400 invalid_request_error is not); Retry-After read; Anthropic's
  /// {"type":"error","error":{type,message}} rewritten into OpenAI's error shape with the same
  /// type and message; "prompt is too long" marks a context overflow.
  core::AttemptError classify(int status, const core::Headers& headers, std::string_view body) const override;

  /// message_start → role chunk; text and input_json_delta deltas → content / tool-call chunks
  /// (one OpenAI tool-call index per tool_use block, in order; the `json_response` tool's
  /// arguments of a JSON response_format stream as content); message_delta → finish chunk;
  /// message_stop → usage-only chunk and done. ping, thinking blocks and unknown events are
  /// ignored; an `error` event is a kUpstreamError.
  std::unique_ptr<StreamDecoder> stream_decoder(const core::UpstreamCall& call) const override;
};

}  // namespace tollgate::adapters
