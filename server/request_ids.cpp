// Request id generation.
#include "server/request_ids.hpp"

#include <cstdio>

namespace tollgate::server {

RequestIds::RequestIds(std::uint64_t seed) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "req_%012llx", static_cast<unsigned long long>(seed & 0xffffffffffffull));
  prefix_ = buffer;
}

std::string RequestIds::next() {
  char buffer[20];
  const int n = std::snprintf(buffer, sizeof buffer, "%010llx",
                              static_cast<unsigned long long>(counter_.fetch_add(1, std::memory_order_relaxed)));
  std::string id;
  id.reserve(prefix_.size() + static_cast<std::size_t>(n));
  id.append(prefix_).append(buffer, static_cast<std::size_t>(n));
  return id;
}

bool RequestIds::acceptable(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace tollgate::server
