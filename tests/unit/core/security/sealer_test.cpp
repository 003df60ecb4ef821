// Sealer: AES-256-GCM round trips, tamper detection, a NIST known answer, and secret key loading.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/security/sealer.hpp"
#include "core/security/tokens.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;
using tollgate::testing::TempDir;
namespace fs = std::filesystem;

namespace {

SecretBytes key_of(unsigned char fill) {
  SecretBytes key;
  key.fill(fill);
  return key;
}

std::vector<unsigned char> from_hex(std::string_view hex) {
  std::vector<unsigned char> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

std::string base64(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  out.resize(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size())));
  return out;
}

std::vector<unsigned char> unbase64(const std::string& text) {
  std::vector<unsigned char> out(text.size() / 4 * 3);
  const int size = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  REQUIRE(size >= 0);
  out.resize(size - std::count(text.end() - 2, text.end(), '='));
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string thrown_message(const std::string& dir, const std::optional<std::string>& env) {
  try {
    load_secret_key(dir, env);
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  FAIL("load_secret_key did not throw");
  return {};
}

}  // namespace

TEST_CASE("seal then open returns the plaintext for empty, 1-byte and 10 KB secrets", "[security]") {
  const Sealer sealer(key_of(7));
  std::string big(10 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 5);
  for (const std::string& plaintext : {std::string(), std::string("x"), big}) {
    INFO("size " << plaintext.size());
    const auto sealed = sealer.seal(plaintext, "key-1");
    CHECK(sealed.size() == 4 * ((12 + plaintext.size() + 16 + 2) / 3));
    const auto opened = sealer.open(sealed, "key-1");
    REQUIRE(opened.has_value());
    CHECK(*opened == plaintext);
  }
}

TEST_CASE("sealing the same plaintext twice gives different texts that both open", "[security]") {
  const Sealer sealer(key_of(1));
  const auto first = sealer.seal("sk-proj-abcdef");
  const auto second = sealer.seal("sk-proj-abcdef");
  CHECK(first != second);
  CHECK(sealer.open(first) == std::optional<std::string>("sk-proj-abcdef"));
  CHECK(sealer.open(second) == std::optional<std::string>("sk-proj-abcdef"));
}

TEST_CASE("open refuses another key, another associated value, truncation and non-base64", "[security]") {
  const Sealer sealer(key_of(1));
  const auto sealed = sealer.seal("sk-secret", "id-1");
  CHECK_FALSE(Sealer(key_of(2)).open(sealed, "id-1").has_value());
  CHECK_FALSE(sealer.open(sealed, "id-2").has_value());
  CHECK_FALSE(sealer.open(sealed).has_value());
  CHECK_FALSE(sealer.open(sealed.substr(0, sealed.size() - 4), "id-1").has_value());
  CHECK_FALSE(sealer.open(sealed.substr(4), "id-1").has_value());
  CHECK_FALSE(sealer.open("", "id-1").has_value());
  CHECK_FALSE(sealer.open("not base64 at all!", "id-1").has_value());
  CHECK_FALSE(sealer.open(sealed + "\n", "id-1").has_value());
  CHECK_FALSE(sealer.open(" " + sealed, "id-1").has_value());
  // Well-formed base64 of fewer bytes than nonce and tag.
  CHECK_FALSE(sealer.open(base64(std::vector<unsigned char>(27, 0)), "id-1").has_value());
  CHECK(sealer.open(sealed, "id-1") == std::optional<std::string>("sk-secret"));
}

TEST_CASE("flipping any bit of the sealed bytes or of the text makes open fail", "[security]") {
  const Sealer sealer(key_of(3));
  for (const std::string plaintext : {"", "sk-a", "sk-ant-0123456789"}) {
    const auto sealed = sealer.seal(plaintext, "aad");
    const auto raw = unbase64(sealed);
    REQUIRE(raw.size() == 12 + plaintext.size() + 16);
    for (std::size_t bit = 0; bit < raw.size() * 8; ++bit) {
      auto tampered = raw;
      tampered[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      INFO("plaintext size " << plaintext.size() << ", byte bit " << bit);
      CHECK_FALSE(sealer.open(base64(tampered), "aad").has_value());
    }
    // Base64 has spare bits in its last characters: a non-canonical spelling is refused too.
    for (std::size_t bit = 0; bit < sealed.size() * 8; ++bit) {
      auto tampered = sealed;
      tampered[bit / 8] ^= static_cast<char>(1u << (bit % 8));
      INFO("plaintext size " << plaintext.size() << ", text bit " << bit);
      CHECK_FALSE(sealer.open(tampered, "aad").has_value());
    }
  }
}

TEST_CASE("open agrees with the AES-256-GCM test vectors of the GCM specification", "[security]") {
  SECTION("test case 16: 256-bit key, 96-bit IV, associated data") {
    SecretBytes key;
    const auto key_bytes = from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
    const auto sealed = base64(from_hex(
        "cafebabefacedbaddecaf888"
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0a"
        "bcc9f662"
        "76fc6ece0f4e1768cddf8853bb2d551b"));
    const auto associated = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const auto plain = from_hex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de65"
        "7ba637b39");
    const auto opened = Sealer(key).open(sealed, std::string(associated.begin(), associated.end()));
    REQUIRE(opened.has_value());
    CHECK(*opened == std::string(plain.begin(), plain.end()));
  }
  SECTION("test cases 13 and 14: zero key and IV, empty and one zero block") {
    const Sealer sealer(key_of(0));
    CHECK(sealer.open(base64(from_hex("000000000000000000000000530f8afbc74536b9a963b4f1c4cb738b"))) ==
          std::optional<std::string>(""));
    CHECK(sealer.open(base64(from_hex("000000000000000000000000cea7403d4d606b6e074ec5d3baf39d18"
                                      "d0d1c8a799996bf0265b98b5d48ab919"))) == std::optional<std::string>(std::string(16, '\0')));
  }
}

TEST_CASE("the secret key comes from 64 hex digits in the environment", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const std::string hex = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100";
  const auto key = load_secret_key(dir.path().string(), hex);
  CHECK(key.source == "TOLLGATE_SECRET_KEY");
  CHECK_FALSE(key.generated);
  CHECK(key.bytes[0] == 0x00);
  CHECK(key.bytes[1] == 0x11);
  CHECK(key.bytes[15] == 0xff);
  CHECK(key.bytes[16] == 0xff);
  CHECK(key.bytes[31] == 0x00);
  // A trailing newline (a key file pasted into the variable) is not part of the key.
  CHECK(load_secret_key(dir.path().string(), hex + "\n").bytes == key.bytes);
  CHECK_FALSE(fs::exists(dir.path() / "secret.key"));
}

TEST_CASE("any other value of 32+ characters is hashed with SHA-256", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const std::string passphrase = "correct horse battery staple, and then some";
  const auto key = load_secret_key(dir.path().string(), passphrase);
  const auto expected = from_hex(sha256_hex(passphrase));
  CHECK(std::vector<unsigned char>(key.bytes.begin(), key.bytes.end()) == expected);
  CHECK(key.source == "TOLLGATE_SECRET_KEY");
  // 63 hex digits are not a key: they are a passphrase.
  const std::string almost_hex(63, 'a');
  const auto hashed = from_hex(sha256_hex(almost_hex));
  const auto from_almost = load_secret_key(dir.path().string(), almost_hex).bytes;
  CHECK(std::vector<unsigned char>(from_almost.begin(), from_almost.end()) == hashed);
}

TEST_CASE("a value shorter than 32 characters throws without echoing it", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const std::string value = "hunter2-is-my-password";
  const auto message = thrown_message(dir.path().string(), value);
  CHECK(message.find("TOLLGATE_SECRET_KEY") != std::string::npos);
  CHECK(message.find("32") != std::string::npos);
  CHECK(message.find(value) == std::string::npos);
  CHECK(message.find("hunter") == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "secret.key"));
}

