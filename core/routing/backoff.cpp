// Backoff: the saturating exponential cap and the full-jitter draw under it.
#include "core/routing/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tollgate::core {

std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        Random& random) {
  const std::int64_t b = base.count();
  const std::int64_t m = max.count();
  if (retry < 1 || b <= 0 || m <= 0) return std::chrono::milliseconds{0};
  // b * 2^shift <= m exactly when b <= floor(m / 2^shift); a shift of 63 already exceeds any m.
  const int shift = std::min(retry - 1, 63);
  const std::int64_t cap = b <= (m >> shift) ? (b << shift) : m;
  // Scaling by cap + 1 and flooring makes every whole millisecond in [0, cap] equally likely,
  // cap included; double rounding near the top can reach cap + 1, hence the clamp.
  const double scaled = std::floor(random.uniform() * (static_cast<double>(cap) + 1.0));
  const auto delay = scaled >= static_cast<double>(cap) ? cap : static_cast<std::int64_t>(scaled);
  return std::chrono::milliseconds{std::max<std::int64_t>(delay, 0)};
}

}  // namespace tollgate::core
