// Usage: token counts as OpenAI reports them.
#pragma once

#include <cstdint>

namespace tollgate::core {

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens
  std::int64_t cache_creation_tokens = 0;  // prompt tokens written to the provider's prompt cache
                                           // (Anthropic's cache_creation_input_tokens); part of prompt_tokens
  std::int64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens
  bool estimated = false;             // counted by tollgate, not reported by the upstream
};

}  // namespace tollgate::core
