// Usage: token counts as OpenAI reports them.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json_fwd.hpp>

namespace tollgate::core {

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens
  std::int64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens
  bool estimated = false;             // counted by tollgate, not reported by the upstream
};

/// Reads an OpenAI `usage` object; nullopt when it is absent, null or not an object.
std::optional<Usage> parse_usage(const nlohmann::json& usage);

}  // namespace tollgate::core
