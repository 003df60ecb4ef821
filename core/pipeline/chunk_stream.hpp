// ChunkStream: a pull-based stream of OpenAI chat.completion.chunk payloads.
#pragma once

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/openai/usage.hpp"
#include "core/result.hpp"

namespace tollgate::core {

/// One SSE event for the client: the JSON text after `data: `.
struct Chunk {
  std::string data;
  std::optional<Usage> usage;  // set on the chunk that reported the stream's usage
  bool usage_only = false;     // the chunk carries usage and no choices (stream_options.include_usage)
};

/// A stream of chunks, pulled by one consumer on one strand. Decorators (usage stripping, cache
/// recording, fan-out, accounting) wrap a ChunkStream in another.
class ChunkStream {
 public:
  virtual ~ChunkStream() = default;
  /// The next chunk; nullopt at the clean end of the stream (after which next() is not called
  /// again); an error when the stream broke (upstream reset, idle timeout, malformed event).
  /// `[DONE]` is the end, never a chunk. Destroying the stream mid-way cancels the upstream.
  virtual boost::asio::awaitable<Result<std::optional<Chunk>>> next() = 0;
  /// True when next() will complete without waiting on I/O (a chunk is already buffered). The
  /// writer uses it to batch several chunks into one socket write. Decorators forward it.
  virtual bool ready() const noexcept { return false; }
};

}  // namespace tollgate::core
