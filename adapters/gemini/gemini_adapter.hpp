// GeminiAdapter: Google's Gemini API (generateContent / streamGenerateContent) behind OpenAI's chat format.
#pragma once

#include <memory>
#include <string_view>

#include "adapters/adapter.hpp"

namespace tollgate::adapters {

/// The `gemini` provider type. Translates OpenAI chat requests into `generateContent` bodies and
/// Gemini responses (unary and SSE) back into chat.completion / chat.completion.chunk JSON.
/// Stateless and thread-safe; each stream gets its own decoder.
///
/// Gemini function calls carry no ids: the adapter names them "call_<n>" (n = the call's position
/// in the answer) unless Gemini sends an `id`, and maps a `tool` message back to its function by
/// looking up its `tool_call_id` among the assistant messages before it.
class GeminiAdapter final : public Adapter {
 public:
  std::string_view type() const noexcept override { return "gemini"; }

  /// POST {base_url}/models/{model}:generateContent, or :streamGenerateContent?alt=sse for a stream.
  /// base_url is like https://generativelanguage.googleapis.com/v1beta; a bare host (no path) gets
  /// /v1beta appended. `x-goog-api-key: KEY` only when a key is given. Messages become
  /// systemInstruction + contents, tools functionDeclarations, sampling fields generationConfig.
  /// A field Gemini cannot express is a 400 naming it; the few ignored ones are listed in the .cpp.
  core::Result<http::Request> encode(const core::UpstreamCall& call, const Endpoint& endpoint) const override;

  /// A GenerateContentResponse → chat.completion (one choice per candidate; a prompt blocked by
  /// promptFeedback is one empty choice with finish_reason content_filter); usageMetadata → usage.
  /// A body that is not a GenerateContentResponse is kUpstreamError.
  core::Result<Decoded> decode(std::string_view body, const core::UpstreamCall& call) const override;

  /// kStatus, retryable per is_retryable_status; Retry-After from the header or the body's
  /// google.rpc.RetryInfo; Google's {"error":{code,message,status}} rewritten into OpenAI's shape.
  /// A 400 API_KEY_INVALID is reported as status 401 so the key pool takes the key out of rotation.
  core::AttemptError classify(int status, const core::Headers& headers, std::string_view body) const override;

  /// kEmbeddings (see encode/decode): a string `input` → POST {base}/models/{model}:embedContent,
  /// an array of strings → :batchEmbedContents (one request per text, `dimensions` as
  /// outputDimensionality); token-id inputs and fields Gemini has no equivalent for are 400s. The
  /// answer becomes OpenAI's embeddings list, base64 when the client asked for it; Gemini reports
  /// no token counts, so the usage is tollgate's estimate.

  /// One text → POST {base}/models/{model}:embedContent (the semantic cache's provider embedder).
  core::Result<http::Request> encode_embedding(const core::EmbeddingCall& call, const Endpoint& endpoint) const override;
  /// `embedding.values` (or the first of `embeddings`) as floats; anything else is an upstream error.
  core::Result<std::vector<float>> decode_embedding(std::string_view body) const override;

  /// Each SSE event is one GenerateContentResponse. Gemini has no end marker: the event carrying
  /// finishReason (or a prompt block) ends the stream, and done() is true after it.
  std::unique_ptr<StreamDecoder> stream_decoder(const core::UpstreamCall& call) const override;
};

}  // namespace tollgate::adapters
