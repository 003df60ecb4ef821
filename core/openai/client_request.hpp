// Validating a client's request body (chat completions, embeddings): what tollgate itself must understand.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace tollgate::core {

/// The parts of a /v1/chat/completions body tollgate acts on; the rest passes through untouched.
struct ChatRequest {
  nlohmann::json body;  // the whole body, an object
  std::string model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

/// Parses and checks a request body the way OpenAI's API does: malformed JSON, a non-object body,
/// a missing or non-string `model`, missing or non-array `messages`, a non-boolean `stream`, and
/// `stream_options` without streaming are 400s naming the offending parameter.
Result<ChatRequest> parse_chat_request(std::string_view body);

/// The parts of a /v1/embeddings body tollgate acts on; the rest passes through untouched.
struct EmbeddingsRequest {
  nlohmann::json body;  // the whole body, an object
  std::string model;
  std::size_t inputs = 0;  // how many texts (or token arrays) `input` holds
};

/// At most this many inputs per request, as OpenAI allows.
inline constexpr std::size_t kMaxEmbeddingInputs = 2048;

/// Parses and checks an embeddings body as OpenAI does: malformed JSON, a non-object body, a
/// missing or non-string `model`; `input` must be a non-empty string, a non-empty array (at most
/// kMaxEmbeddingInputs) of non-empty strings, an array of token ids (integers >= 0), or an array of
/// non-empty token-id arrays; `encoding_format` float|base64; `dimensions` an integer >= 1. Each a
/// 400 naming the parameter.
Result<EmbeddingsRequest> parse_embeddings_request(std::string_view body);

}  // namespace tollgate::core