TEST_CASE("without the variable a key file is created with mode 0600, then reused", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const auto path = dir.path() / "secret.key";
  const auto first = load_secret_key(dir.path().string(), std::nullopt);
  CHECK(first.generated);
  CHECK(first.source == path.string());
  REQUIRE(fs::exists(path));
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  const auto text = read_file(path);
  REQUIRE(text.size() == 65);
  CHECK(text.back() == '\n');
  CHECK(text.find_first_not_of("0123456789abcdef") == 64);
  const auto bytes = from_hex(text.substr(0, 64));
  CHECK(std::vector<unsigned char>(first.bytes.begin(), first.bytes.end()) == bytes);
  CHECK(first.bytes != SecretBytes{});

  const auto second = load_secret_key(dir.path().string(), std::nullopt);
  CHECK_FALSE(second.generated);
  CHECK(second.bytes == first.bytes);
  CHECK(read_file(path) == text);
  // An empty variable counts as unset.
  CHECK(load_secret_key(dir.path().string(), std::string()).bytes == first.bytes);
  // No temporary file is left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("the key file is created in a data directory that does not exist yet", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const auto nested = dir.path() / "data" / "inner";
  const auto key = load_secret_key(nested.string(), std::nullopt);
  CHECK(key.generated);
  CHECK(fs::exists(nested / "secret.key"));
}

TEST_CASE("a hand-written key file without a newline is read as is", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  write_file(dir.path() / "secret.key", std::string(64, 'A'));
  const auto key = load_secret_key(dir.path().string(), std::nullopt);
  CHECK_FALSE(key.generated);
  CHECK(key.bytes == key_of(0xAA));
}

TEST_CASE("a malformed key file throws naming the path, not the content", "[security]") {
  TempDir dir("tollgate-sealer-test-");
  const auto path = dir.path() / "secret.key";
  for (const std::string& content : {std::string(), std::string(63, 'a'), std::string(64, 'g'),
                                    std::string(64, 'a') + "\n\n", std::string(128, 'b'), std::string("zz") + std::string(62, 'c')}) {
    write_file(path, content);
    const auto message = thrown_message(dir.path().string(), std::nullopt);
    INFO(message);
    CHECK(message.find(path.string()) != std::string::npos);
    if (content.size() >= 8) CHECK(message.find(content.substr(0, 8)) == std::string::npos);
  }
  fs::remove(path);
  fs::create_directory(path);
  CHECK(thrown_message(dir.path().string(), std::nullopt).find(path.string()) != std::string::npos);
}
