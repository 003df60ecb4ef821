// Embedding list: OpenAI's embeddings response body, built from vectors another wire format returned.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/openai/usage.hpp"

namespace tollgate::adapters {

/// How the client asked for the vectors (`encoding_format`): JSON floats, or base64 of the
/// little-endian float32 array (what the official SDKs ask for by default).
enum class EmbeddingEncoding { kFloat, kBase64 };

/// The request's `encoding_format`: base64 when it says so, else float.
EmbeddingEncoding embedding_encoding(const nlohmann::json& request_body);

/// {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],"model":model,
/// "usage":{"prompt_tokens","total_tokens"}} with one entry per vector, in order. Each vector is a
/// JSON array of numbers; kFloat writes it as given, kBase64 as base64 of its float32 values.
/// `usage` absent: the usage object is left out.
/// Nullopt when a vector is not an array of numbers.
std::optional<std::string> embedding_list(const std::vector<const nlohmann::json*>& vectors, std::string_view model,
                                          EmbeddingEncoding encoding, const std::optional<core::Usage>& usage);

}  // namespace tollgate::adapters
