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
  // Fixed-width lower-case hex, written by hand from the counter: this runs once per request.
  constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  char digits[16];
  for (int i = 15; i >= 0; --i, n >>= 4) digits[i] = kHex[n & 0xf];
  std::string id;
  id.reserve(prefix_.size() + 10);
  id.append(prefix_).append(digits + 6, 10);
  return id;
}

bool RequestIds::acceptable(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace tollgate::server
