// Embedding list: OpenAI's embeddings response body, with base64 float32 vectors when asked.
#include "adapters/embedding_list.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#include <openssl/evp.h>

#include "adapters/wire_text.hpp"

namespace tollgate::adapters {
namespace {

using nlohmann::ordered_json;

/// Base64 of the vector's float32 values, little-endian as OpenAI sends them. OpenSSL's encoder:
/// the library is already linked, and the SDKs decode exactly this.
std::optional<std::string> base64_floats(const nlohmann::json& values) {
  std::string bytes;
  bytes.reserve(values.size() * 4);
  for (const auto& value : values) {
    if (!value.is_number()) return std::nullopt;
    std::uint32_t bits = std::bit_cast<std::uint32_t>(value.get<float>());
    if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
    char raw[4];
    std::memcpy(raw, &bits, 4);
    bytes.append(raw, 4);
  }
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace

EmbeddingEncoding embedding_encoding(const nlohmann::json& request_body) {
  const auto it = request_body.find("encoding_format");
  return it != request_body.end() && it->is_string() && *it == "base64" ? EmbeddingEncoding::kBase64
                                                                         : EmbeddingEncoding::kFloat;
}

std::optional<std::string> embedding_list(const std::vector<const nlohmann::json*>& vectors, std::string_view model,
                                          EmbeddingEncoding encoding, const std::optional<core::Usage>& usage) {
  ordered_json data = ordered_json::array();
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    const nlohmann::json& values = *vectors[i];
    if (!values.is_array()) return std::nullopt;
    ordered_json entry = {{"object", "embedding"}, {"index", i}};
    if (encoding == EmbeddingEncoding::kBase64) {
      auto encoded = base64_floats(values);
      if (!encoded) return std::nullopt;
      entry["embedding"] = std::move(*encoded);
    } else {
      for (const auto& value : values)
        if (!value.is_number()) return std::nullopt;
      entry["embedding"] = values;
    }
    data.push_back(std::move(entry));
  }
  ordered_json body = {{"object", "list"}, {"data", std::move(data)}, {"model", model}};
  if (usage) body["usage"] = {{"prompt_tokens", usage->prompt_tokens}, {"total_tokens", usage->total_tokens}};
  return dump(body);
}

}  // namespace tollgate::adapters
