// VirtualKeys: the caller keys, indexed in memory for the request path and persisted in the store.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "core/store/store.hpp"

namespace tollgate::core {

using VirtualKey = VirtualKeyRecord;

/// What a caller key's state is at a given time.
enum class KeyState { kActive, kRevoked, kExpired };
KeyState key_state(const VirtualKey& key, UnixMillis now) noexcept;
std::string_view to_string(KeyState state) noexcept;

/// True when the key may call `model` (an empty model list allows every model).
bool allows_model(const VirtualKey& key, std::string_view model) noexcept;

/// A new caller secret: "tg-" and 43 base62 characters (256 bits).
std::string new_virtual_key_secret();

/// Every virtual key, active or not, by id and by secret hash. Thread-safe: lookups take a short
/// lock and hand out immutable snapshots (shared_ptr<const VirtualKey>) that stay valid after a
/// change. Changes go to memory and the store's queue under one lock, so both see them in the
/// same order.
class VirtualKeys {
 public:
  VirtualKeys(Store& store, std::vector<VirtualKeyRecord> loaded);

  /// The request path: the key whose secret is `secret`, if it is active at `now`; otherwise
  /// kInvalidApiKey saying whether the key is unknown, revoked or expired (never echoing it).
  /// The secret is hashed (SHA-256) and found by hash, so lookup time does not depend on how much
  /// of a guessed secret is right; the stored hash is then compared in constant time.
  Result<std::shared_ptr<const VirtualKey>> authenticate(std::string_view secret, UnixMillis now) const;

  std::shared_ptr<const VirtualKey> find(std::string_view id) const;
  std::vector<std::shared_ptr<const VirtualKey>> list() const;  // by creation time

  /// Creates or replaces the key `record.id` (a new key_hash re-indexes it: rotation), then
  /// queues it for the store; `done` runs once it is committed.
  void put(VirtualKeyRecord record, Store::Done done);

 private:
  Store& store_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const VirtualKey>> by_id_;
  std::unordered_map<std::string, std::shared_ptr<const VirtualKey>> by_hash_;
};

}  // namespace tollgate::core
