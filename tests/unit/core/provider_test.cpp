// Retry classification of upstream statuses.
#include <catch2/catch.hpp>

#include "core/provider.hpp"

using tollgate::core::is_retryable_status;

TEST_CASE("408, 409, 429 and every 5xx are retried elsewhere") {
  for (int status : {408, 409, 429, 500, 502, 503, 504, 529, 599}) {
    INFO(status);
    CHECK(is_retryable_status(status));
  }
}

TEST_CASE("other 4xx are the request's own fault and are not retried") {
  for (int status : {400, 401, 403, 404, 405, 413, 415, 422, 451}) {
    INFO(status);
    CHECK_FALSE(is_retryable_status(status));
  }
}
