// OpenAiAdapter: OpenAI's chat completions API (and every OpenAI-compatible server) — a passthrough.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.hpp"
#include "adapters/openai/flavors.hpp"
#include "config/config.hpp"

namespace tollgate::adapters {

/// What an OpenAiAdapter is bound to besides its flavour's table row.
struct OpenAiOptions {
  const Flavor* flavor = nullptr;  // null: plain OpenAI
  std::string api_version;         // azure: the api-version query value (empty: config::kAzureDefaultApiVersion)
  core::Headers headers;           // extra static headers sent with every request (never credentials)
};

/// The `openai` provider type: OpenAI and every OpenAI-compatible server. Requests and responses
/// are already in OpenAI's shape, so the adapter forwards them: unknown request fields travel
/// untouched, response bodies and stream chunks pass byte-identical. What a service does
/// differently (URL, auth header, renamed or refused fields, where a stream's usage is) comes from
/// its row of the flavour table (adapters/openai/flavors.hpp), never from a subclass. Immutable
/// after construction, so thread-safe.
class OpenAiAdapter final : public Adapter {
 public:
  /// Plain OpenAI.
  OpenAiAdapter();
  explicit OpenAiAdapter(OpenAiOptions options);

  /// The adapter for one `openai`-type provider (its flavor, api_version and headers); null when
  /// the flavor names no row of the table (the config validation refuses that earlier).
  static std::shared_ptr<const OpenAiAdapter> for_provider(const config::ProviderConfig& provider);

  std::string_view type() const noexcept override { return "openai"; }
  const Flavor& flavor() const noexcept { return *flavor_; }

  /// kChat: POST {base_url}/chat/completions (Azure: the deployment URL with api-version) with the
  /// client's body, `model` replaced by the deployment's model, the flavour's renames applied and
  /// its harmless drops left out; for a stream, `stream: true` and (unless the flavour always sends
  /// usage and refuses stream_options) `stream_options.include_usage: true`, other stream_options
  /// fields kept. A field the flavour refuses is a 400 naming it (param = the field), as is a
  /// renamed field sent together with its new name at a different value.
  /// kEmbeddings: POST {base_url}/embeddings (Azure: deployment form) with the client's body,
  /// `model` replaced, the flavour's embedding renames applied; a flavour without embeddings is a
  /// 400 saying so. Credentials: `authorization: Bearer KEY` (Azure: `api-key: KEY`) only when a
  /// key is given; then the configured extra headers. A body that is not a JSON object is a 400.
  core::Result<http::Request> encode(const core::UpstreamCall& call, const Endpoint& endpoint) const override;

  /// kChat: the body unchanged when it is a JSON object (else "upstream returned a malformed
  /// body"), with its `usage` read (and the flavour's usage fields, e.g. DeepSeek's
  /// prompt_cache_hit_tokens as cached_tokens). kEmbeddings: the body unchanged when it is a JSON
  /// object with a `data` array (else "upstream returned a malformed embeddings body"), usage from
  /// usage.prompt_tokens (completion 0).
  core::Result<Decoded> decode(std::string_view body, const core::UpstreamCall& call) const override;

  /// kStatus; retryable per is_retryable_status; the body as is when it already is OpenAI's
  /// error shape, else wrapped into it (Cloudflare: with errors[0].message); Retry-After read.
  core::AttemptError classify(int status, const core::Headers& headers, std::string_view body) const override;

  /// POST {base_url}/embeddings (Azure: deployment form) {model, input, encoding_format: "float",
  /// dimensions (when asked; renamed per flavour)}; a flavour without embeddings is an error.
  core::Result<http::Request> encode_embedding(const core::EmbeddingCall& call, const Endpoint& endpoint) const override;
  /// `data[0].embedding` as floats; anything else (no data, not numbers) is an upstream error.
  core::Result<std::vector<float>> decode_embedding(std::string_view body) const override;

  /// `[DONE]` ends the stream; every other event's data is one chunk, passed through. A chunk
  /// with a `usage` object sets Chunk.usage (usage_only when `choices` is empty; a flavour that
  /// puts usage on its last content chunk gets it there); an event with a top-level `error`
  /// object is an in-band error (kUpstreamError). Groq: usage found only in x_groq.usage is
  /// returned at [DONE] as a usage-only chunk in OpenAI's shape.
  std::unique_ptr<StreamDecoder> stream_decoder(const core::UpstreamCall& call) const override;

 private:
  core::Result<http::Request> encode_embeddings(const core::UpstreamCall& call, const Endpoint& endpoint) const;
  /// {base}/{path} or, for Azure, {base}/openai/deployments/{model}/{path}?api-version=V.
  std::string url_for(std::string_view base, std::string_view model, std::string_view path) const;
  /// content-type, the credential in the flavour's style (when there is a key), the extra headers.
  void add_headers(core::Headers& headers, std::string_view api_key) const;

  const Flavor* flavor_;
  std::string api_version_;
  core::Headers headers_;
};

}  // namespace tollgate::adapters
