// PriceTable: tollgate's and LiteLLM's price files read into one index, looked up per deployment.
#include "core/money/price_table.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tollgate::core {
namespace detail {
/// config/prices.json's text, generated into the build directory by core/CMakeLists.txt.
extern const std::string_view kBuiltinPricesJson;
}  // namespace detail

namespace {

using nlohmann::json;

constexpr std::string_view kUnit = "USD per 1M tokens";
constexpr double kTokensPerMillion = 1e6;

/// The offending value as JSON text, shortened, for error messages.
std::string shown(const json& value) {
  std::string text = value.dump();
  if (text.size() > 40) {
    text.resize(37);
    text += "...";
  }
  return text;
}

[[noreturn]] void fail(std::string_view source, std::string_view path, std::string_view problem) {
  throw PriceError(fmt::format("{}: {}: {}", source, path, problem));
}

/// A field, or nullptr when it is absent or null (LiteLLM writes null for "unknown").
const json* field(const json& entry, const char* name) {
  const auto it = entry.find(name);
  return it == entry.end() || it->is_null() ? nullptr : &*it;
}

/// A USD figure (`usd_per_million_scale` turns it into USD per 1M tokens) as pico per token.
std::int64_t read_price(const json& value, double usd_per_million_scale, std::string_view source,
                        const std::string& path) {
  if (!value.is_number() || !(value.get<double>() >= 0))
    fail(source, path, fmt::format("must be a number >= 0, got {}", shown(value)));
  const auto pico = pico_per_token(value.get<double>() * usd_per_million_scale);
  if (!pico) fail(source, path, fmt::format("must be at most 1000000 {}, got {}", kUnit, shown(value)));
  return *pico;
}

/// A whole number > 0 that fits in int64, else nullopt.
std::optional<std::int64_t> positive_integer(const json& value) {
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n == 0 || n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(n);
  }
  if (value.is_number_integer() && value.get<std::int64_t>() > 0) return value.get<std::int64_t>();
  return std::nullopt;
}

}  // namespace

PriceTable PriceTable::parse(std::string_view text, std::string_view source) {
  json root;
  try {
    // A price file is the operator's own; the exception's text gives the line and column.
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string_view what = e.what();
    if (const auto end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
    throw PriceError(fmt::format("{}: not valid JSON: {}", source, what));
  }
  if (!root.is_object()) throw PriceError(fmt::format("{}: must be a JSON object, got {}", source, shown(root)));
  const auto models = root.find("models");
  if (models != root.end() && models->is_object()) return parse_tollgate(root, source);
  return parse_litellm(root, source);
}

PriceTable PriceTable::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PriceError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad() || text.fail()) throw PriceError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  return parse(text.str(), path);
}

PriceTable PriceTable::builtin() { return parse(detail::kBuiltinPricesJson, "config/prices.json (built in)"); }

PriceTable PriceTable::parse_tollgate(const json& root, std::string_view source) {
  PriceTable table;
  if (const json* as_of = field(root, "as_of")) {
    if (!as_of->is_string()) fail(source, "as_of", fmt::format("must be a date string, got {}", shown(*as_of)));
    table.as_of_ = as_of->get<std::string>();
  }
  if (const json* unit = field(root, "unit"); unit && !(unit->is_string() && unit->get<std::string>() == kUnit))
    fail(source, "unit", fmt::format("must be \"{}\", got {}", kUnit, shown(*unit)));

  for (const auto& [key, entry] : root.at("models").items()) {
    const std::string path = "models." + key;
    if (key.empty()) fail(source, "models", "a model name must not be empty");
    if (!entry.is_object())
      fail(source, path, fmt::format("must be an object {{input, output, cached_input?, cache_write_input?, max_output_tokens?}}, got {}",
                                     shown(entry)));
    for (const auto& [name, value] : entry.items()) {
      if (name != "input" && name != "output" && name != "cached_input" && name != "cache_write_input" &&
          name != "max_output_tokens")
        fail(source, path + "." + name,
             "unknown field (expected input, output, cached_input, cache_write_input, max_output_tokens)");
    }
    ModelPrice price;
    for (const char* required : {"input", "output"}) {
      if (!field(entry, required)) fail(source, path + "." + required, "is required");
    }
    price.price.input = read_price(entry.at("input"), 1, source, path + ".input");
    price.price.output = read_price(entry.at("output"), 1, source, path + ".output");
    if (const json* cached = field(entry, "cached_input")) {
      price.price.cached_input = read_price(*cached, 1, source, path + ".cached_input");
      price.has_cached_input = true;
    }
    if (const json* written = field(entry, "cache_write_input")) {
      price.price.cache_write_input = read_price(*written, 1, source, path + ".cache_write_input");
      price.has_cache_write_input = true;
    }
    if (const json* max_output = field(entry, "max_output_tokens")) {
      price.max_output_tokens = positive_integer(*max_output);
      if (!price.max_output_tokens)
        fail(source, path + ".max_output_tokens", fmt::format("must be a whole number > 0, got {}", shown(*max_output)));
    }
    table.index_.emplace(key, price);
    ++table.size_;
  }
  return table;
}

