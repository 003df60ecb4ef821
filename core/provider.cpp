// Retry classification of upstream statuses.
#include "core/provider.hpp"

namespace tollgate::core {

bool is_retryable_status(int status) noexcept {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

}  // namespace tollgate::core
