// Sealer: AES-256-GCM sealing of stored secrets, and the secret key from the environment or data dir.
#include "core/security/sealer.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace tollgate::core {
namespace {

constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;
// Secrets are API keys; the cap keeps every length within OpenSSL's int parameters.
constexpr std::size_t kMaxInput = std::size_t{1} << 24;
constexpr std::size_t kMaxSealed = (kMaxInput + kNonceBytes + kTagBytes + 2) / 3 * 4;
constexpr std::string_view kEnvName = "TOLLGATE_SECRET_KEY";
constexpr std::size_t kMinPassphrase = 32;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* bytes_of(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

std::string base64_encode(const unsigned char* data, std::size_t size) {
  // EVP_EncodeBlock writes 4*ceil(n/3) characters and a terminating NUL.
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Only the canonical encoding is accepted (no whitespace, zero pad bits), so that every sealed text
// has one spelling and a changed character can never decode to the same bytes.
std::optional<std::vector<unsigned char>> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > kMaxSealed) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  const int decoded = EVP_DecodeBlock(out.data(), bytes_of(text), static_cast<int>(text.size()));
  if (decoded < 0) return std::nullopt;
  // EVP_DecodeBlock decodes padding as zero bytes and counts them.
  std::size_t padding = 0;
  if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<std::size_t>(decoded) - padding);
  if (base64_encode(out.data(), out.size()) != text) return std::nullopt;
  return out;
}

[[noreturn]] void fail_openssl(const char* what) { throw std::runtime_error(std::string("Sealer: ") + what + " failed"); }

std::optional<SecretBytes> parse_hex_key(std::string_view text) {
  if (text.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  SecretBytes key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int high = nibble(text[2 * i]);
    const int low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0) {
      OPENSSL_cleanse(key.data(), key.size());
      return std::nullopt;
    }
    key[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return key;
}

std::string to_hex(const SecretBytes& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * key.size());
  for (unsigned char byte : key) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0F]);
  }
  return out;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

SecretKey key_from_env(std::string_view value) {
  // Surrounding whitespace is never meant as key material (a pasted key file keeps its newline).
  value = trim(value);
  SecretKey key;
  key.source = std::string(kEnvName);
  if (auto hex = parse_hex_key(value)) {
    key.bytes = *hex;
    OPENSSL_cleanse(hex->data(), hex->size());
    return key;
  }
  if (value.size() < kMinPassphrase)
    throw std::runtime_error(std::string(kEnvName) +
                             " is too short: use 64 hex digits (openssl rand -hex 32) or a passphrase of at least 32 "
                             "characters");
  unsigned int length = 0;
  if (EVP_Digest(value.data(), value.size(), key.bytes.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != key.bytes.size())
    fail_openssl("SHA-256");
  return key;
}

[[noreturn]] void fail_file(const std::string& path, const std::string& reason) {
  throw std::runtime_error("secret key file " + path + ": " + reason);
}

[[noreturn]] void fail_errno(const std::string& path, const char* operation) {
  fail_file(path, std::string(operation) + ": " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// nullopt when the file does not exist.
std::optional<SecretBytes> read_key_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail_errno(path, "open");
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) fail_errno(path, "stat");
  if (!S_ISREG(info.st_mode)) fail_file(path, "not a regular file");
  // 64 hex digits and a newline; anything longer is malformed, so a short read suffices.
  std::array<char, 80> buffer{};
  std::size_t size = 0;
  while (size < buffer.size()) {
    const ssize_t got = ::read(fd.get(), buffer.data() + size, buffer.size() - size);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail_errno(path, "read");
    }
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  std::string_view text(buffer.data(), size);
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  auto key = parse_hex_key(text);
  OPENSSL_cleanse(buffer.data(), buffer.size());
  if (!key) fail_file(path, "expected 64 hex digits and an optional newline");
  if ((info.st_mode & 077) != 0) spdlog::warn("secret key file {} is accessible to other users; chmod 600 it", path);
  return key;
}

// Creates `path` exclusively with mode 0600 and `content`, durably. False when it already exists.
bool write_new_file(const std::string& path, std::string_view content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) return false;
    fail_errno(path, "create");
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t put = ::write(fd.get(), content.data() + done, content.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      const int saved = errno;
      ::unlink(path.c_str());
      errno = saved;
      fail_errno(path, "write");
    }
    done += static_cast<std::size_t>(put);
  }
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
    const int saved = errno;
    ::unlink(path.c_str());
    errno = saved;
    fail_errno(path, "fsync");
  }
  return true;
}

void fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

