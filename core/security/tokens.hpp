// Tokens: random identifiers and secrets, hashing, constant-time comparison, display fingerprints.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::core {

/// `chars` characters from [0-9A-Za-z], uniformly distributed (rejection sampling over
/// OpenSSL's RAND_bytes). 43 characters carry more than 256 bits.
std::string random_base62(std::size_t chars);

/// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Compares in time that depends only on the lengths (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// A display form that identifies a secret without revealing it: the first 3 and last 4
/// characters around "…" (`sk-…a1b2`) for secrets of 12+ characters; only "…" and the last 2
/// for 8–11; just "…" below that.
std::string fingerprint(std::string_view secret);

}  // namespace tollgate::core
