// JSON-RPC envelopes as the HTTP door reads them (src/transport/http/envelope.hpp).
#include "transport/http/envelope.hpp"

#include <gtest/gtest.h>

namespace icotes::http {
namespace {

using json = nlohmann::json;

TEST(HttpEnvelope, ServerMessages) {
  Envelope e = envelope_of(R"({"jsonrpc":"2.0","id":7,"result":{"big":[1,2,3]}})");
  EXPECT_TRUE(e.valid);
  EXPECT_TRUE(e.response);
  EXPECT_EQ(e.ids, std::vector<std::string>({"7"}));
  e = envelope_of(R"({"jsonrpc":"2.0","result":null,"id":"a"})");
  EXPECT_TRUE(e.response);
  EXPECT_EQ(e.ids, std::vector<std::string>({"\"a\""}));
  e = envelope_of(R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"id":1}})");
  EXPECT_TRUE(e.valid);
  EXPECT_FALSE(e.response);
  EXPECT_TRUE(e.ids.empty());  // a nested "id" is not the message's
  e = envelope_of(R"({"jsonrpc":"2.0","id":3,"method":"roots/list"})");
  EXPECT_FALSE(e.response);  // a server's own request
  e = envelope_of(R"([{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","id":2,"error":{"code":1}}])");
  EXPECT_TRUE(e.response);
  EXPECT_EQ(e.ids, std::vector<std::string>({"1", "2"}));
  EXPECT_FALSE(envelope_of("not json").valid);
  EXPECT_FALSE(envelope_of("[]").valid);
}

TEST(HttpEnvelope, PostBodies) {
  PostMessages m = read_post(json::parse(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})"));
  EXPECT_FALSE(m.bad_id);
  EXPECT_TRUE(m.initialize);
  EXPECT_EQ(m.ids, std::set<std::string>({"1"}));
  m = read_post(json::parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  EXPECT_TRUE(m.ids.empty());
  EXPECT_FALSE(m.initialize);
  m = read_post(json::parse(R"({"jsonrpc":"2.0","id":2,"result":{}})"));
  EXPECT_TRUE(m.ids.empty());  // a response to the server's request awaits nothing
  m = read_post(json::parse(
      R"([{"jsonrpc":"2.0","id":"x","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}},3,
          {"jsonrpc":"2.0","id":4,"method":"ping"}])"));
  EXPECT_EQ(m.ids, std::set<std::string>({"\"x\"", "4"}));
  EXPECT_EQ(m.meta_version, "2026-07-28");
  for (const char* bad :
       {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", R"({"jsonrpc":"2.0","id":{},"method":"ping"})",
        R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":[1],"method":"ping"}])"})
    EXPECT_TRUE(read_post(json::parse(bad)).bad_id) << bad;
}

}  // namespace
}  // namespace icotes::http
