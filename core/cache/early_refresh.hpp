// Early refresh: when a request should refresh a cache entry before it expires (stampede protection).
#pragma once

#include <chrono>

#include "core/clock.hpp"

namespace tollgate::core {

/// Probabilistic early expiration ("XFetch", Vattani, Chierichetti and Lowenstein, VLDB 2015):
/// a hit refreshes the entry when `now - compute_time * beta * ln(u) >= expires_at`, with `u` a
/// uniform draw in (0, 1]. The closer the expiry and the longer the answer took to make, the
/// likelier; far from the expiry it practically never happens, at the expiry always. With one
/// refresher per entry (ResponseCache::claim_refresh) the others keep the old answer until the
/// new one lands, so an entry that expires under load is never missed by everyone at once.
/// `draw` is in [0, 1) (Random::uniform); u = 1 - draw. beta > 1 refreshes earlier.
bool refresh_early(Clock::Steady::time_point now, Clock::Steady::time_point expires_at,
                   std::chrono::nanoseconds compute_time, double draw, double beta = 1.0) noexcept;

}  // namespace tollgate::core
