// Retry classification of upstream statuses.
#include "core/provider.hpp"

#include <stdexcept>

namespace tollgate::core {

void throw_exception_from_error(const AttemptError& e, const boost::source_location&) {
  throw std::runtime_error("unexpected AttemptError: " + e.message);
}

boost::asio::awaitable<EmbeddingResult> Provider::embed(EmbeddingCall) {
  co_return EmbeddingResult(boost::system::in_place_error,
                            AttemptError{.kind = FailureKind::kStatus,
                                         .status = 400,
                                         .retryable = false,
                                         .message = "provider '" + std::string(id()) + "' (type " + std::string(type()) +
                                                    ") cannot compute embeddings",
                                         .body = {},
                                         .retry_after = std::nullopt});
}

bool is_retryable_status(int status) noexcept {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

}  // namespace tollgate::core
