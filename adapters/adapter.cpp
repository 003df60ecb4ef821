// Adapter: the defaults of the optional parts (embeddings) for provider types that lack them.
#include "adapters/adapter.hpp"

namespace tollgate::adapters {

core::Result<http::Request> Adapter::encode_embedding(const core::EmbeddingCall&, const Endpoint&) const {
  return core::make_error(core::ErrorKind::kInvalidRequest,
                          "provider type '" + std::string(type()) + "' has no embeddings endpoint");
}

core::Result<std::vector<float>> Adapter::decode_embedding(std::string_view) const {
  return core::make_error(core::ErrorKind::kUpstreamError,
                          "provider type '" + std::string(type()) + "' has no embeddings endpoint");
}

}  // namespace tollgate::adapters
