// Sealer: authenticated encryption (AES-256-GCM, OpenSSL) of secrets kept at rest.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::core {

using SecretBytes = std::array<unsigned char, 32>;

/// Seals and opens small secrets (provider keys) with one 256-bit key. Thread-safe (no shared
/// mutable state; each call uses its own OpenSSL context).
class Sealer {
 public:
  explicit Sealer(const SecretBytes& key) noexcept : key_(key) {}

  /// base64(nonce[12] ‖ ciphertext ‖ tag[16]) with a fresh random nonce per call, so sealing the
  /// same plaintext twice gives different text. `associated` (e.g. the record id) is authenticated
  /// but not stored: open() must be given the same value.
  std::string seal(std::string_view plaintext, std::string_view associated = {}) const;

  /// The plaintext, or nullopt when the text is malformed, was sealed with another key or
  /// associated value, or was tampered with.
  std::optional<std::string> open(std::string_view sealed, std::string_view associated = {}) const;

 private:
  SecretBytes key_;
};

/// Where the store's encryption key came from.
struct SecretKey {
  SecretBytes bytes{};
  std::string source;  // "TOLLGATE_SECRET_KEY", or the path of the key file
  bool generated = false;  // true when the key file was created by this call
};

/// The key that seals stored provider keys:
/// - from `env_value` (TOLLGATE_SECRET_KEY) when set: 64 hex digits are the key itself; any other
///   value of at least 32 characters is hashed with SHA-256; shorter values throw
///   std::runtime_error saying so (never echoing the value);
/// - else from `<data_dir>/secret.key` (64 hex digits and an optional newline);
/// - else 32 fresh random bytes written there as hex, created exclusively with mode 0600.
/// Throws std::runtime_error with the path and reason when the file is unreadable or malformed.
SecretKey load_secret_key(const std::string& data_dir, const std::optional<std::string>& env_value);

}  // namespace tollgate::core
