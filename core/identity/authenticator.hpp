// Authenticator: turns a presented credential into a Caller, per the auth mode.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/identity/caller.hpp"
#include "core/identity/virtual_keys.hpp"
#include "core/result.hpp"

namespace tollgate::core {

enum class AuthMode { kOpen, kVirtualKeys };

/// Resolves `auth.mode` for the address tollgate listens on. `auto` is open on loopback when no
/// master key is set, else virtual-keys. Throws std::runtime_error with the fix when the result
/// would expose an unauthenticated gateway: open auth on a non-loopback address unless
/// `auth.allow_open_on_public`, and never there without a master key (the admin API would be open).
AuthMode resolve_auth_mode(const config::AuthConfig& auth, bool loopback, bool has_master_key);

/// Checks credentials. Thread-safe; called on connection strands for every non-public route.
class Authenticator {
 public:
  Authenticator(AuthMode mode, std::optional<std::string> master_key, const VirtualKeys& keys, const Clock& clock);

  /// Client API. A valid virtual key identifies its owner and the master key may call too. In
  /// open mode anything else (SDKs always send some key) is anonymous; otherwise it is a 401
  /// kInvalidApiKey: missing, unknown, revoked or expired.
  Result<Caller> client(std::string_view credential) const;

  /// Admin API: the master key only. In open mode with no master key set, anyone (open mode is
  /// loopback-only then). Otherwise a 401 that says whether the admin API is disabled (no master
  /// key) or the credential is wrong.
  Result<Caller> admin(std::string_view credential) const;

  AuthMode mode() const noexcept { return mode_; }
  bool has_master_key() const noexcept { return master_key_.has_value(); }

 private:
  bool is_master(std::string_view credential) const noexcept;

  AuthMode mode_;
  std::optional<std::string> master_key_;
  const VirtualKeys& keys_;
  const Clock& clock_;
};

}  // namespace tollgate::core
