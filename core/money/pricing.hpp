// Pricing: every configured deployment's price, resolved once from the price table and the config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/money/money.hpp"
#include "core/money/price_table.hpp"

namespace tollgate::core {

/// A deployment's resolved price. priced=false: neither the table nor the config has one (input
/// and output both known); the price is then all zeros.
struct DeploymentPrice {
  Price price;
  bool priced = false;
  std::optional<std::int64_t> max_output_tokens;  // from the table; nullopt when unknown
  bool operator==(const DeploymentPrice&) const = default;
};

/// Every configured deployment's price, resolved once at start-up: the config's `price` override
/// field by field over the table's entry for (provider type, upstream model). An override with only
/// some fields takes the rest from the table; one giving input and output prices the deployment
/// even when the table has no entry. cached_input and cache_write_input are the override's, else
/// the table's, else input (a cached token never costs nothing just because nobody said what it
/// costs).
///
/// Immutable after construction and safe to share between threads; built per config snapshot,
/// which must outlive it (lookups are by the address of the config's own structs).
class Pricing {
 public:
  /// Throws PriceError when an override is out of range (above 1e6 USD per 1M tokens, not finite).
  Pricing(const config::Config& config, const PriceTable& table);

  /// The price of one of the config's deployments, by address; any other → unpriced.
  const DeploymentPrice& of(const config::DeploymentConfig& deployment) const;
  /// The field-by-field maximum over the deployments of `model` and (recursively, cycles safe) its
  /// fallbacks: the worst case a request for it can cost. Unpriced deployments add nothing; priced
  /// when any deployment is. max_output_tokens: the largest known.
  const DeploymentPrice& worst_case(const config::ModelConfig& model) const;
  /// The price of the model's first deployment: "what the requested model costs" (savings).
  const DeploymentPrice& primary(const config::ModelConfig& model) const;
  /// "provider/model" (provider id, upstream model) of each deployment without a price, once each,
  /// in config order: for the start-up warning.
  std::vector<std::string> unpriced() const;

 private:
  std::unordered_map<const config::DeploymentConfig*, DeploymentPrice> deployments_;
  std::unordered_map<const config::ModelConfig*, DeploymentPrice> worst_cases_;
  std::vector<std::string> unpriced_;
};

}  // namespace tollgate::core