// Writes a fresh key to `path` unless another process got there first. The key is written to a
// private temporary file and hard-linked into place, so no reader ever sees a half-written key
// file; file systems without hard links fall back to creating `path` exclusively.
bool create_key_file(const std::string& path, const SecretBytes& key) {
  std::array<unsigned char, 8> suffix{};
  if (RAND_bytes(suffix.data(), static_cast<int>(suffix.size())) != 1) fail_openssl("RAND_bytes");
  std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-";
  for (unsigned char byte : suffix) temp += "0123456789abcdef"[byte & 0x0F];

  std::string content = to_hex(key) + "\n";
  struct Wipe {
    std::string& text;
    ~Wipe() { OPENSSL_cleanse(text.data(), text.size()); }
  } wipe{content};

  if (!write_new_file(temp, content)) fail_file(temp, "temporary file already exists");
  bool created = false;
  if (::link(temp.c_str(), path.c_str()) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    created = write_new_file(path, content);
  }
  ::unlink(temp.c_str());
  if (created) fsync_directory(std::filesystem::path(path).parent_path());
  return created;
}

}  // namespace

std::string Sealer::seal(std::string_view plaintext, std::string_view associated) const {
  if (plaintext.size() > kMaxInput || associated.size() > kMaxInput)
    throw std::invalid_argument("Sealer: input too large");
  std::vector<unsigned char> out(kNonceBytes + plaintext.size() + kTagBytes);
  unsigned char* nonce = out.data();
  unsigned char* cipher = nonce + kNonceBytes;
  if (RAND_bytes(nonce, kNonceBytes) != 1) fail_openssl("RAND_bytes");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) fail_openssl("EVP_CIPHER_CTX_new");
  // AES-GCM's default IV length is the 12 bytes used here.
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1) fail_openssl("encrypt init");
  int length = 0;
  if (!associated.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes_of(associated), static_cast<int>(associated.size())) != 1)
    fail_openssl("associated data");
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), cipher, &length, bytes_of(plaintext), static_cast<int>(plaintext.size())) != 1)
      fail_openssl("encrypt");
    written = length;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + written, &length) != 1) fail_openssl("encrypt final");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, cipher + plaintext.size()) != 1)
    fail_openssl("tag");
  return base64_encode(out.data(), out.size());
}

std::optional<std::string> Sealer::open(std::string_view sealed, std::string_view associated) const {
  if (associated.size() > kMaxInput) return std::nullopt;
  auto raw = base64_decode(sealed);
  if (!raw || raw->size() < static_cast<std::size_t>(kNonceBytes + kTagBytes)) return std::nullopt;
  const unsigned char* nonce = raw->data();
  const unsigned char* cipher = nonce + kNonceBytes;
  const std::size_t cipher_size = raw->size() - kNonceBytes - kTagBytes;
  // The tag is handed to OpenSSL through a non-const pointer, though only read.
  unsigned char* tag = raw->data() + kNonceBytes + cipher_size;

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1) return std::nullopt;
  int length = 0;
  if (!associated.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes_of(associated), static_cast<int>(associated.size())) != 1)
    return std::nullopt;
  std::string plain(cipher_size, '\0');
  auto* plain_bytes = reinterpret_cast<unsigned char*>(plain.data());
  int written = 0;
  bool ok = true;
  if (cipher_size > 0) {
    ok = EVP_DecryptUpdate(ctx.get(), plain_bytes, &length, cipher, static_cast<int>(cipher_size)) == 1;
    written = length;
  }
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), plain_bytes + written, &length) == 1;
  if (!ok) {
    // Unauthenticated plaintext must not linger in freed memory either.
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  return plain;
}

SecretKey load_secret_key(const std::string& data_dir, const std::optional<std::string>& env_value) {
  // An empty variable counts as unset: `TOLLGATE_SECRET_KEY=${TOLLGATE_SECRET_KEY:-}` in compose files.
  if (env_value && !env_value->empty()) return key_from_env(*env_value);

  const std::filesystem::path dir(data_dir);
  const std::string path = (dir / "secret.key").string();
  SecretKey key;
  key.source = path;
  if (auto existing = read_key_file(path)) {
    key.bytes = *existing;
    OPENSSL_cleanse(existing->data(), existing->size());
    return key;
  }

  std::error_code error;
  if (!dir.empty()) std::filesystem::create_directories(dir, error);
  if (error) fail_file(path, "cannot create directory " + data_dir + ": " + error.message());
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1) fail_openssl("RAND_bytes");
  if (create_key_file(path, key.bytes)) {
    key.generated = true;
    return key;
  }
  // Another process created the file between our read and our write: use its key.
  auto theirs = read_key_file(path);
  if (!theirs) fail_file(path, "disappeared while being created");
  key.bytes = *theirs;
  OPENSSL_cleanse(theirs->data(), theirs->size());
  return key;
}

}  // namespace tollgate::core
