// Reading the few facts tollgate needs from an upstream's OpenAI-shaped JSON, on the hot path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/openai/usage.hpp"

namespace tollgate::core {

/// What tollgate reads from a chat.completion or a chunk it otherwise passes through untouched.
struct ObjectScan {
  bool is_object = false;            // the text is one well-formed JSON object
  std::optional<Usage> usage;        // top-level `usage`, when it is an object
  bool choices_empty = true;         // top-level `choices` absent or []
  std::optional<std::string> error;  // top-level `error` object's message (or "" when it has none)
};

/// Parses `text` with Boost.JSON into a stack arena (no heap allocation for bodies up to a few
/// KiB): several times cheaper than a nlohmann DOM, which matters once per proxied response.
ObjectScan scan_object(std::string_view text);

/// An integer member of `object`; 0 when absent or not an integer.
std::int64_t json_count(const boost::json::object& object, std::string_view key);

/// An OpenAI-shaped `usage` object (prompt, completion and total tokens, cached and reasoning
/// details); total defaults to prompt + completion when absent.
Usage read_usage(const boost::json::object& usage);

/// True when `text` holds `"name":` followed by an object — a cheap pre-check before scan_object
/// for stream chunks, most of which carry `"usage":null` or nothing.
bool has_object_field(std::string_view text, std::string_view name);

}  // namespace tollgate::core
