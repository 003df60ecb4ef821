// App: the composition root — builds every service from the config, runs the server, shuts down.
#pragma once

#include <memory>

#include "config/config.hpp"

namespace tollgate::server {

/// Owns the io_context, its threads, every service and the signal handling. The only place
/// where services are wired together.
class App {
 public:
  explicit App(std::shared_ptr<const config::Config> config);
  ~App();
  /// Serves until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish within
  /// server.shutdown_grace, and returns the process exit code (0). Throws std::runtime_error when
  /// it cannot start (e.g. the port is taken).
  int run();

 private:
  std::shared_ptr<const config::Config> config_;
};

}  // namespace tollgate::server
