// JSON-RPC 2.0 envelopes as the HTTP door reads them, without building
// messages it only passes on: which client messages of a POST are
// requests (their answers are awaited), and where a server message goes
// (a response to the stream waiting for its id).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace icotes::http {

/// What Session::send needs of a server message: is it a response, and to
/// which ids. Read with nlohmann's SAX interface, which stops as soon as a
/// single message's top-level "id" and one of "result"/"error"/"method"/
/// "params" are seen, so a large result is neither lexed to its end nor
/// built as a tree (whole-message parses were ~10% of a loaded HTTP door).
/// JSON-RPC 2.0 section 5: a response has "result" or "error" and no "method".
struct Envelope {
  bool valid = false;
  bool response = false;
  std::vector<std::string> ids;  // each id as json::dump() writes it
};

/// The envelope of one server message (or batch): read with nlohmann's SAX
/// interface, stopping once a single message's kind and id are known.
/// Not valid when `message` is not JSON-RPC-shaped JSON.
Envelope envelope_of(const std::string& message);

/// What the door needs of a client's POST body (one message or a batch).
struct PostMessages {
  std::set<std::string> ids;  // of its requests, each as json::dump() writes it
  bool initialize = false;    // it holds an initialize request
  std::string meta_version;   // MCP 2026-07-28: the revision a message names in _meta (the last one that does)
  bool bad_id = false;        // a message's "id" is not a string, an integer or null
};

/// Reads the messages of `body` (an array is a batch; members that are not
/// objects are skipped: the executable answers them). Stops at the first
/// bad id: its answer would carry id null (JSON-RPC 2.0 section 5), so a
/// POST waiting for it would wait forever.
PostMessages read_post(const nlohmann::json& body);

}  // namespace icotes::http
