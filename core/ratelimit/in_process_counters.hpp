// InProcessCounters: SharedCounters kept in this process, in mutex-sharded hash maps.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/ratelimit/shared_counters.hpp"

namespace tollgate::core {

/// Buckets in this process. A key hashes to one of `shards` maps, each behind its own mutex held
/// only for one GCRA step. Every `sweep_every` operations on a shard (or as many operations as it
/// holds buckets, when that is more, so sweeping costs O(1) per operation) the shard drops the
/// buckets that are full at that moment: a full bucket and a missing one behave the same.
class InProcessCounters final : public SharedCounters {
 public:
  explicit InProcessCounters(std::size_t shards = 16, std::size_t sweep_every = 4096);

  Decision acquire(std::string_view key, Rate rate, std::int64_t cost, Clock::Steady::time_point now) override;
  void adjust(std::string_view key, Rate rate, std::int64_t delta, Clock::Steady::time_point now) override;

  /// Buckets currently held, over all shards.
  std::size_t size() const;

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, GcraState, KeyHash, std::equal_to<>> buckets;
    std::size_t ops_until_sweep = 0;
  };

  Shard& shard_for(std::string_view key);
  /// Counts one operation on `shard` (its mutex held) and sweeps it when due.
  void count_operation(Shard& shard, Clock::Steady::time_point now);

  std::size_t shard_count_;
  std::size_t sweep_every_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace tollgate::core
