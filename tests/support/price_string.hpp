// Catch2 prints a core::Price as {input, output, cached_input} (pico-dollars per token).
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "core/money/money.hpp"

namespace Catch {
template <>
struct StringMaker<tollgate::core::Price> {
  static std::string convert(const tollgate::core::Price& p) {
    return "{" + std::to_string(p.input) + ", " + std::to_string(p.output) + ", " + std::to_string(p.cached_input) +
           "}";
  }
};
}  // namespace Catch
