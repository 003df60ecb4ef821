// Test support: golden wire fixtures under tests/fixtures/, CRLF transcripts, and header lookup in adapter output.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "core/headers.hpp"

namespace tollgate::testing {

/// The bytes of tests/fixtures/<relative> (e.g. "anthropic/message.json"); fails the test when absent.
inline std::string read_fixture(const std::string& relative) {
  std::ifstream in(std::string(TOLLGATE_SOURCE_DIR) + "/tests/fixtures/" + relative, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// `text` with every LF preceded by CR: a wire transcript as a CRLF server sends it.
inline std::string with_crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

/// The value of the first header named exactly `name`, or "<absent>".
inline std::string header_value(const core::Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key == name) return value;
  return "<absent>";
}

}  // namespace tollgate::testing
