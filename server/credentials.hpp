// The credential a client presents: `Authorization: Bearer …` or `api-key: …`.
#pragma once

#include <string_view>

#include "server/http.hpp"

namespace tollgate::server {

/// The bearer token of `Authorization` (scheme case-insensitive, surrounding spaces trimmed),
/// else the `api-key` header (Azure OpenAI's convention); empty when neither is present or the
/// Authorization scheme is not Bearer. A view into `request`.
std::string_view presented_credential(const Request& request);

}  // namespace tollgate::server
