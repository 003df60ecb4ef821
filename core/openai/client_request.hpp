// Validating a client's chat completion request body (what tollgate itself must understand).
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

}  // namespace tollgate::core
