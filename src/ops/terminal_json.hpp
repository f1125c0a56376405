// The terminal/* operations' params and results as JSON
// (schemas/terminal/*.json). Absent members keep the struct's defaults,
// which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bind.hpp"
#include "icotes/json.hpp"
#include "icotes/terminal.hpp"

namespace icotes::terminal {

inline void from_json(const json& j, CreateOptions& o) {
  bind::member(j, "shell", o.shell);
  bind::member(j, "args", o.args);
  bind::member(j, "cwd", o.cwd);
  bind::member(j, "env", o.env);
  bind::member(j, "cols", o.cols);
  bind::member(j, "rows", o.rows);
}

inline void from_json(const json& j, WaitFor& w) {
  bind::member(j, "regex", w.regex);
  std::string on = "output";
  bind::member(j, "on", on);
  w.on = on == "screen" ? WaitOn::Screen : WaitOn::Output;
  bind::member(j, "idleMs", w.idle_ms);
  bind::member(j, "timeoutMs", w.timeout_ms);
}

/// terminal/write.
struct WriteParams {
  std::string id;
  std::string data;  // bytes to send to the terminal's input
};

inline void from_json(const json& j, WriteParams& p) {
  bind::required(j, "id", p.id);
  bind::required(j, "data", p.data);
}

/// terminal/read.
struct ReadParams {
  std::string id;
  std::string mode = "screen";           // "screen", "scrollback", "raw"
  std::optional<std::uint64_t> since;    // output offset (bytes)
  std::optional<std::size_t> max_bytes;  // raw: bytes; default 65536
  std::optional<std::size_t> max_lines;  // scrollback: lines; default 1000
  std::optional<WaitFor> wait_for;
};

inline void from_json(const json& j, ReadParams& p) {
  bind::required(j, "id", p.id);
  bind::member(j, "mode", p.mode);
  bind::member(j, "since", p.since);
  bind::member(j, "maxBytes", p.max_bytes);
  bind::member(j, "maxLines", p.max_lines);
  bind::member(j, "waitFor", p.wait_for);
}

/// terminal/resize.
struct ResizeParams {
  std::string id;
  int cols = 0;
  int rows = 0;
};

inline void from_json(const json& j, ResizeParams& p) {
  bind::required(j, "id", p.id);
  bind::required(j, "cols", p.cols);
  bind::required(j, "rows", p.rows);
}

/// terminal/kill.
struct KillParams {
  std::string id;
  std::optional<json> signal;  // a name ("SIGINT", "INT") or a number
};

inline void from_json(const json& j, KillParams& p) {
  bind::required(j, "id", p.id);
  bind::member(j, "signal", p.signal);
}

inline void to_json(json& j, const Info& i) {
  j = json{{"id", i.id},
           {"pid", i.pid},
           {"command", i.command},
           {"cwd", i.cwd},
           {"cols", i.cols},
           {"rows", i.rows},
           {"alive", i.alive},
           {"exitCode", i.exit_code ? json(*i.exit_code) : json(nullptr)},
           {"signal", i.signal ? json(signal_name(*i.signal)) : json(nullptr)},
           {"createdMs", i.created_ms},
           {"title", i.title},
           {"offset", i.offset}};
}

}  // namespace icotes::terminal
