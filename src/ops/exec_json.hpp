// The exec/* operations' params as JSON (schemas/exec/*.json). Absent
// members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "icotes/json.hpp"

namespace icotes::exec {

/// What exec/run and exec/runCode share.
struct CommonParams {
  std::optional<std::string> stdin_data;        // "stdin"; else /dev/null
  std::optional<std::int64_t> timeout_ms;       // default: the operation's
  std::int64_t idle_timeout_ms = 0;             // 0: none
  std::optional<std::size_t> max_output_bytes;  // per stream; default 30000
};

inline void from_json(const json& j, CommonParams& p) {
  bind::member(j, "stdin", p.stdin_data);
  bind::member(j, "timeoutMs", p.timeout_ms);
  bind::member(j, "idleTimeoutMs", p.idle_timeout_ms);
  bind::member(j, "maxOutputBytes", p.max_output_bytes);
}

/// exec/run: `command` or `argv`, never both (the handler says so).
struct RunParams : CommonParams {
  std::optional<std::string> command;            // run by /bin/sh -c
  std::optional<std::vector<std::string>> argv;  // a program and its arguments
  std::string cwd = ".";                         // inside the workspace
  std::map<std::string, std::string> env;        // over the sandbox's environment
  bool background = false;                       // a job: job_output follows it
};

inline void from_json(const json& j, RunParams& p) {
  from_json(j, static_cast<CommonParams&>(p));
  bind::member(j, "command", p.command);
  bind::member(j, "argv", p.argv);
  bind::member(j, "cwd", p.cwd);
  bind::member(j, "env", p.env);
  bind::member(j, "background", p.background);
}

/// exec/runCode.
struct RunCodeParams : CommonParams {
  std::string language;  // "python", "node", "bash"
  std::string code;
};

inline void from_json(const json& j, RunCodeParams& p) {
  from_json(j, static_cast<CommonParams&>(p));
  bind::required(j, "language", p.language);
  bind::required(j, "code", p.code);
}

/// exec/jobOutput.
struct JobOutputParams {
  std::string id;
  std::uint64_t stdout_offset = 0;       // bytes
  std::uint64_t stderr_offset = 0;       // bytes
  std::optional<std::size_t> max_bytes;  // per call, both streams; default 65536
  std::int64_t wait_ms = 0;              // wait for output this long
};

inline void from_json(const json& j, JobOutputParams& p) {
  bind::required(j, "id", p.id);
  bind::member(j, "stdoutOffset", p.stdout_offset);
  bind::member(j, "stderrOffset", p.stderr_offset);
  bind::member(j, "maxBytes", p.max_bytes);
  bind::member(j, "waitMs", p.wait_ms);
}

/// exec/jobKill.
struct JobParams {
  std::string id;
};

inline void from_json(const json& j, JobParams& p) { bind::required(j, "id", p.id); }

}  // namespace icotes::exec
