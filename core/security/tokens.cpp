// Tokens: random base62 secrets, SHA-256, constant-time comparison and display fingerprints (OpenSSL).
#include "core/security/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace tollgate::core {
namespace {

constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// 248 = 4 * 62: bytes at or above it are thrown away, so every character is equally likely.
constexpr unsigned kBase62Cutoff = 4 * kBase62.size();
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026

// What a fingerprint shows of a secret must be printable ASCII: anything else could split a UTF-8
// sequence (and break the JSON it goes into) or put control characters into a log line.
char shown(char c) { return c > 0x20 && c < 0x7F ? c : '?'; }

}  // namespace

std::string random_base62(std::size_t chars) {
  std::string out;
  out.reserve(chars);
  std::array<unsigned char, 64> pool{};
  while (out.size() < chars) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      throw std::runtime_error("random_base62: the OpenSSL random generator failed");
    for (unsigned char byte : pool) {
      if (byte >= kBase62Cutoff) continue;
      out.push_back(kBase62[byte % kBase62.size()]);
      if (out.size() == chars) break;
    }
  }
  OPENSSL_cleanse(pool.data(), pool.size());
  return out;
}

std::string sha256_hex(std::string_view data) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up on every digest (an implicit
  // fetch, about half the cost of hashing a short string). Never freed: it lives as long as the process.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, kSha256 != nullptr ? kSha256 : EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("sha256_hex: OpenSSL digest failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0F]);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string fingerprint(std::string_view secret) {
  std::string out;
  if (secret.size() >= 12) {
    for (char c : secret.substr(0, 3)) out.push_back(shown(c));
    out += kEllipsis;
    for (char c : secret.substr(secret.size() - 4)) out.push_back(shown(c));
  } else if (secret.size() >= 8) {
    out += kEllipsis;
    for (char c : secret.substr(secret.size() - 2)) out.push_back(shown(c));
  } else {
    out += kEllipsis;
  }
  return out;
}

}  // namespace tollgate::core
