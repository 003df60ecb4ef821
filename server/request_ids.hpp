// RequestIds: unique request ids, cheap to make, and the rule for accepting a client's own.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::server {

/// "req_" + a per-process random prefix + a counter: unique across restarts, no lock, no syscall.
class RequestIds {
 public:
  explicit RequestIds(std::uint64_t seed);
  std::string next();

  /// A client's x-request-id is propagated when it is 1..128 visible ASCII characters.
  static bool acceptable(std::string_view id) noexcept;

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace tollgate::server
