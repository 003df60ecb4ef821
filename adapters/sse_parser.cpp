// SseParser: WHATWG event-stream parsing, one pass over each feed with memchr. Hand-written: no
// Debian-packaged C++ library parses text/event-stream, and the rules fit in one small file.
#include "adapters/sse_parser.hpp"

#include <cstring>

namespace tollgate::adapters {

namespace {

/// The first occurrence of `c` in [from, end), remembered in `cache` so that each byte is
/// scanned once per feed even when lines mix LF and CR.
const char* next_of(char c, const char* from, const char* end, const char*& cache) {
  if (cache == nullptr || (cache != end && cache < from)) {
    const void* hit = std::memchr(from, c, static_cast<std::size_t>(end - from));
    cache = hit != nullptr ? static_cast<const char*>(hit) : end;
  }
  return cache;
}

}  // namespace

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  if (skip_lf_ && p != end) {
    if (*p == '\n') ++p;
    skip_lf_ = false;
  }

  const char* lf_cache = nullptr;
  const char* cr_cache = nullptr;
  while (p != end) {
    const char* lf = next_of('\n', p, end, lf_cache);
    const char* cr = next_of('\r', p, end, cr_cache);
    const char* eol = lf < cr ? lf : cr;
    if (eol == end) {
      line_.append(p, end);
      break;
    }
    if (line_.empty()) {
      // The whole line is in this feed: parse it in place, no copy.
      process_line(std::string_view(p, static_cast<std::size_t>(eol - p)), out);
    } else {
      line_.append(p, eol);
      process_line(line_, out);
      line_.clear();
    }
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) {
        skip_lf_ = true;
      } else if (*p == '\n') {
        ++p;
      }
    }
    if (pending_.data.size() + pending_.event.size() > max_event_bytes_) return false;
  }
  return pending_.data.size() + pending_.event.size() + line_.size() <= max_event_bytes_;
}

bool SseParser::has_partial() const noexcept { return dirty_ || !line_.empty(); }

void SseParser::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    if (has_data_ || !pending_.event.empty()) {
      SseEvent& event = out.emplace_back();
      event.event.swap(pending_.event);
      event.data.swap(pending_.data);
      // The last event id persists across events (WHATWG "last event ID buffer").
      event.id = pending_.id;
    }
    pending_.event.clear();
    pending_.data.clear();
    has_data_ = false;
    dirty_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment, e.g. ": ping"

  std::string_view field = line;
  std::string_view value;
  if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  dirty_ = true;

  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id.assign(value);
  }
  // "retry" and unknown fields are ignored: nothing here reconnects on its own.
}

}  // namespace tollgate::adapters
