// Adapter: the pure translation between OpenAI's API and one provider's wire format.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/upstream_client.hpp"
#include "adapters/sse_parser.hpp"
#include "core/provider.hpp"
#include "core/result.hpp"

namespace tollgate::adapters {

/// Where and as whom an attempt calls: the provider's base URL and one of its keys.
struct Endpoint {
  std::string_view base_url;
  std::string_view api_key;  // empty: no credentials (local servers)
};

/// A decoded 2xx unary response.
struct Decoded {
  std::string body;  // OpenAI chat.completion JSON (kEmbeddings: OpenAI's embeddings list JSON)
  std::optional<core::Usage> usage;
};

/// Turns one provider's SSE events into OpenAI chunks. One per stream; not thread-safe.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  /// Appends the chunks `event` yields to `out`. An in-band error event is an error.
  virtual core::Result<void> feed(const SseEvent& event, std::vector<core::Chunk>& out) = 0;
  /// True once the provider's end marker (`[DONE]`, message_stop…) has been seen.
  virtual bool done() const noexcept = 0;
};

/// Stateless and thread-safe; the same anatomy for every provider type.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::string_view type() const noexcept = 0;
  /// OpenAI request → the provider's HTTP request (URL, headers with credentials, body), for
  /// call.operation (chat or embeddings; a provider with no embeddings endpoint: a 400 saying so).
  /// A parameter the provider cannot express is a 400 naming it.
  virtual core::Result<http::Request> encode(const core::UpstreamCall& call, const Endpoint& endpoint) const = 0;
  /// A 2xx unary body → OpenAI's chat.completion (kEmbeddings: OpenAI's embeddings list
  /// {object, data[{object, index, embedding}], model, usage}); a body that is not the provider's
  /// format is an error.
  virtual core::Result<Decoded> decode(std::string_view body, const core::UpstreamCall& call) const = 0;
  /// A non-2xx response → retryable or not, with an OpenAI-shaped body to return as is.
  virtual core::AttemptError classify(int status, const core::Headers& headers, std::string_view body) const = 0;
  /// A fresh decoder for one streamed response.
  virtual std::unique_ptr<StreamDecoder> stream_decoder(const core::UpstreamCall& call) const = 0;
  /// An embeddings request for one text. Default: the provider type has no embeddings (an error).
  virtual core::Result<http::Request> encode_embedding(const core::EmbeddingCall& call, const Endpoint& endpoint) const;
  /// A 2xx embeddings body → the first (only) embedding, as sent. Default: an error.
  virtual core::Result<std::vector<float>> decode_embedding(std::string_view body) const;
};

}  // namespace tollgate::adapters
