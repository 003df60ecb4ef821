// PriceTable: per-model prices read from tollgate's prices.json or LiteLLM's price file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json_fwd.hpp>

#include "core/money/money.hpp"

namespace tollgate::core {

/// One model's price and, when known, its output limit (for worst-case budget reservations).
struct ModelPrice {
  Price price;
  bool has_cached_input = false;  // false: the file gave no cached figure (price.cached_input is 0)
  bool has_cache_write_input = false;  // likewise for price.cache_write_input
  std::optional<std::int64_t> max_output_tokens;
  bool operator==(const ModelPrice&) const = default;
};

/// A price file that cannot be read or is malformed. what() names the source and the JSON key
/// path: "config/prices.json: models.gpt-4o.input: must be a number >= 0, got \"abc\"".
class PriceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Model prices, immutable once built; safe to share between threads.
class PriceTable {
 public:
  /// tollgate's format {"as_of", "unit", "models": {"<model>" or "<provider type>/<model>":
  /// {"input", "output", "cached_input"?, "cache_write_input"?, "max_output_tokens"?}}} (USD per 1M
  /// tokens; unknown fields in a model entry are errors), or LiteLLM's
  /// model_prices_and_context_window.json ({"<model>": {"input_cost_per_token",
  /// "output_cost_per_token", "cache_read_input_token_cost"?, "cache_creation_input_token_cost"?,
  /// "litellm_provider", "max_output_tokens"?, "max_tokens"?, "mode"...}}, USD per token; other
  /// fields are ignored). A top-level "models" object means tollgate's format. LiteLLM's
  /// "sample_spec" is ignored; entries without both per-token costs (image, audio, per-second
  /// pricing) are skipped and counted in skipped(). Throws PriceError naming `source` and the key.
  static PriceTable parse(std::string_view text, std::string_view source);
  /// parse() of a file; PriceError naming the path when it cannot be read.
  static PriceTable load(const std::string& path);
  /// config/prices.json as it was when the binary was built.
  static PriceTable builtin();

  /// The price for a deployment of `model` on a provider of type `provider_type`:
  /// "<provider type>/<model>" first, then "<model>"; nullptr when neither is known.
  ///
  /// Keys are indexed as written. LiteLLM entries are also indexed under derived names: a key
  /// without a prefix also as "<litellm_provider>/<key>", a key "<prefix>/<model>" also as
  /// "<model>" (so "gemini/gemini-2.5-pro" is found for type gemini, model gemini-2.5-pro, and
  /// "groq/llama-3.3-70b-versatile" for any type, model llama-3.3-70b-versatile). A key written in
  /// the file always wins over a derived name; among derived names the first key in sorted order
  /// wins. litellm_provider values are used as they are (no "vertex_ai-language-models" → "gemini").
  const ModelPrice* find(std::string_view provider_type, std::string_view model) const;

  /// The file's "as_of" date; empty for LiteLLM files.
  const std::string& as_of() const noexcept { return as_of_; }
  /// Priced entries read from the file (derived names not counted).
  std::size_t size() const noexcept { return size_; }
  /// LiteLLM entries skipped for lack of per-token costs.
  std::size_t skipped() const noexcept { return skipped_; }

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
  };
  using Index = std::unordered_map<std::string, ModelPrice, KeyHash, std::equal_to<>>;

  static PriceTable parse_tollgate(const nlohmann::json& root, std::string_view source);
  static PriceTable parse_litellm(const nlohmann::json& root, std::string_view source);
  const ModelPrice* find_exact(std::string_view key) const;

  Index index_;
  std::string as_of_;
  std::size_t size_ = 0;
  std::size_t skipped_ = 0;
};

}  // namespace tollgate::core
