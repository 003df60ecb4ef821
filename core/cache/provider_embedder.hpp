// Provider embedder: a configured provider's embeddings endpoint as the semantic matcher's Embedder.
#pragma once

#include <cstddef>
#include <string>

#include "core/cache/embedder.hpp"
#include "core/provider.hpp"

namespace tollgate::core {

/// Embeds through `provider`'s embeddings endpoint (dedup.semantic.embedder), asking `model` for
/// `dimensions` floats. The vector is checked (exactly `dimensions` finite floats) and
/// L2-normalised here, so servers that do not normalise work too. Any failure (the provider's
/// error, a timeout, a wrong size) is a GatewayError saying why without the text: the request
/// then goes on unmatched. Each call is one upstream request on the provider's key pool; it is
/// neither priced nor counted in the ledger (an embedding of one message costs a millionth of a
/// dollar or so). Thread-safe when the provider is (Provider's contract).
class ProviderEmbedder final : public Embedder {
 public:
  /// `provider` must outlive the embedder.
  ProviderEmbedder(Provider& provider, std::string model, std::size_t dimensions, AttemptTimeouts timeouts);

  boost::asio::awaitable<Result<std::vector<float>>> embed(std::string text) override;
  /// "provider:<id>/<model>/<dimensions>": vectors of another model never meet these.
  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return dimensions_; }

 private:
  Provider& provider_;
  std::string model_;
  std::size_t dimensions_;
  AttemptTimeouts timeouts_;
  std::string name_;
};

/// `vector` scaled to length 1 in place; false (and unchanged) when it is empty, has a value that
/// is not finite, or is all zeros.
bool normalize_embedding(std::vector<float>& vector) noexcept;

}  // namespace tollgate::core
