// Provider embedder: one upstream embeddings call, checked and normalised.
#include "core/cache/provider_embedder.hpp"

#include <cmath>

namespace tollgate::core {

ProviderEmbedder::ProviderEmbedder(Provider& provider, std::string model, std::size_t dimensions,
                                   AttemptTimeouts timeouts)
    : provider_(provider),
      model_(std::move(model)),
      dimensions_(dimensions),
      timeouts_(timeouts),
      name_("provider:" + std::string(provider.id()) + "/" + model_ + "/" + std::to_string(dimensions)) {}

boost::asio::awaitable<Result<std::vector<float>>> ProviderEmbedder::embed(std::string text) {
  auto result = co_await provider_.embed(EmbeddingCall{model_, text, dimensions_, timeouts_});
  if (!result) {
    co_return make_error(ErrorKind::kUpstreamError,
                         "embedding with " + name_ + " failed: " + result.error().message);
  }
  std::vector<float> vector = std::move(*result);
  if (vector.size() != dimensions_) {
    co_return make_error(ErrorKind::kUpstreamError, "embedding with " + name_ + " returned " +
                                                        std::to_string(vector.size()) + " floats");
  }
  if (!normalize_embedding(vector))
    co_return make_error(ErrorKind::kUpstreamError, "embedding with " + name_ + " returned a zero or non-finite vector");
  co_return vector;
}

bool normalize_embedding(std::vector<float>& vector) noexcept {
  double sum = 0;
  for (float value : vector) {
    if (!std::isfinite(value)) return false;
    sum += static_cast<double>(value) * value;
  }
  if (vector.empty() || !(sum > 0)) return false;
  const double scale = 1.0 / std::sqrt(sum);
  for (float& value : vector) value = static_cast<float>(value * scale);
  return true;
}

}  // namespace tollgate::core
