// Logging set-up. Logs go to stderr or a file, never to stdout: in stdio mode
// stdout carries the protocol.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace icotes {

/// Configures the default spdlog logger. `level` is one of trace, debug,
/// info, warn, error, off. An empty `file` logs to stderr.
/// Returns false (and logs to stderr) when the file cannot be opened.
bool setup_logging(const std::string& level, const std::string& file);

}  // namespace icotes
