// UpstreamKeys: provider key pools over config keys and sealed API keys.
#include "core/identity/upstream_keys.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/security/tokens.hpp"

namespace tollgate::core {
namespace {

using KeyMap = std::unordered_map<std::string, std::shared_ptr<const UpstreamKey>>;

/// Config keys first (in config order), then API keys by creation time.
std::vector<std::shared_ptr<const UpstreamKey>> sorted(const KeyMap& keys, std::string_view provider_id) {
  std::vector<std::shared_ptr<const UpstreamKey>> out;
  for (const auto& [id, key] : keys)
    if (provider_id.empty() || key->record.provider_id == provider_id) out.push_back(key);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a->from_config != b->from_config) return a->from_config;
    if (a->record.created_at != b->record.created_at) return a->record.created_at < b->record.created_at;
    if (a->record.id.size() != b->record.id.size()) return a->record.id.size() < b->record.id.size();
    return a->record.id < b->record.id;
  });
  return out;
}

}  // namespace

UpstreamKeys::UpstreamKeys(const config::Config& config, Store& store, const Sealer& sealer,
                           std::vector<UpstreamKeyRecord> loaded)
    : store_(store), sealer_(sealer) {
  for (const auto& provider : config.providers) {
    std::size_t n = 0;
    for (std::size_t k = 0; k < provider.keys.size(); ++k) {
      const std::string& material = provider.keys[k];
      // "${OPENAI_API_KEY}" with the variable unset expands to "": that is no key.
      if (material.empty()) continue;
      auto key = std::make_shared<UpstreamKey>();
      key->record.id = "cfg_" + provider.id + "_" + std::to_string(n++);
      if (k < provider.key_limits.size()) {
        const auto& limits = provider.key_limits[k];
        if (limits.rpm > 0) key->record.rpm = limits.rpm;
        if (limits.tpm > 0) key->record.tpm = limits.tpm;
      }
      key->record.provider_id = provider.id;
      key->record.fingerprint = fingerprint(material);
      key->material = material;
      key->from_config = true;
      by_id_[key->record.id] = std::move(key);
    }
  }
  for (auto& record : loaded) {
    auto material = sealer_.open(record.sealed, record.id);
    if (!material)
      throw std::runtime_error("stored upstream key " + record.id +
                               " cannot be decrypted: TOLLGATE_SECRET_KEY (or data/secret.key) is not the key it was "
                               "stored with");
    auto key = std::make_shared<UpstreamKey>();
    key->record = std::move(record);
    key->material = std::move(*material);
    by_id_[key->record.id] = std::move(key);
  }
  std::lock_guard lock(mutex_);
  for (const auto& provider : config.providers) rebuild_locked(provider.id);
  for (const auto& [id, key] : by_id_) rebuild_locked(key->record.provider_id);
}

void UpstreamKeys::rebuild_locked(const std::string& provider_id) {
  auto pool = std::make_shared<Pool>();
  for (auto& key : sorted(by_id_, provider_id)) {
    pool->has_keys = true;
    if (key->record.state == "active") pool->active.push_back(std::move(key));
  }
  pools_[provider_id] = std::move(pool);
}

KeyChoice UpstreamKeys::next(std::string_view provider_id, std::optional<Clock::Steady::time_point> now) {
  std::shared_ptr<const Pool> pool;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pools_.find(provider_id); it != pools_.end()) pool = it->second;
  }
  if (!pool || pool->active.empty()) return KeyChoice{nullptr, pool && pool->has_keys, std::nullopt};
  const auto& active = pool->active;
  const auto n = cursor_.fetch_add(1, std::memory_order_relaxed);
  if (!now) return KeyChoice{active[n % active.size()], true, std::nullopt};
  // Round-robin from the cursor, passing over keys that rest; one pass at most. A key only
  // predicted to be out of quota is avoided while another is free, and used when none is: the
  // prediction may be wrong, a cooldown (the upstream's own 429) is not.
  std::optional<Clock::Steady::time_point> soonest;
  const std::shared_ptr<const UpstreamKey>* predicted = nullptr;
  for (std::size_t i = 0; i < active.size(); ++i) {
    const auto& key = active[(n + i) % active.size()];
    const std::string_view id = key->record.id;
    if (auto until = cooldowns_.until(id, *now)) {
      if (!soonest || *until < *soonest) soonest = until;
      continue;
    }
    if (auto until = limited_until(*key, *now)) {
      if (!soonest || *until < *soonest) soonest = until;
      continue;
    }
    if (cooldowns_.predicted_exhausted(id, 1, *now)) {
      if (predicted == nullptr) predicted = &key;
      continue;
    }
    take_request(*key, *now);
    return KeyChoice{key, true, std::nullopt};
  }
  if (predicted != nullptr) {
    take_request(**predicted, *now);
    return KeyChoice{*predicted, true, std::nullopt};
  }
  return KeyChoice{nullptr, true, soonest};
}

