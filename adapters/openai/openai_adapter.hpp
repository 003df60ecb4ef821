// OpenAiAdapter: OpenAI's chat completions API (and every OpenAI-compatible server) — a passthrough.
#pragma once

#include <memory>
#include <string_view>

#include "adapters/adapter.hpp"

namespace tollgate::adapters {

/// The `openai` provider type. Requests and responses are already in OpenAI's shape, so the
/// adapter forwards them: unknown request fields travel untouched, response bodies and stream
/// chunks pass byte-identical. Stateless and thread-safe.
class OpenAiAdapter final : public Adapter {
 public:
  std::string_view type() const noexcept override { return "openai"; }

  /// POST {base_url}/chat/completions with the client's body, `model` replaced by the
  /// deployment's model; for a stream, `stream: true` and `stream_options.include_usage: true`
  /// (other stream_options fields kept). `authorization: Bearer KEY` only when a key is given.
  /// A body that is not a JSON object is a 400.
  core::Result<http::Request> encode(const core::UpstreamCall& call, const Endpoint& endpoint) const override;

  /// The body unchanged when it is a JSON object (else "upstream returned a malformed body"),
  /// with its `usage` read.
  core::Result<Decoded> decode(std::string_view body, const core::UpstreamCall& call) const override;

  /// kStatus; retryable per is_retryable_status; the body as is when it already is OpenAI's
  /// error shape, else wrapped into it; Retry-After (seconds) read.
  core::AttemptError classify(int status, const core::Headers& headers, std::string_view body) const override;

  /// POST {base_url}/embeddings {model, input, encoding_format: "float", dimensions (when asked)}.
  core::Result<http::Request> encode_embedding(const core::EmbeddingCall& call, const Endpoint& endpoint) const override;
  /// `data[0].embedding` as floats; anything else (no data, not numbers) is an upstream error.
  core::Result<std::vector<float>> decode_embedding(std::string_view body) const override;

  /// `[DONE]` ends the stream; every other event's data is one chunk, passed through. A chunk
  /// with a `usage` object sets Chunk.usage (usage_only when `choices` is empty); an event with
  /// a top-level `error` object is an in-band error (kUpstreamError).
  std::unique_ptr<StreamDecoder> stream_decoder(const core::UpstreamCall& call) const override;
};

}  // namespace tollgate::adapters
