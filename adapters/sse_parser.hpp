// SseParser: incremental Server-Sent Events parsing (WHATWG event-stream rules).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::adapters {

/// One dispatched event. `event` is empty for the default "message" type.
struct SseEvent {
  std::string event;
  std::string data;  // data lines joined with '\n'
  std::string id;
};

/// Turns bytes as they arrive (any split, LF / CRLF / CR line ends) into events. Comment lines
/// (": ping") are skipped, multi-line `data:` joined, one leading space after the colon dropped,
/// unknown fields ignored; an event is dispatched at a blank line. Not thread-safe: one per stream.
class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 8u << 20) : max_event_bytes_(max_event_bytes) {}

  /// Appends every event completed by `bytes` to `out`. Returns false when one event grows past
  /// max_event_bytes (the stream should then be treated as broken).
  bool feed(std::string_view bytes, std::vector<SseEvent>& out);

  /// True when bytes of an unfinished event are pending (a stream that ends now was truncated).
  bool has_partial() const noexcept;

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);

  std::size_t max_event_bytes_;
  std::string line_;      // the unfinished line
  bool skip_lf_ = false;  // the last byte was CR: a following LF belongs to it
  SseEvent pending_;
  bool has_data_ = false;
  bool dirty_ = false;  // any field seen since the last dispatch
};

}  // namespace tollgate::adapters
