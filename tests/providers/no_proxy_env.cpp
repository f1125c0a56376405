// The back ends' tests talk to servers on 127.0.0.1, which a proxy in the
// environment would take their requests to (curl's rules proxy loopback
// too, unless no_proxy names it): the program starts without one. Tests of
// proxies set the variables themselves.
#include <stdlib.h>

#include <initializer_list>

namespace {

[[maybe_unused]] const bool kProxiesCleared = [] {
  for (const char* name :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
    ::unsetenv(name);
  }
  return true;
}();

}  // namespace
