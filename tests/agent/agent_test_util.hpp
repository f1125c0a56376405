// Shared by the agent tests: a temporary directory, a mock provider made
// from a script (src/services/providers/mock.cpp), a ToolRunner of fakes.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "../unit/test_util.hpp"
#include "icotes/agent.hpp"
#include "icotes/json.hpp"
#include "icotes/provider.hpp"

namespace icotes::agent::test {

// The unit tests' temporary directory and file helpers (tests/unit/test_util.hpp).
using icotes::test::read_file;
using icotes::test::TempDir;
using icotes::test::write_file;

/// A mock provider playing `script` (a JSON list of responses).
inline std::unique_ptr<providers::Provider> mock_provider(const TempDir& dir, const json& script) {
  const std::string path = dir / "script.json";
  write_file(path, script.dump());
  providers::ProviderConfig config;
  config.name = "mock";
  config.kind = "mock";
  config.model = "mock-1";
  config.script = path;
  auto p = providers::make_provider(config);
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

/// Tools whose behaviour the test gives, recording the calls they get.
class FakeTools final : public ToolRunner {
 public:
  using Fn = std::function<ToolOutcome(const json& args, const CancellationToken& cancel)>;
  void add(const std::string& name, Fn fn) { fns_[name] = std::move(fn); }
  std::vector<providers::ToolSpec> tools() const override {
    std::vector<providers::ToolSpec> out;
    for (const auto& [name, fn] : fns_)
      out.push_back({name, "the " + name + " tool", json{{"type", "object"}, {"properties", json::object()}}});
    return out;
  }
  ToolOutcome run(const providers::ToolCall& call, const CancellationToken& cancel) override {
    calls.push_back(call);
    return fns_.at(call.name)(json::parse(call.arguments), cancel);
  }
  std::vector<providers::ToolCall> calls;

 private:
  std::map<std::string, Fn> fns_;
};

/// Every event, as lines: "turn 1", "text Hel", "call read_file ...", "result read_file ok ...".
class RecordEvents final : public EventSink {
 public:
  void on_turn(int turn) override { lines.push_back("turn " + std::to_string(turn)); }
  void on_text(std::string_view d) override { lines.push_back("text " + std::string(d)); }
  void on_tool_call(const providers::ToolCall& c, const std::string& summary) override {
    lines.push_back("call " + c.name + " " + summary);
  }
  void on_tool_result(const providers::ToolCall& c, const ToolOutcome& o) override {
    lines.push_back("result " + c.name + (o.ok ? " ok " : " failed ") + o.summary);
  }
  void on_usage(const providers::Usage& u) override {
    lines.push_back("usage " + std::to_string(u.input_tokens) + "/" + std::to_string(u.output_tokens));
  }
  std::vector<std::string> lines;
};

}  // namespace icotes::agent::test

namespace icotes::agent::test {

/// A provider that keeps every request it is sent, then asks `inner`.
class Recording final : public providers::Provider {
 public:
  explicit Recording(std::unique_ptr<providers::Provider> inner)
      : providers::Provider(inner->config()), inner_(std::move(inner)) {}
  Result<providers::ChatResult> chat(const providers::ChatRequest& request, providers::ChatSink& sink,
                                     const CancellationToken& cancel) override {
    requests.push_back(request);
    if (before_call) before_call(cancel);
    return inner_->chat(request, sink, cancel);
  }
  std::vector<providers::ChatRequest> requests;
  std::function<void(const CancellationToken&)> before_call;

 private:
  std::unique_ptr<providers::Provider> inner_;
};

}  // namespace icotes::agent::test
