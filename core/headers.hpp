// Headers: HTTP header fields as tollgate passes them around (lower-case names where they are read).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tollgate::core {

using Headers = std::vector<std::pair<std::string, std::string>>;

}  // namespace tollgate::core
