// SharedCounters: rate-limit buckets shared by every request (in process now; Redis for replicas).
#pragma once

#include <memory>
#include <string_view>

#include "core/ratelimit/gcra.hpp"

namespace tollgate::core {

/// Named buckets, created full on first use. Thread-safe; calls are short and never block on I/O
/// in the in-process implementation.
class SharedCounters {
 public:
  virtual ~SharedCounters() = default;
  /// gcra_acquire on the bucket `key`.
  virtual Decision acquire(std::string_view key, Rate rate, std::int64_t cost, Clock::Steady::time_point now) = 0;
  /// gcra_adjust on the bucket `key`.
  virtual void adjust(std::string_view key, Rate rate, std::int64_t delta, Clock::Steady::time_point now) = 0;
};

/// Buckets in this process: a mutex-sharded hash map; buckets that have refilled completely are
/// dropped from time to time, so memory follows the number of active keys, not all keys ever seen.
std::unique_ptr<SharedCounters> make_in_process_counters();

}  // namespace tollgate::core
