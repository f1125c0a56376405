#include "icotes/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace icotes {

bool setup_logging(const std::string& level, const std::string& file) {
  bool ok = true;
  std::shared_ptr<spdlog::logger> logger;
  if (!file.empty()) {
    try {
      logger = spdlog::basic_logger_mt("icotes", file);
    } catch (const spdlog::spdlog_ex& e) {
      ok = false;
      logger = spdlog::stderr_logger_mt("icotes-stderr");
      logger->error("cannot open log file {}: {}", file, e.what());
    }
  } else {
    logger = spdlog::stderr_logger_mt("icotes");
  }
  logger->set_level(spdlog::level::from_str(level.empty() ? "info" : level));
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return ok;
}

}  // namespace icotes