std::optional<Clock::Steady::time_point> UpstreamKeys::limited_until(const UpstreamKey& key,
                                                                     Clock::Steady::time_point now) const {
  const auto rpm = key.record.rpm.value_or(0);
  const auto tpm = key.record.tpm.value_or(0);
  if (rpm <= 0 && tpm <= 0) return std::nullopt;
  std::lock_guard lock(limits_mutex_);
  auto it = buckets_.find(key.record.id);
  if (it == buckets_.end()) return std::nullopt;
  // Probes on copies: only take_request() and charge_tokens() change a bucket.
  std::chrono::nanoseconds wait{0};
  if (rpm > 0) {
    GcraState probe = it->second.rpm;
    const Decision d = gcra_acquire(probe, per_minute(rpm), 1, now);
    if (!d.allowed) wait = std::max(wait, d.retry_after);
  }
  if (tpm > 0) {
    // Tokens are charged after the answer; a key whose minute is spent waits for the refill.
    GcraState probe = it->second.tpm;
    const Decision d = gcra_acquire(probe, per_minute(tpm), 1, now);
    if (!d.allowed) wait = std::max(wait, d.retry_after);
  }
  if (wait <= std::chrono::nanoseconds::zero()) return std::nullopt;
  return now + wait;
}

void UpstreamKeys::take_request(const UpstreamKey& key, Clock::Steady::time_point now) {
  const auto rpm = key.record.rpm.value_or(0);
  if (rpm <= 0 && key.record.tpm.value_or(0) <= 0) return;
  std::lock_guard lock(limits_mutex_);
  Buckets& buckets = buckets_[key.record.id];
  if (rpm > 0) gcra_adjust(buckets.rpm, per_minute(rpm), 1, now);
}

void UpstreamKeys::charge_tokens(std::string_view key_id, std::int64_t tokens, Clock::Steady::time_point now) {
  if (tokens <= 0) return;
  auto key = find(key_id);
  if (!key || key->record.tpm.value_or(0) <= 0) return;
  std::lock_guard lock(limits_mutex_);
  gcra_adjust(buckets_[key->record.id].tpm, per_minute(*key->record.tpm), tokens, now);
}

bool UpstreamKeys::any_usable(std::string_view provider_id, Clock::Steady::time_point now) const {
  std::shared_ptr<const Pool> pool;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pools_.find(provider_id); it != pools_.end()) pool = it->second;
  }
  if (!pool) return false;
  return std::any_of(pool->active.begin(), pool->active.end(),
                     [&](const auto& key) { return !cooldowns_.cooling(key->record.id, now) && !limited_until(*key, now); });
}

std::optional<Clock::Steady::time_point> UpstreamKeys::unavailable_until(std::string_view provider_id,
                                                                        Clock::Steady::time_point now) const {
  std::shared_ptr<const Pool> pool;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pools_.find(provider_id); it != pools_.end()) pool = it->second;
  }
  if (!pool || !pool->has_keys) return std::nullopt;
  std::optional<Clock::Steady::time_point> soonest;
  for (const auto& key : pool->active) {
    auto until = cooldowns_.until(key->record.id, now);
    if (!until) until = limited_until(*key, now);
    if (!until) return std::nullopt;
    if (!soonest || *until < *soonest) soonest = until;
  }
  return soonest ? soonest : Clock::Steady::time_point::max();
}

std::optional<std::chrono::milliseconds> UpstreamKeys::observe(std::string_view key_id, int status,
                                                               const Headers& headers, Clock::Steady::time_point now,
                                                               std::int64_t wall_now_ms) {
  cooldowns_.note_window(key_id, read_rate_window(headers, wall_now_ms), now);
  if (status != 429) return std::nullopt;
  const auto rest = retry_delay(headers, wall_now_ms).value_or(std::chrono::seconds(1));
  cooldowns_.cool_down(key_id, now + rest);
  return rest;
}

std::optional<Clock::Steady::time_point> UpstreamKeys::cooling_until(std::string_view key_id,
                                                                    Clock::Steady::time_point now) const {
  return cooldowns_.until(key_id, now);
}

std::shared_ptr<const UpstreamKey> UpstreamKeys::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const UpstreamKey>> UpstreamKeys::list(std::string_view provider_id) const {
  std::lock_guard lock(mutex_);
  return sorted(by_id_, provider_id);
}

void UpstreamKeys::put(UpstreamKeyRecord record, std::string material, Store::Done done) {
  record.sealed = sealer_.seal(material, record.id);
  record.fingerprint = fingerprint(material);
  auto key = std::make_shared<UpstreamKey>();
  key->record = record;
  key->material = std::move(material);
  std::lock_guard lock(mutex_);
  const std::string provider_id = key->record.provider_id;
  by_id_[key->record.id] = std::move(key);
  rebuild_locked(provider_id);
  store_.put_upstream_key(std::move(record), std::move(done));
}

bool UpstreamKeys::disable(std::string_view id, std::string reason, UnixMillis now) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end() || it->second->record.state == "disabled") return false;
  auto key = std::make_shared<UpstreamKey>(*it->second);
  key->record.state = "disabled";
  key->record.state_reason = std::move(reason);
  key->record.updated_at = now;
  const std::string provider_id = key->record.provider_id;
  if (!key->from_config) store_.put_upstream_key(key->record);
  it->second = std::move(key);
  rebuild_locked(provider_id);
  return true;
}

bool UpstreamKeys::remove(std::string_view id, Store::Done done) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end() || it->second->from_config) return false;
  const std::string provider_id = it->second->record.provider_id;
  by_id_.erase(it);
  rebuild_locked(provider_id);
  store_.delete_upstream_key(std::string(id), std::move(done));
  return true;
}

}  // namespace tollgate::core
