// Token estimates made before a call (rate limits, later budgets), from the request body alone.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace tollgate::core {

/// A deliberately generous estimate of a chat request's prompt tokens without a tokenizer:
/// ~4 bytes of UTF-8 text per token (rounded up) over every message's text content (string or
/// text parts), names, tool calls and tool results, plus the `tools`/`functions` definitions and
/// `response_format` schema as serialised JSON, plus 4 tokens of framing per message and 3 for
/// the reply; image parts count a fixed 765 tokens each. Never negative; malformed shapes count
/// what can be read.
std::int64_t estimate_prompt_tokens(const nlohmann::json& body);

/// An embeddings request's input tokens: ~4 bytes per token (rounded up) of each input text; token
/// ids count one each. No framing: embedding models bill the input alone. Never negative.
std::int64_t estimate_embedding_tokens(const nlohmann::json& body);

/// The output budget the request asks for: `max_completion_tokens`, else `max_tokens` (a
/// positive integer), else 0 (unknown).
std::int64_t requested_output_tokens(const nlohmann::json& body);

/// The answer text in a chat completion or chunk's JSON text: the bytes of every `"content"`,
/// `"reasoning_content"` and `"arguments"` string value (an escape counts as one byte). A scan, not
/// a parse: it runs on every streamed chunk, and the estimate it feeds is approximate anyway.
std::int64_t answer_text_bytes(std::string_view json);

/// Tokens for `bytes` of answer text, at the prompt estimate's ~4 bytes per token (rounded up).
constexpr std::int64_t tokens_for_bytes(std::int64_t bytes) noexcept { return bytes <= 0 ? 0 : (bytes + 3) / 4; }

}  // namespace tollgate::core
