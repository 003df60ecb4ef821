// Ewma: exponentially weighted moving average of a measurement (latency, time to first token).
#pragma once

#include <atomic>
#include <cmath>
#include <limits>

namespace tollgate::core {

/// Exponentially weighted moving average. Thread-safe: `add` and `value` may be called from any
/// thread at once (one atomic, updated with compare-exchange). The first sample is taken as is;
/// each later one moves the average by `alpha` × (sample − average). `value()` is 0 until the first
/// sample, which routing reads as "unknown" (`has_value()` tells a real 0 apart).
class Ewma {
 public:
  /// `alpha` in (0, 1]: the weight of the newest sample; anything else is clamped into that range.
  explicit Ewma(double alpha) noexcept
      : alpha_(std::isfinite(alpha) && alpha > 0 ? (alpha > 1 ? 1.0 : alpha) : kMinAlpha) {}

  /// Folds in one sample. Negative and non-finite samples are ignored (a clock glitch must not
  /// poison the average).
  void add(double sample) noexcept {
    if (!std::isfinite(sample) || sample < 0) return;
    double current = value_.load(std::memory_order_relaxed);
    // NaN marks "no sample yet" inside the one atomic, so a racing first sample cannot be lost.
    while (!value_.compare_exchange_weak(current, std::isnan(current) ? sample : current + alpha_ * (sample - current),
                                         std::memory_order_relaxed)) {
    }
  }

  /// The current average; 0 before the first sample.
  double value() const noexcept {
    const double v = value_.load(std::memory_order_relaxed);
    return std::isnan(v) ? 0.0 : v;
  }

  /// Whether any sample has been added.
  bool has_value() const noexcept { return !std::isnan(value_.load(std::memory_order_relaxed)); }

  double alpha() const noexcept { return alpha_; }

 private:
  static constexpr double kMinAlpha = 1e-3;
  double alpha_;
  std::atomic<double> value_{std::numeric_limits<double>::quiet_NaN()};
};

}  // namespace tollgate::core
