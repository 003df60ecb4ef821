// Tokens: base62 secrets (alphabet, uniqueness, uniformity), SHA-256, comparison and fingerprints.
#include <catch2/catch.hpp>

#include <array>
#include <set>
#include <string>

#include "core/security/tokens.hpp"

using namespace tollgate::core;

namespace {
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

TEST_CASE("random_base62 gives the asked length from [0-9A-Za-z]", "[security]") {
  CHECK(random_base62(0).empty());
  for (std::size_t length : {1u, 43u, 64u, 1000u}) {
    const auto token = random_base62(length);
    CHECK(token.size() == length);
    CHECK(token.find_first_not_of(kAlphabet) == std::string::npos);
  }
}

TEST_CASE("10,000 random tokens are all distinct", "[security]") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(random_base62(22));
  CHECK(seen.size() == 10000);
}

TEST_CASE("random_base62 draws every character equally often", "[security]") {
  // A biased `byte % 62` would give the first 8 characters 5/256 instead of 4/248 of the draws:
  // about +21%, and a chi-square near 1300. Uniform draws give a chi-square near 61 (61 degrees of
  // freedom); 150 is exceeded by chance about once in 10^11 runs.
  constexpr std::size_t kDraws = 62 * 4000;
  const auto sample = random_base62(kDraws);
  std::array<std::size_t, 128> counts{};
  for (char c : sample) ++counts[static_cast<unsigned char>(c)];
  const double expected = static_cast<double>(kDraws) / 62;
  double chi_square = 0;
  for (char c : kAlphabet) {
    const double count = static_cast<double>(counts[static_cast<unsigned char>(c)]);
    INFO("character " << c << " drawn " << count << " times");
    CHECK(count > expected * 0.9);
    CHECK(count < expected * 1.1);
    chi_square += (count - expected) * (count - expected) / expected;
  }
  INFO("chi-square " << chi_square);
  CHECK(chi_square < 150);
}

TEST_CASE("sha256_hex matches the FIPS 180-2 answers", "[security]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("constant_time_equal compares content and length", "[security]") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("sk-abc", "sk-abc"));
  CHECK_FALSE(constant_time_equal("sk-abc", "sk-abd"));
  CHECK_FALSE(constant_time_equal("sk-abc", "sk-ab"));
  CHECK_FALSE(constant_time_equal("", "x"));
  CHECK(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  CHECK_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("fingerprint shows little of short secrets and 3+4 characters of long ones", "[security]") {
  CHECK(fingerprint("") == "\xE2\x80\xA6");
  CHECK(fingerprint("abcde") == "\xE2\x80\xA6");
  CHECK(fingerprint("abcdefg") == "\xE2\x80\xA6");
  CHECK(fingerprint("abcdefgh") == "\xE2\x80\xA6gh");
  CHECK(fingerprint("abcdefghijk") == "\xE2\x80\xA6jk");
  CHECK(fingerprint("sk-abcdea1b2") == "sk-\xE2\x80\xA6" "a1b2");
  const std::string long_key = "sk-proj-" + std::string(39, 'x') + "a1b2";
  REQUIRE(long_key.size() == 51);
  CHECK(fingerprint(long_key) == "sk-\xE2\x80\xA6" "a1b2");
}

TEST_CASE("fingerprint never shows bytes that are not printable ASCII", "[security]") {
  // Cutting "é" (two bytes) in half would make the JSON that carries the fingerprint invalid.
  CHECK(fingerprint("\xC3\xA9" "bcdefghij\xC3\xA9") == "??b\xE2\x80\xA6" "ij??");
  CHECK(fingerprint("abcdefghij\n\x01") == "abc\xE2\x80\xA6" "ij??");
}
