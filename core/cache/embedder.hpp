// Embedder: turns a prompt's text into a unit vector, so that inner product is cosine similarity.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/result.hpp"

namespace tollgate::core {

/// Maps text to a vector for semantic matching (the semantic cache and semantic dedup). Called
/// by the cache/dedup stages on the request's strand; implementations may be shared by every
/// connection, so embed() must be safe to call concurrently.
///
/// - A vector returned is exactly dimensions() long and L2-normalised (length 1 within float
///   rounding), so the inner product of two vectors is their cosine similarity; a text with no
///   feature at all may give the zero vector, which matches nothing.
/// - Vectors are comparable only between calls of embedders with the same name(): callers put
///   name() into the index partition so that vectors of two embedders never meet.
/// - An embedder that calls out (a provider's /v1/embeddings) returns its failure as a
///   GatewayError; the caller then treats the request as not semantically matchable, never as
///   failed. It must never log or return the text or any credential.
class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual boost::asio::awaitable<Result<std::vector<float>>> embed(std::string text) = 0;
  /// Identifies the vector space: the embedder kind, its model or version, and its dimensions.
  virtual std::string_view name() const = 0;
  virtual std::size_t dimensions() const = 0;
};

}  // namespace tollgate::core
