// Tests for SseParser: line ends, splits at every byte, fields, comments and the event size bound.
#include "adapters/sse_parser.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using tollgate::adapters::SseEvent;
using tollgate::adapters::SseParser;

namespace {

std::vector<SseEvent> parse_all(std::string_view text) {
  SseParser parser;
  std::vector<SseEvent> out;
  REQUIRE(parser.feed(text, out));
  return out;
}

/// Feeds `text` split into pieces at the given positions.
std::vector<SseEvent> parse_split(std::string_view text, std::vector<std::size_t> cuts, SseParser& parser) {
  std::vector<SseEvent> out;
  std::size_t from = 0;
  cuts.push_back(text.size());
  for (std::size_t cut : cuts) {
    REQUIRE(parser.feed(text.substr(from, cut - from), out));
    from = cut;
  }
  return out;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("SseParser dispatches data events at blank lines") {
  auto events = parse_all("data: {\"a\":1}\n\ndata: [DONE]\n\n");
  REQUIRE(events.size() == 2);
  CHECK(events[0].data == "{\"a\":1}");
  CHECK(events[0].event.empty());
  CHECK(events[1].data == "[DONE]");
}

TEST_CASE("SseParser gives the same events for every split of a transcript, with LF, CRLF and CR") {
  const std::string lf =
      ": ping\n"
      "event: message_start\n"
      "id: 7\n"
      "data: {\"x\":\"a b\"}\n"
      "\n"
      "data:first\n"
      "data: second\n"
      "\n"
      "retry: 100\n"
      "unknown: field\n"
      "data\n"
      "\n"
      "event: ping\n"
      "\n";
  std::string crlf;
  std::string cr;
  for (char c : lf) {
    if (c == '\n') {
      crlf += "\r\n";
      cr += '\r';
    } else {
      crlf += c;
      cr += c;
    }
  }
  const auto expected = parse_all(lf);
  REQUIRE(expected.size() == 4);
  CHECK(expected[0].event == "message_start");
  CHECK(expected[0].id == "7");
  CHECK(expected[0].data == "{\"x\":\"a b\"}");
  CHECK(expected[1].data == "first\nsecond");
  CHECK(expected[1].id == "7");  // the last event id persists
  CHECK(expected[2].data.empty());
  CHECK(expected[2].event.empty());
  CHECK(expected[3].event == "ping");
  CHECK(expected[3].data.empty());

  for (const std::string* text : std::vector<const std::string*>{&lf, &crlf, &cr}) {
    CHECK(same(parse_all(*text), expected));
    for (std::size_t i = 0; i <= text->size(); ++i) {
      SseParser parser;
      INFO("split at " << i);
      CHECK(same(parse_split(*text, {i}, parser), expected));
      CHECK_FALSE(parser.has_partial());
    }
    for (std::size_t i = 0; i + 1 <= text->size(); i += 3) {
      SseParser parser;
      INFO("split at " << i << " and " << i + 1);
      CHECK(same(parse_split(*text, {i, i + 1}, parser), expected));
    }
  }
  // One byte per feed.
  SseParser parser;
  std::vector<SseEvent> out;
  for (char c : crlf) REQUIRE(parser.feed(std::string_view(&c, 1), out));
  CHECK(same(out, expected));
}

TEST_CASE("SseParser treats CR then LF in the next feed as one line end") {
  SseParser parser;
  std::vector<SseEvent> out;
  REQUIRE(parser.feed("data: a\r", out));
  REQUIRE(parser.feed("\ndata: b\r", out));
  REQUIRE(parser.feed("\n\r", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "a\nb");
  // The LF after a CR belongs to it; a second LF is a blank line of its own.
  REQUIRE(parser.feed("\n", out));
  CHECK(out.size() == 1);
  REQUIRE(parser.feed("data: c\r", out));
  REQUIRE(parser.feed("\n\n", out));
  REQUIRE(out.size() == 2);
  CHECK(out[1].data == "c");
}

TEST_CASE("SseParser skips comments and pings without dispatching") {
  auto events = parse_all(": ping\n\n:\n\n: keep-alive\ndata: x\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "x");
}

TEST_CASE("SseParser strips exactly one space after the colon") {
  auto events = parse_all("data:no-space\n\ndata:  two spaces\n\ndata: a:b\n\n");
  REQUIRE(events.size() == 3);
  CHECK(events[0].data == "no-space");
  CHECK(events[1].data == " two spaces");
  CHECK(events[2].data == "a:b");
}

TEST_CASE("SseParser reads a field without colon as a field with an empty value") {
  auto events = parse_all("data\ndata\n\nevent\ndata: y\n\n");
  REQUIRE(events.size() == 2);
  CHECK(events[0].data == "\n");
  CHECK(events[1].event.empty());
  CHECK(events[1].data == "y");
}

TEST_CASE("SseParser dispatches an empty data line as an empty event") {
  auto events = parse_all("data:\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data.empty());
}

TEST_CASE("SseParser does not dispatch a block with only an id or unknown fields") {
  SseParser parser;
  std::vector<SseEvent> out;
  REQUIRE(parser.feed("id: 1\n\nfoo: bar\n\n", out));
  CHECK(out.empty());
  REQUIRE(parser.feed("data: z\n\n", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == "1");
}

TEST_CASE("SseParser keeps a final event without a blank line pending") {
  SseParser parser;
  std::vector<SseEvent> out;
  CHECK_FALSE(parser.has_partial());
  REQUIRE(parser.feed("data: done\n\ndata: cut", out));
  REQUIRE(out.size() == 1);
  CHECK(parser.has_partial());
  REQUIRE(parser.feed(" off\n", out));
  CHECK(out.size() == 1);
  CHECK(parser.has_partial());
  REQUIRE(parser.feed("\n", out));
  REQUIRE(out.size() == 2);
  CHECK(out[1].data == "cut off");
  CHECK_FALSE(parser.has_partial());
}

TEST_CASE("SseParser fails once one event grows past max_event_bytes") {
  SECTION("over several data lines") {
    SseParser parser(16);
    std::vector<SseEvent> out;
    REQUIRE(parser.feed("data: 0123456789\n\n", out));  // 10 bytes: fine
    REQUIRE(out.size() == 1);
    REQUIRE(parser.feed("data: 0123456789\n", out));
    CHECK_FALSE(parser.feed("data: 0123456789\n", out));
    CHECK(out.size() == 1);
  }
  SECTION("inside one unfinished line") {
    SseParser parser(16);
    std::vector<SseEvent> out;
    REQUIRE(parser.feed("data: 0123456789", out));
    CHECK_FALSE(parser.feed("0123456789", out));
  }
  SECTION("one long complete line") {
    SseParser parser(16);
    std::vector<SseEvent> out;
    CHECK_FALSE(parser.feed("data: " + std::string(17, 'x') + "\n\n", out));
  }
  SECTION("exactly at the limit is fine") {
    SseParser parser(16);
    std::vector<SseEvent> out;
    REQUIRE(parser.feed("data: " + std::string(16, 'x') + "\n\n", out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].data.size() == 16);
  }
}
