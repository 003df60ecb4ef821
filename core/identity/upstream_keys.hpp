// UpstreamKeys: one pool of provider keys per provider, from the config file and the admin API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/headers.hpp"
#include "core/ratelimit/gcra.hpp"
#include "core/routing/key_cooldowns.hpp"
#include "core/security/sealer.hpp"
#include "core/store/store.hpp"

namespace tollgate::core {

/// One usable provider key. `material` is the secret: never logged, never returned.
struct UpstreamKey {
  UpstreamKeyRecord record;  // id, provider, fingerprint, state…; `sealed` empty for config keys
  std::string material;
  bool from_config = false;
};

/// The key a request should use, or why there is none.
struct KeyChoice {
  std::shared_ptr<const UpstreamKey> key;  // null: call without credentials, or no key usable
  bool provider_has_keys = false;          // true with a null key: every key is disabled or resting
  std::optional<Clock::Steady::time_point> available_at;  // every key resting: when the first is free
};

/// Keys of every provider. Config keys (ids `cfg_<provider>_<n>`, read-only) and API keys (sealed
/// in the store) form one pool per provider. Thread-safe: next() copies one shared_ptr under a
/// short lock; a change builds a new snapshot for its provider, so a registered key is used by
/// the very next request.
class UpstreamKeys {
 public:
  /// Opens every stored key with `sealer`; throws std::runtime_error when one cannot be opened
  /// (the secret key changed), naming the key id, never the material.
  UpstreamKeys(const config::Config& config, Store& store, const Sealer& sealer, std::vector<UpstreamKeyRecord> loaded);

  /// The next active key of `provider_id`, round-robin. Given `now`, keys cooling down after a
  /// 429, over their own rpm/tpm (config `{key, rpm, tpm}` or the API key's rpm/tpm), or
  /// predicted out of quota by their last rate-limit headers, are passed over; when every active
  /// key rests, the choice has no key and says when the first is free. The key chosen is charged
  /// one request against its rpm.
  KeyChoice next(std::string_view provider_id, std::optional<Clock::Steady::time_point> now = std::nullopt);
  /// True when `provider_id` has an active key not resting at `now` (next() would give one).
  bool any_usable(std::string_view provider_id, Clock::Steady::time_point now) const;
  /// nullopt when `provider_id` has a key usable at `now`, or no key at all (it is called without
  /// credentials); else when its first resting key is free, or Steady::time_point::max() when every
  /// key is disabled. A key only predicted out of quota counts as usable (next() would use it).
  std::optional<Clock::Steady::time_point> unavailable_until(std::string_view provider_id,
                                                             Clock::Steady::time_point now) const;
  /// What an upstream answered to `key_id` at `now`: its rate-limit headers feed the quota
  /// prediction, and a 429 rests the key until the upstream's Retry-After (or reset headers; 1 s
  /// when it gives none). A new cooldown never shortens one already running. Returns the rest.
  std::optional<std::chrono::milliseconds> observe(std::string_view key_id, int status, const Headers& headers,
                                                   Clock::Steady::time_point now, std::int64_t wall_now_ms);
  /// Charges the tokens a request used on `key_id` against the key's tpm (no effect without one).
  void charge_tokens(std::string_view key_id, std::int64_t tokens, Clock::Steady::time_point now);
  /// When `key_id`'s cooldown ends, if it is cooling at `now` (for the admin view).
  std::optional<Clock::Steady::time_point> cooling_until(std::string_view key_id, Clock::Steady::time_point now) const;

  std::shared_ptr<const UpstreamKey> find(std::string_view id) const;
  /// Every key (of one provider when `provider_id` is not empty), config keys first, then by creation.
  std::vector<std::shared_ptr<const UpstreamKey>> list(std::string_view provider_id = {}) const;

  /// Creates or replaces an API key (seals `material` into the record) and queues it for the store.
  void put(UpstreamKeyRecord record, std::string material, Store::Done done);
  /// Takes a key out of rotation because its upstream rejected it (401/403): state "disabled" with
  /// `reason`, in memory at once, and in the store for an API key (a config key is disabled until
  /// restart). False when the key is unknown or already disabled.
  bool disable(std::string_view id, std::string reason, UnixMillis now);
  /// Removes an API key; false when there is no such API key.
  bool remove(std::string_view id, Store::Done done);

  const Sealer& sealer() const noexcept { return sealer_; }

 private:
  /// One provider's keys as next() sees them.
  struct Pool {
    std::vector<std::shared_ptr<const UpstreamKey>> active;
    bool has_keys = false;  // any key at all, disabled ones included
  };
  /// Looks pools up by string_view: next() runs per attempt and must not build a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept { return std::hash<std::string_view>{}(name); }
  };
  void rebuild_locked(const std::string& provider_id);
  /// How long `key` must wait for its own rpm/tpm at `now`; nullopt: it may take a request now.
  std::optional<Clock::Steady::time_point> limited_until(const UpstreamKey& key, Clock::Steady::time_point now) const;
  /// Takes one request from `key`'s rpm.
  void take_request(const UpstreamKey& key, Clock::Steady::time_point now);

  struct Buckets {
    GcraState rpm;
    GcraState tpm;
  };

  Store& store_;
  const Sealer& sealer_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const UpstreamKey>> by_id_;
  std::unordered_map<std::string, std::shared_ptr<const Pool>, NameHash, std::equal_to<>> pools_;  // by provider
  std::atomic<std::uint64_t> cursor_{0};
  KeyCooldowns cooldowns_;
  mutable std::mutex limits_mutex_;  // guards buckets_
  std::unordered_map<std::string, Buckets> buckets_;  // keys with an rpm or tpm, by id
};

}  // namespace tollgate::core
