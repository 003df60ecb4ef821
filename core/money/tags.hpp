// Request tags: the x-tollgate-tags header (cost attribution by feature, customer, …).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace tollgate::core {

using Tags = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kMaxTags = 16;

/// Parses "feature=chat,customer=acme": comma-separated key=value pairs, blanks around each part
/// ignored. Keys are 1–64 of [A-Za-z0-9_.-], each at most once; values 1–128 printable ASCII
/// characters other than ',' and '='; at most kMaxTags pairs. Anything else is a 400
/// invalid_request_error naming the header, and quoting no more than the offending key.
Result<Tags> parse_tags(std::string_view header);

/// The value of `key`, empty when absent.
std::string_view tag_value(const Tags& tags, std::string_view key) noexcept;

/// {"feature":"chat","customer":"acme"}: the ledger's tags column.
std::string tags_json(const Tags& tags);

}  // namespace tollgate::core
