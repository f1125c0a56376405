#!/bin/bash
# `icotes call agent/run` in process, with the user's config ($XDG_CONFIG_HOME)
# naming a mock provider scripted to read, grep and edit; then agent/list and
# agent/resume on the saved conversation. Usage: call_agent_run.sh ICOTES
set -euo pipefail
icotes=$1
work=$(mktemp -d /tmp/icotes-agent-call-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/src" "$work/config/icotes" "$work/state"
printf 'int add(int a, int b) { return a - b; }\n' >"$work/root/src/add.c"
cat >"$work/config/icotes/config.toml" <<'TOML'
[providers.mock]
kind = "mock"
script = "script.json"
[agent]
provider = "mock"
TOML
cat >"$work/config/icotes/script.json" <<'JSON'
[{"text": "Looking.", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/add.c"}},
                                     {"name": "grep", "arguments": {"pattern": "return"}}]},
 {"tool_calls": [{"name": "edit_file", "arguments": {"path": "src/add.c",
   "edits": [{"oldString": "a - b", "newString": "a + b"}]}}]},
 {"text": "Fixed add.", "usage": {"input_tokens": 12, "output_tokens": 3}}]
JSON
export XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$icotes" call --in-process --root "$work/root" --permission-mode acceptEdits --compact agent/run \
  '{"prompt": "Fix add in src/add.c"}')
echo "$out"
node -e '
const r = JSON.parse(process.argv[1]);
const want = (c, m) => { if (!c) { console.error("FAIL: " + m + ": " + process.argv[1]); process.exit(1); } };
want(r.stop === "end_turn", "stop");
want(r.text === "Fixed add.", "text");
want(r.turns === 3, "turns");
want(r.toolCalls.map(c => c.name).join() === "read_file,grep,edit_file", "tool calls");
want(r.toolCalls.every(c => c.ok), "every call ok");
want(r.usage.inputTokens === 12 && r.usage.outputTokens === 3, "usage");
want(/^[0-9a-f]{32}$/.test(r.conversation), "conversation id");
' "$out"
grep -q 'return a + b;' "$work/root/src/add.c" || fail "src/add.c not edited: $(cat "$work/root/src/add.c")"
id=$(node -e 'console.log(JSON.parse(process.argv[1]).conversation)' "$out")
list=$("$icotes" call --in-process --root "$work/root" --compact agent/list)
echo "$list"
node -e '
const l = JSON.parse(process.argv[1]).conversations;
if (l.length !== 1 || l[0].id !== process.argv[2] || l[0].title !== "Fix add in src/add.c" || l[0].turns !== 3) {
  console.error("FAIL: agent/list: " + process.argv[1]); process.exit(1);
}' "$list" "$id"
# A new script for the resumed run: the conversation comes from the store.
echo '[{"text": "Nothing else."}]' >"$work/config/icotes/script.json"
resumed=$("$icotes" call --in-process --root "$work/root" --compact agent/resume "{\"id\": \"$id\", \"prompt\": \"More?\"}")
echo "$resumed"
case "$resumed" in *'"text":"Nothing else."'*) ;; *) fail "agent/resume: $resumed" ;; esac
# Without acceptEdits nobody can be asked from a script: the edit is denied and the model told.
printf 'int add(int a, int b) { return a - b; }\n' >"$work/root/src/add.c"
cat >"$work/config/icotes/script.json" <<'JSON'
[{"tool_calls": [{"name": "edit_file", "arguments": {"path": "src/add.c",
   "edits": [{"oldString": "a - b", "newString": "a + b"}]}}]},
 {"text": "I was not allowed to edit."}]
JSON
denied=$("$icotes" call --in-process --root "$work/root" --compact agent/run '{"prompt": "Fix add"}')
echo "$denied"
grep -q 'return a - b;' "$work/root/src/add.c" || fail "src/add.c edited without permission"
case "$denied" in *'"ok":false'*'edit_file src/add.c: denied'*) ;; *) fail "denied edit: $denied" ;; esac
echo ok
