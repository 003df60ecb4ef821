// ConfigError: composes "FILE: KEY.PATH: WHAT" once, at construction.
#include "config/config_error.hpp"

#include <utility>

namespace tollgate::config {
namespace {

std::string compose(const std::string& file, const std::string& key_path, const std::string& what) {
  std::string message = file.empty() ? std::string("<config>") : file;
  message += ": ";
  // A whole-file problem (syntax, unreadable file) has no key path to name.
  if (!key_path.empty()) {
    message += key_path;
    message += ": ";
  }
  message += what;
  return message;
}

}  // namespace

ConfigError::ConfigError(std::string file, std::string key_path, std::string what)
    : std::runtime_error(compose(file, key_path, what)),
      file_(std::move(file)),
      key_path_(std::move(key_path)),
      problem_(std::move(what)) {}

}  // namespace tollgate::config
