// Token estimates made before a call (rate limits, later budgets), from the request body alone.
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace tollgate::core {

/// A deliberately generous estimate of a chat request's prompt tokens without a tokenizer:
/// ~4 bytes of UTF-8 text per token (rounded up) over every message's text content (string or
/// text parts), names, tool calls and tool results, plus the `tools`/`functions` definitions and
/// `response_format` schema as serialised JSON, plus 4 tokens of framing per message and 3 for
/// the reply; image parts count a fixed 765 tokens each. Never negative; malformed shapes count
/// what can be read.
std::int64_t estimate_prompt_tokens(const nlohmann::json& body);

/// The output budget the request asks for: `max_completion_tokens`, else `max_tokens` (a
/// positive integer), else 0 (unknown).
std::int64_t requested_output_tokens(const nlohmann::json& body);

}  // namespace tollgate::core
