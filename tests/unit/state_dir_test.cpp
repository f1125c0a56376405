// state_dir() and root_file_stem() (include/support/icotes/state_dir.hpp).
#include "icotes/state_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace icotes {
namespace {

// Sets (or unsets, nullopt) an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~EnvVar() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StateDir, XdgStateHomeWhenAbsoluteElseHomeElseTmp) {
  EnvVar home("HOME", "/home/someone");
  {
    EnvVar xdg("XDG_STATE_HOME", "/var/state");
    EXPECT_EQ(state_dir(), "/var/state/icotes");
  }
  {
    EnvVar xdg("XDG_STATE_HOME", "relative/state");  // the spec ignores a relative path
    EXPECT_EQ(state_dir(), "/home/someone/.local/state/icotes");
  }
  EnvVar xdg("XDG_STATE_HOME", std::nullopt);
  EXPECT_EQ(state_dir(), "/home/someone/.local/state/icotes");
  EnvVar no_home("HOME", std::nullopt);
  EXPECT_EQ(state_dir(), "/tmp/icotes-" + std::to_string(::getuid()));
}

TEST(StateDir, RootFileStemIsStableHex) {
  // Existing audit logs are named so: these values must never change.
  EXPECT_EQ(root_file_stem(""), "14650fb0739d0383");  // the basis
  EXPECT_EQ(root_file_stem("a"), "44bd8ad473cd9906");
  EXPECT_NE(root_file_stem("/work/a"), root_file_stem("/work/b"));
  EXPECT_EQ(root_file_stem("/work/a").size(), 16u);
}

}  // namespace
}  // namespace icotes