PriceTable PriceTable::parse_litellm(const json& root, std::string_view source) {
  PriceTable table;
  // Derived names go in after every written key, so that a written key always wins.
  std::vector<std::pair<std::string, ModelPrice>> derived;
  for (const auto& [key, entry] : root.items()) {
    if (key == "sample_spec") continue;
    if (!entry.is_object()) fail(source, key, fmt::format("must be an object, got {}", shown(entry)));
    const json* input = field(entry, "input_cost_per_token");
    const json* output = field(entry, "output_cost_per_token");
    if (!input || !output) {
      ++table.skipped_;
      continue;
    }
    ModelPrice price;
    price.price.input = read_price(*input, kTokensPerMillion, source, key + ".input_cost_per_token");
    price.price.output = read_price(*output, kTokensPerMillion, source, key + ".output_cost_per_token");
    if (const json* cached = field(entry, "cache_read_input_token_cost")) {
      price.price.cached_input =
          read_price(*cached, kTokensPerMillion, source, key + ".cache_read_input_token_cost");
      price.has_cached_input = true;
    }
    if (const json* written = field(entry, "cache_creation_input_token_cost")) {
      price.price.cache_write_input =
          read_price(*written, kTokensPerMillion, source, key + ".cache_creation_input_token_cost");
      price.has_cache_write_input = true;
    }
    // LiteLLM's own rule (see its sample_spec): max_tokens stands in when max_output_tokens is
    // missing. Limits LiteLLM writes in other shapes are not worth failing the whole file for.
    if (const json* max_output = field(entry, "max_output_tokens"))
      price.max_output_tokens = positive_integer(*max_output);
    if (const json* max_tokens = field(entry, "max_tokens"); !price.max_output_tokens && max_tokens)
      price.max_output_tokens = positive_integer(*max_tokens);

    if (const auto slash = key.find('/'); slash != std::string::npos) {
      derived.emplace_back(key.substr(slash + 1), price);
    } else if (const json* provider = field(entry, "litellm_provider");
               provider && provider->is_string() && !provider->get<std::string>().empty()) {
      derived.emplace_back(provider->get<std::string>() + "/" + key, price);
    }
    table.index_.emplace(key, price);
    ++table.size_;
  }
  for (auto& [name, price] : derived) table.index_.try_emplace(std::move(name), price);
  return table;
}

const ModelPrice* PriceTable::find(std::string_view provider_type, std::string_view model) const {
  if (!provider_type.empty()) {
    // "<type>/<model>" composed on the stack: no allocation for any sensible name.
    std::array<char, 256> buffer;
    const std::size_t length = provider_type.size() + 1 + model.size();
    if (length <= buffer.size()) {
      provider_type.copy(buffer.data(), provider_type.size());
      buffer[provider_type.size()] = '/';
      model.copy(buffer.data() + provider_type.size() + 1, model.size());
      if (const ModelPrice* hit = find_exact({buffer.data(), length})) return hit;
    } else if (const ModelPrice* hit = find_exact(fmt::format("{}/{}", provider_type, model))) {
      return hit;
    }
  }
  return find_exact(model);
}

const ModelPrice* PriceTable::find_exact(std::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &it->second;
}

}  // namespace tollgate::core
