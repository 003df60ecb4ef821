// Flavors: the quirks table of the OpenAI-compatible services, one row each with the evidence for it.
#include "adapters/openai/flavors.hpp"

namespace tollgate::adapters {
namespace {

using namespace std::string_view_literals;

// Ollama reads its OpenAI-compatible request into a Go struct that has max_tokens but no
// max_completion_tokens, and Go drops unknown JSON fields without a word, so an unrenamed
// max_completion_tokens would silently not cap the answer (github.com/ollama/ollama openai/openai.go,
// ChatCompletionRequest). logit_bias, n and tool_choice are listed as unsupported request fields
// (docs.ollama.com/api/openai-compatibility, "Supported request fields", unchecked boxes) and are
// ignored the same silent way; `user` is unchecked too but only labels the end user: harmless.
constexpr FieldRename kOllamaRenames[] = {{"max_completion_tokens", "max_tokens"}};
constexpr RefusedField kOllamaRefused[] = {{"logit_bias"}, {"n", Allowed::kIfOne}, {"tool_choice", Allowed::kIfAuto}};

// "The following fields are currently not supported and will result in a 400 error (yikes) if they
// are supplied: logprobs, logit_bias, top_logprobs, messages[].name; if N is supplied, it must be
// equal to 1" (console.groq.com/docs/openai, "Currently Unsupported OpenAI Features").
constexpr RefusedField kGroqRefused[] = {
    {"logprobs", Allowed::kIfFalse}, {"logit_bias"}, {"top_logprobs"}, {"n", Allowed::kIfOne}};

// DeepSeek's create-chat-completion reference lists max_tokens and no max_completion_tokens
// (api-docs.deepseek.com/api/create-chat-completion). Its usage reports cache hits as
// prompt_cache_hit_tokens (and misses as prompt_cache_miss_tokens), both parts of prompt_tokens,
// not OpenAI's prompt_tokens_details.cached_tokens (api-docs.deepseek.com/guides/kv_cache).
constexpr FieldRename kDeepSeekRenames[] = {{"max_completion_tokens", "max_tokens"}};
constexpr UsageField kDeepSeekUsage[] = {{"prompt_cache_hit_tokens", UsageCount::kCachedTokens}};

// Mistral validates requests strictly: any field outside its schema is a 422 "Extra inputs are not
// permitted" (seen for stream_options.include_usage, max_completion_tokens and messages[].name:
// github.com/avante-corp/avante.nvim/issues/2347, github.com/editor-code-assistant/eca/issues/231,
// github.com/Gage-Technologies/mistral-go/pull/2). Its schema names the seed random_seed and has
// no logprobs, top_logprobs, logit_bias or user; a user message is {role, content} only
// (github.com/mistralai/client-python src/mistralai/models/chatcompletionrequest.py, usermessage.py).
// Usage always arrives on the last content chunk of a stream, without being asked
// (github.com/Portkey-AI/gateway/issues/1259, github.com/davidmigloz/langchain_dart/pull/795), so
// dropping stream_options loses nothing. Embeddings take output_dimension for OpenAI's dimensions
// (client-python src/mistralai/models/embeddingrequest.py).
constexpr FieldRename kMistralRenames[] = {{"max_completion_tokens", "max_tokens"}, {"seed", "random_seed"}};
constexpr RefusedField kMistralRefused[] = {{"logprobs", Allowed::kIfFalse}, {"top_logprobs"}, {"logit_bias"}};
constexpr std::string_view kMistralDropped[] = {"user"sv};
constexpr FieldRename kMistralEmbeddingRenames[] = {{"dimensions", "output_dimension"}};
constexpr std::string_view kMistralEmbeddingDropped[] = {"user"sv};

constexpr Flavor kFlavors[] = {
    // platform.openai.com/docs/api-reference: the reference every other row differs from.
    {.name = "openai", .default_base_url = "https://api.openai.com/v1"},
    // Azure OpenAI: {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V with an
    // `api-key` header; embeddings under the same deployment path
    // (learn.microsoft.com/azure/ai-services/openai/reference). stream_options is part of the
    // 2024-10-21 GA inference API. No default URL: the resource name is the customer's.
    {.name = "azure", .default_base_url = "", .auth = AuthStyle::kApiKey, .url = UrlStyle::kAzureDeployment},
    // Ollama: http://localhost:11434/v1, no key needed; stream_options.include_usage and
    // /v1/embeddings are supported (docs.ollama.com/api/openai-compatibility).
    {.name = "ollama",
     .default_base_url = "http://127.0.0.1:11434/v1",
     .renames = kOllamaRenames,
     .refused = kOllamaRefused},
    // vLLM's server takes every OpenAI chat parameter ("parallel_tool_calls and user parameters are
    // ignored"), honours stream_options (plus its own continuous_usage_stats) and serves
    // /v1/embeddings for embedding models (docs.vllm.ai/en/stable/serving/openai_compatible_server).
    {.name = "vllm", .default_base_url = "http://127.0.0.1:8000/v1"},
    // Groq: base https://api.groq.com/openai/v1 (console.groq.com/docs/openai). Streams put usage in
    // x_groq.usage of the finishing chunk, and add OpenAI's usage chunk only when include_usage is
    // asked (github.com/Portkey-AI/gateway src/providers/groq/chatComplete.ts, issues/1072 and 1338).
    // No embeddings endpoint (docs.getbifrost.ai/providers/supported-providers/groq).
    {.name = "groq",
     .default_base_url = "https://api.groq.com/openai/v1",
     .refused = kGroqRefused,
     .refuses_message_name = true,
     .usage_in_x_groq = true,
     .embeddings = false},
    // DeepSeek: base https://api.deepseek.com, Bearer key; the API has chat and FIM completions,
    // models and balance, no embeddings (api-docs.deepseek.com); stream_options.include_usage is a
    // documented request field.
    {.name = "deepseek",
     .default_base_url = "https://api.deepseek.com",
     .renames = kDeepSeekRenames,
     .usage_fields = kDeepSeekUsage,
     .embeddings = false},
    // Mistral: base https://api.mistral.ai/v1 (docs.mistral.ai/api); see the lists above.
    {.name = "mistral",
     .default_base_url = "https://api.mistral.ai/v1",
     .renames = kMistralRenames,
     .refused = kMistralRefused,
     .dropped = kMistralDropped,
     .refuses_message_name = true,
     .stream_usage = StreamUsage::kAlwaysInLastChunk,
     .embedding_renames = kMistralEmbeddingRenames,
     .embedding_dropped = kMistralEmbeddingDropped},
    // OpenRouter: base https://openrouter.ai/api/v1; optional HTTP-Referer / X-Title headers (set them
    // in providers[].headers); usage always comes in the last chunk and stream_options.include_usage
    // is accepted though it no longer changes anything; keep-alive SSE comments (": OPENROUTER
    // PROCESSING") and mid-stream `error` events (openrouter.ai/docs/api_reference/streaming);
    // /api/v1/embeddings exists (openrouter.ai/docs/api_reference/embeddings).
    {.name = "openrouter", .default_base_url = "https://openrouter.ai/api/v1"},
    // Together: base https://api.together.ai/v1, chat and embeddings through the OpenAI SDK
    // (docs.together.ai/docs/inference/openai-compatibility). No quirk found that needs a rule.
    {.name = "together", .default_base_url = "https://api.together.ai/v1"},
    // Cloudflare Workers AI: https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1 with a
    // Bearer API token; /v1/chat/completions and /v1/embeddings
    // (developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility). Errors come in
    // Cloudflare's envelope {"success": false, "errors": [{"code", "message"}]}
    // (github.com/musistudio/claude-code-router/issues/1630). No default URL: the account is the customer's.
    {.name = "cloudflare", .default_base_url = "", .errors_array = true},
};

}  // namespace

const Flavor* find_flavor(std::string_view name) noexcept {
  for (const Flavor& flavor : kFlavors)
    if (flavor.name == name) return &flavor;
  return nullptr;
}

const Flavor& openai_flavor() noexcept { return kFlavors[0]; }

std::span<const Flavor> all_flavors() noexcept { return kFlavors; }

}  // namespace tollgate::adapters
