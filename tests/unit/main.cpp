// Catch2 entry point for the unit tests; library logging is silenced unless TOLLGATE_TEST_LOGS is set.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>
#include <spdlog/spdlog.h>

int main(int argc, char* argv[]) {
  if (std::getenv("TOLLGATE_TEST_LOGS") == nullptr) spdlog::set_level(spdlog::level::off);
  return Catch::Session().run(argc, argv);
}
