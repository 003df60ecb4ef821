// Reading OpenAI usage objects.
#include "core/openai/usage.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::core {
namespace {

std::int64_t count(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return 0;
  return it->get<std::int64_t>();
}

}  // namespace

std::optional<Usage> parse_usage(const nlohmann::json& usage) {
  if (!usage.is_object()) return std::nullopt;
  Usage u;
  u.prompt_tokens = count(usage, "prompt_tokens");
  u.completion_tokens = count(usage, "completion_tokens");
  u.total_tokens = count(usage, "total_tokens");
  if (u.total_tokens == 0) u.total_tokens = u.prompt_tokens + u.completion_tokens;
  if (auto d = usage.find("prompt_tokens_details"); d != usage.end() && d->is_object())
    u.cached_tokens = count(*d, "cached_tokens");
  if (auto d = usage.find("completion_tokens_details"); d != usage.end() && d->is_object())
    u.reasoning_tokens = count(*d, "reasoning_tokens");
  return u;
}

}  // namespace tollgate::core
