// Test support: an EnvLookup over a fixed map, so config tests never touch the process environment.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "config/loader.hpp"

namespace tollgate::testing {

inline config::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace tollgate::testing
