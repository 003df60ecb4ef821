// Logging set-up: spdlog, text or JSON lines on stderr, written by a background thread.
#pragma once

#include <string>

namespace tollgate::server {

/// Installs the default logger. `level`: trace|debug|info|warn|error|off; `format`: text|json.
/// Request threads only enqueue; one background thread writes (a full queue blocks rather than
/// dropping lines). Call stop_logging() before exit to flush.
void setup_logging(const std::string& level, const std::string& format);
void stop_logging();

}  // namespace tollgate::server
