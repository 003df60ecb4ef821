// Early refresh: the XFetch test on one draw.
#include "core/cache/early_refresh.hpp"

#include <cmath>

namespace tollgate::core {

bool refresh_early(Clock::Steady::time_point now, Clock::Steady::time_point expires_at,
                   std::chrono::nanoseconds compute_time, double draw, double beta) noexcept {
  if (now >= expires_at) return true;
  const double u = 1.0 - draw;  // (0, 1]
  const double gap = -static_cast<double>(compute_time.count()) * beta * std::log(u);
  return static_cast<double>((expires_at - now).count()) <= gap;
}

}  // namespace tollgate::core
