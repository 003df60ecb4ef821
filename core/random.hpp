// Random: injected randomness, so jittered and weighted policies can be tested exactly.
#pragma once

#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <vector>

namespace tollgate::core {

/// Source of uniform random numbers for policies (backoff jitter, weighted picks).
/// Implementations are thread-safe; callers hold a reference whose owner outlives them.
class Random {
 public:
  virtual ~Random();
  /// A draw in [0, 1): never 1.0, so `floor(uniform() * n)` is always a valid index below n.
  virtual double uniform() = 0;
};

/// The real source: one std::mt19937_64 per thread, seeded from std::random_device on first use,
/// so draws take no lock.
class SystemRandom final : public Random {
 public:
  double uniform() override;
};

/// A source tests script: returns `values` in order, then again from the start.
class SequenceRandom final : public Random {
 public:
  /// Throws std::invalid_argument when `values` is empty or a value is outside [0, 1).
  explicit SequenceRandom(std::vector<double> values);
  SequenceRandom(std::initializer_list<double> values) : SequenceRandom(std::vector<double>(values)) {}
  double uniform() override;
  /// How many values have been drawn so far.
  std::size_t draws() const noexcept { return next_.load(); }

 private:
  std::vector<double> values_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace tollgate::core
