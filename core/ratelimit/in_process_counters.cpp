// InProcessCounters: rate-limit buckets in sharded, mutex-guarded maps, swept of idle buckets.
#include "core/ratelimit/in_process_counters.hpp"

#include <algorithm>

namespace tollgate::core {

InProcessCounters::InProcessCounters(std::size_t shards, std::size_t sweep_every)
    : shard_count_(std::max<std::size_t>(shards, 1)),
      sweep_every_(std::max<std::size_t>(sweep_every, 1)),
      shards_(std::make_unique<Shard[]>(shard_count_)) {
  for (std::size_t i = 0; i < shard_count_; ++i) shards_[i].ops_until_sweep = sweep_every_;
}

InProcessCounters::Shard& InProcessCounters::shard_for(std::string_view key) {
  return shards_[KeyHash{}(key) % shard_count_];
}

Decision InProcessCounters::acquire(std::string_view key, Rate rate, std::int64_t cost, Clock::Steady::time_point now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  Decision decision;
  if (auto it = shard.buckets.find(key); it != shard.buckets.end()) {
    decision = gcra_acquire(it->second, rate, cost, now);
  } else {
    // A bucket is stored only once it holds something, so denied or empty requests for ever new
    // keys cannot fill the map.
    GcraState state;
    decision = gcra_acquire(state, rate, cost, now);
    if (!gcra_idle(state, now)) shard.buckets.emplace(std::string(key), state);
  }
  count_operation(shard, now);
  return decision;
}

void InProcessCounters::adjust(std::string_view key, Rate rate, std::int64_t delta, Clock::Steady::time_point now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.buckets.find(key); it != shard.buckets.end()) {
    gcra_adjust(it->second, rate, delta, now);
  } else {
    GcraState state;
    gcra_adjust(state, rate, delta, now);
    if (!gcra_idle(state, now)) shard.buckets.emplace(std::string(key), state);
  }
  count_operation(shard, now);
}

std::size_t InProcessCounters::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].buckets.size();
  }
  return total;
}

void InProcessCounters::count_operation(Shard& shard, Clock::Steady::time_point now) {
  if (--shard.ops_until_sweep > 0) return;
  std::erase_if(shard.buckets, [now](const auto& entry) { return gcra_idle(entry.second, now); });
  shard.ops_until_sweep = std::max(sweep_every_, shard.buckets.size());
}

std::unique_ptr<SharedCounters> make_in_process_counters() { return std::make_unique<InProcessCounters>(); }

}  // namespace tollgate::core
