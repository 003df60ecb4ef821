// Backoff: how long to wait before a retry (exponential with full jitter).
#pragma once

#include <chrono>

#include "core/random.hpp"

namespace tollgate::core {

/// Delay before retry number `retry` (1 = the first retry): a uniform draw over the whole
/// milliseconds in [0, min(max, base * 2^(retry-1))], bounds included ("full jitter", AWS
/// architecture blog). The exponent saturates, so any retry count is safe from overflow.
/// `retry` < 1 (the first attempt), or a cap of 0 (base or max <= 0), gives 0 without drawing;
/// otherwise exactly one `random.uniform()` is drawn. Pure apart from that draw.
std::chrono::milliseconds backoff_delay(int retry, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        Random& random);

}  // namespace tollgate::core
