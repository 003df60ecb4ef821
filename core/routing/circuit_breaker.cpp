// CircuitBreaker: bucketed sliding window, open/half-open/closed transitions and growing cool-off.
#include "core/routing/circuit_breaker.hpp"

#include <algorithm>
#include <limits>

namespace tollgate::core {
namespace {

constexpr std::int64_t kMaxNanos = std::numeric_limits<std::int64_t>::max();

std::int64_t nanos(Clock::Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  std::int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

// now + by (>= 0), clamped to the largest time point instead of wrapping for absurd cool-offs.
Clock::Steady::time_point saturating_add(Clock::Steady::time_point now, std::int64_t by_nanos) {
  const std::int64_t start = nanos(now);
  const std::int64_t end = start > 0 && by_nanos > kMaxNanos - start ? kMaxNanos : start + by_nanos;
  return Clock::Steady::time_point{std::chrono::duration_cast<Clock::Steady::duration>(std::chrono::nanoseconds{end})};
}

BreakerOptions normalized(BreakerOptions options) {
  options.min_requests = std::max(options.min_requests, 1);
  options.half_open_probes = std::max(options.half_open_probes, 1);
  options.cool_off = std::max(options.cool_off, std::chrono::milliseconds{0});
  return options;
}

}  // namespace

std::string_view to_string(CircuitState state) noexcept {
  switch (state) {
    case CircuitState::kClosed: return "closed";
    case CircuitState::kOpen: return "open";
    case CircuitState::kHalfOpen: return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options)
    : options_(normalized(options)),
      bucket_nanos_(std::max<std::int64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(options_.window).count() / kBreakerBuckets, 1)) {
  // Every bucket starts far outside any window, so none counts before its first outcome.
  for (auto& bucket : buckets_) bucket.index = std::numeric_limits<std::int64_t>::min();
}

bool CircuitBreaker::try_acquire(Clock::Steady::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case CircuitState::kClosed:
      return true;
    case CircuitState::kOpen:
      if (now < reopens_at_) return false;
      state_ = CircuitState::kHalfOpen;
      probes_in_flight_ = 0;
      probes_succeeded_ = 0;
      break;
    case CircuitState::kHalfOpen:
      break;
  }
  // Probes that already succeeded count towards the quota, so exactly half_open_probes successes
  // close the circuit and no more probes than that are ever admitted per half-open period.
  if (probes_in_flight_ + probes_succeeded_ >= options_.half_open_probes) return false;
  ++probes_in_flight_;
  return true;
}

void CircuitBreaker::record(bool success, Clock::Steady::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case CircuitState::kClosed: {
      const std::int64_t index = bucket_index(now);
      auto& bucket = buckets_[static_cast<std::size_t>((index % kBreakerBuckets + kBreakerBuckets) % kBreakerBuckets)];
      if (bucket.index != index) bucket = Bucket{index, 0, 0};
      ++bucket.requests;
      if (success) return;
      ++bucket.failures;
      const Counts window = counts(now);
      if (window.requests >= options_.min_requests &&
          static_cast<double>(window.failures) / window.requests >= options_.failure_rate) {
        cool_off_factor_ = 1;
        open(now);
      }
      return;
    }
    case CircuitState::kOpen:
      return;
    case CircuitState::kHalfOpen:
      if (probes_in_flight_ == 0) return;
      --probes_in_flight_;
      if (!success) {
        cool_off_factor_ = std::min(cool_off_factor_ * 2, kMaxCoolOffFactor);
        open(now);
        return;
      }
      if (++probes_succeeded_ >= options_.half_open_probes) close();
      return;
  }
}

void CircuitBreaker::release(Clock::Steady::time_point) {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::kHalfOpen && probes_in_flight_ > 0) --probes_in_flight_;
}

CircuitState CircuitBreaker::state(Clock::Steady::time_point now) const {
  std::lock_guard lock(mutex_);
  return state_at(now);
}

std::optional<Clock::Steady::time_point> CircuitBreaker::reopens_at() const {
  std::lock_guard lock(mutex_);
  if (state_ != CircuitState::kOpen) return std::nullopt;
  return reopens_at_;
}

CircuitBreaker::Snapshot CircuitBreaker::snapshot(Clock::Steady::time_point now) const {
  std::lock_guard lock(mutex_);
  const Counts window = counts(now);
  const double rate = window.requests > 0 ? static_cast<double>(window.failures) / window.requests : 0.0;
  return Snapshot{state_at(now), window.requests, window.failures, rate};
}

std::int64_t CircuitBreaker::bucket_index(Clock::Steady::time_point now) const noexcept {
  return floor_div(nanos(now), bucket_nanos_);
}

CircuitBreaker::Counts CircuitBreaker::counts(Clock::Steady::time_point now) const noexcept {
  const std::int64_t current = bucket_index(now);
  Counts total;
  for (const auto& bucket : buckets_) {
    // Buckets from the future (a caller's `now` that went backwards) count too rather than vanish.
    if (bucket.index > current - kBreakerBuckets) {
      total.requests += bucket.requests;
      total.failures += bucket.failures;
    }
  }
  return total;
}

CircuitState CircuitBreaker::state_at(Clock::Steady::time_point now) const noexcept {
  if (state_ == CircuitState::kOpen && now >= reopens_at_) return CircuitState::kHalfOpen;
  return state_;
}

void CircuitBreaker::open(Clock::Steady::time_point now) noexcept {
  state_ = CircuitState::kOpen;
  probes_in_flight_ = 0;
  probes_succeeded_ = 0;
  const std::int64_t cool_off = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.cool_off).count();
  const std::int64_t factor = cool_off_factor_;
  reopens_at_ = saturating_add(now, cool_off > kMaxNanos / factor ? kMaxNanos : cool_off * factor);
}

void CircuitBreaker::close() noexcept {
  state_ = CircuitState::kClosed;
  probes_in_flight_ = 0;
  probes_succeeded_ = 0;
  cool_off_factor_ = 1;
  for (auto& bucket : buckets_) bucket = Bucket{std::numeric_limits<std::int64_t>::min(), 0, 0};
}

}  // namespace tollgate::core
