// VirtualKeys: in-memory index of caller keys over the durable store.
#include "core/identity/virtual_keys.hpp"

#include <algorithm>

#include "core/security/tokens.hpp"
#include "core/time_format.hpp"

namespace tollgate::core {

KeyState key_state(const VirtualKey& key, UnixMillis now) noexcept {
  if (key.revoked_at) return KeyState::kRevoked;
  if (key.expires_at && *key.expires_at <= now) return KeyState::kExpired;
  return KeyState::kActive;
}

std::string_view to_string(KeyState state) noexcept {
  switch (state) {
    case KeyState::kActive: return "active";
    case KeyState::kRevoked: return "revoked";
    case KeyState::kExpired: return "expired";
  }
  return "active";
}

bool allows_model(const VirtualKey& key, std::string_view model) noexcept {
  return key.models.empty() || std::find(key.models.begin(), key.models.end(), model) != key.models.end();
}

std::string new_virtual_key_secret() { return "tg-" + random_base62(43); }

VirtualKeys::VirtualKeys(Store& store, std::vector<VirtualKeyRecord> loaded) : store_(store) {
  for (auto& record : loaded) {
    auto key = std::make_shared<const VirtualKey>(std::move(record));
    by_hash_[key->key_hash] = key;
    by_id_[key->id] = std::move(key);
  }
}

Result<std::shared_ptr<const VirtualKey>> VirtualKeys::authenticate(std::string_view secret, UnixMillis now) const {
  const std::string hash = sha256_hex(secret);
  std::shared_ptr<const VirtualKey> key;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_hash_.find(hash); it != by_hash_.end()) key = it->second;
  }
  if (!key || !constant_time_equal(key->key_hash, hash))
    return make_error(ErrorKind::kInvalidApiKey, "Incorrect API key provided.");
  switch (key_state(*key, now)) {
    case KeyState::kActive: return key;
    case KeyState::kRevoked: return make_error(ErrorKind::kInvalidApiKey, "This API key has been revoked.");
    case KeyState::kExpired:
      return make_error(ErrorKind::kInvalidApiKey, "This API key expired at " + format_rfc3339(*key->expires_at) + ".");
  }
  return make_error(ErrorKind::kInvalidApiKey, "Incorrect API key provided.");
}

std::shared_ptr<const VirtualKey> VirtualKeys::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const VirtualKey>> VirtualKeys::list() const {
  std::vector<std::shared_ptr<const VirtualKey>> keys;
  {
    std::lock_guard lock(mutex_);
    keys.reserve(by_id_.size());
    for (const auto& [id, key] : by_id_) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id;
  });
  return keys;
}

void VirtualKeys::put(VirtualKeyRecord record, Store::Done done) {
  auto key = std::make_shared<const VirtualKey>(record);
  std::lock_guard lock(mutex_);
  if (auto old = by_id_.find(key->id); old != by_id_.end() && old->second->key_hash != key->key_hash)
    by_hash_.erase(old->second->key_hash);
  by_hash_[key->key_hash] = key;
  by_id_[key->id] = std::move(key);
  store_.put_virtual_key(std::move(record), std::move(done));
}

}  // namespace tollgate::core
