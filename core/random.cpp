// Random: the thread-local system generator and the scripted test sequence.
#include "core/random.hpp"

#include <cstdint>
#include <random>
#include <stdexcept>

namespace tollgate::core {

Random::~Random() = default;

double SystemRandom::uniform() {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64{seed};
  }()};
  // The top 53 bits scaled by 2^-53 are exact doubles in [0, 1); std::uniform_real_distribution
  // may round up to 1.0 in libstdc++ (LWG 2524).
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

SequenceRandom::SequenceRandom(std::vector<double> values) : values_(std::move(values)) {
  if (values_.empty()) throw std::invalid_argument("SequenceRandom needs at least one value");
  for (const double value : values_) {
    if (!(value >= 0.0 && value < 1.0)) throw std::invalid_argument("SequenceRandom values must be in [0, 1)");
  }
}

double SequenceRandom::uniform() { return values_[next_.fetch_add(1) % values_.size()]; }

}  // namespace tollgate::core
