// Authenticator: auth mode resolution and credential checks.
#include "core/identity/authenticator.hpp"

#include <stdexcept>

#include "core/security/tokens.hpp"
#include "core/time_format.hpp"

namespace tollgate::core {
namespace {

constexpr std::string_view kMissing =
    "You didn't provide an API key. Provide your virtual key in an Authorization header using Bearer auth "
    "(Authorization: Bearer YOUR_KEY) or in an api-key header.";

}  // namespace

AuthMode resolve_auth_mode(const config::AuthConfig& auth, bool loopback, bool has_master_key) {
  if (auth.mode == "virtual-keys") return AuthMode::kVirtualKeys;
  if (auth.mode == "auto") return loopback && !has_master_key ? AuthMode::kOpen : AuthMode::kVirtualKeys;
  if (loopback) return AuthMode::kOpen;
  if (!auth.allow_open_on_public)
    throw std::runtime_error(
        "auth.mode is 'open' but tollgate listens on a non-loopback address: anyone who can reach it would spend your "
        "provider budget. Use auth.mode: virtual-keys (or auto) with TOLLGATE_MASTER_KEY set, listen on 127.0.0.1, "
        "or set auth.allow_open_on_public: true to force it.");
  if (!has_master_key)
    throw std::runtime_error(
        "auth.mode is 'open' on a non-loopback address and TOLLGATE_MASTER_KEY is not set: the admin API would be "
        "open to anyone. Set TOLLGATE_MASTER_KEY.");
  return AuthMode::kOpen;
}

Authenticator::Authenticator(AuthMode mode, std::optional<std::string> master_key, const VirtualKeys& keys,
                             const Clock& clock)
    : mode_(mode), keys_(keys), clock_(clock) {
  // Hashed so that comparison is constant-time over equal lengths whatever the key's length.
  if (master_key && !master_key->empty()) master_key_ = sha256_hex(*master_key);
}

bool Authenticator::is_master(std::string_view credential) const noexcept {
  return master_key_ && !credential.empty() && constant_time_equal(sha256_hex(credential), *master_key_);
}

Result<Caller> Authenticator::client(std::string_view credential) const {
  if (credential.starts_with("tg-")) {
    auto key = keys_.authenticate(credential, unix_now(clock_));
    if (key) return Caller{Caller::Kind::kVirtualKey, std::move(*key)};
    // A master key may happen to start with "tg-" too.
    if (is_master(credential)) return Caller{Caller::Kind::kMaster, nullptr};
    if (mode_ == AuthMode::kVirtualKeys) return key.error();
    return Caller{};
  }
  if (is_master(credential)) return Caller{Caller::Kind::kMaster, nullptr};
  if (mode_ == AuthMode::kOpen) return Caller{};
  if (credential.empty()) return make_error(ErrorKind::kInvalidApiKey, std::string(kMissing));
  return make_error(ErrorKind::kInvalidApiKey, "Incorrect API key provided.");
}

Result<Caller> Authenticator::admin(std::string_view credential) const {
  if (!master_key_) {
    if (mode_ == AuthMode::kOpen) return Caller{Caller::Kind::kMaster, nullptr};
    return make_error(ErrorKind::kInvalidApiKey,
                      "The admin API is disabled: start tollgate with TOLLGATE_MASTER_KEY set to use it.");
  }
  if (is_master(credential)) return Caller{Caller::Kind::kMaster, nullptr};
  if (credential.empty())
    return make_error(ErrorKind::kInvalidApiKey,
                      "The admin API needs the master key: Authorization: Bearer $TOLLGATE_MASTER_KEY.");
  return make_error(ErrorKind::kInvalidApiKey, "Incorrect master key provided.");
}

}  // namespace tollgate::core
