// ConfigError: a configuration or start-up problem, naming the file and the key path.
#pragma once

#include <stdexcept>
#include <string>

namespace tollgate::config {

/// Thrown while loading or validating configuration; caught once in main, which prints what()
/// ("FILE: KEY.PATH: WHAT") and exits 1.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, std::string key_path, std::string what);

  const std::string& file() const noexcept { return file_; }
  const std::string& key_path() const noexcept { return key_path_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string file_;
  std::string key_path_;
  std::string problem_;
};

}  // namespace tollgate::config
