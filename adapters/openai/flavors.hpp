// Flavors: what each OpenAI-compatible service does differently from OpenAI, as one table of data.
#pragma once

#include <span>
#include <string_view>

namespace tollgate::adapters {

/// How the provider key travels.
enum class AuthStyle {
  kBearer,  // authorization: Bearer KEY
  kApiKey,  // api-key: KEY (Azure)
};

/// Where a request goes.
enum class UrlStyle {
  kBase,             // {base_url}/chat/completions, {base_url}/embeddings
  kAzureDeployment,  // {base}/openai/deployments/{upstream model}/chat/completions?api-version=V
};

/// How a stream reports its token usage.
enum class StreamUsage {
  kAskIncludeUsage,   // tollgate sends stream_options.include_usage: true; usage comes in a chunk near the end
  kAlwaysInLastChunk, // the service refuses stream_options and always puts usage on its last content chunk:
                      // stream_options (the client's too) is not sent, harmlessly
};

/// A request field the service knows under another name: a silent translation.
struct FieldRename {
  std::string_view from;
  std::string_view to;
};

/// Which values of a refused field are still fine to send.
enum class Allowed {
  kNever,   // present and not null: refused
  kIfFalse, // false passes (e.g. logprobs: false)
  kIfOne,   // 1 passes (n: 1)
  kIfAuto,  // "auto" passes (tool_choice: "auto", which is the default anyway)
};

/// A request field the service cannot express: a 400 naming it, never silently dropped.
struct RefusedField {
  std::string_view field;
  Allowed allowed = Allowed::kNever;
};

/// Which count of core::Usage a service-specific usage field fills.
enum class UsageCount { kCachedTokens };

/// A field of the service's `usage` object that tollgate reads into core::Usage.
struct UsageField {
  std::string_view field;
  UsageCount count;
};

/// One OpenAI-compatible service: its quirks as data, read by OpenAiAdapter. Plain OpenAI is the
/// row with every list empty.
struct Flavor {
  std::string_view name;              // providers[].flavor
  std::string_view default_base_url;  // empty: the provider must set base_url
  AuthStyle auth = AuthStyle::kBearer;
  UrlStyle url = UrlStyle::kBase;
  std::span<const FieldRename> renames = {};   // chat request fields sent under another name
  std::span<const RefusedField> refused = {};  // chat request fields answered with a 400
  std::span<const std::string_view> dropped = {};  // chat request fields left out: documented as harmless
  bool refuses_message_name = false;      // `name` on a system/user/assistant message is a 400
  StreamUsage stream_usage = StreamUsage::kAskIncludeUsage;
  bool usage_in_x_groq = false;           // a stream may carry its usage only in x_groq.usage
  std::span<const UsageField> usage_fields = {};  // unary and stream
  bool embeddings = true;                 // has POST {base}/embeddings
  std::span<const FieldRename> embedding_renames = {};
  std::span<const std::string_view> embedding_dropped = {};
  bool errors_array = false;              // error bodies are {"errors": [{"message"}]} (Cloudflare's envelope)
};

/// The row named `name` (openai|azure|ollama|vllm|groq|deepseek|mistral|openrouter|together|
/// cloudflare), or null.
const Flavor* find_flavor(std::string_view name) noexcept;

/// Plain OpenAI: the row every provider without a flavour uses.
const Flavor& openai_flavor() noexcept;

/// Every row, in table order.
std::span<const Flavor> all_flavors() noexcept;

}  // namespace tollgate::adapters
