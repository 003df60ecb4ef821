// Reply: what a pipeline stage returns — a buffered body, a chunk stream, or a gateway error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/headers.hpp"
#include "core/openai/usage.hpp"
#include "core/pipeline/chunk_stream.hpp"

namespace tollgate::core {

/// Exactly one of: a buffered JSON body (any status, e.g. an upstream 400 passed through as is),
/// a stream of chunks (status 200, SSE), or tollgate's own error (rendered in OpenAI's shape).
struct Reply {
  int status = 200;
  Headers headers;                       // extra response headers (x-tollgate-*, Retry-After…)
  std::string body;                      // buffered JSON body
  std::unique_ptr<ChunkStream> stream;   // set for a streamed reply
  std::optional<GatewayError> failure;   // set for tollgate's own error
  std::optional<Usage> usage;            // a buffered completion's usage, when known

  static Reply json(int status, std::string body) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Reply chunks(std::unique_ptr<ChunkStream> stream) {
    Reply r;
    r.stream = std::move(stream);
    return r;
  }
  static Reply error(GatewayError error) {
    Reply r;
    r.status = error.info().status;
    r.failure = std::move(error);
    return r;
  }

  bool is_stream() const noexcept { return stream != nullptr; }
  bool is_error() const noexcept { return failure.has_value(); }
  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

}  // namespace tollgate::core
