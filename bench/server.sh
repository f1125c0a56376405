#!/usr/bin/env bash
# bench/server.sh: icotes as a server for many clients against
# @modelcontextprotocol/server-filesystem, side by side in one run; writes
# bench/results/server.md (issue 8, "Speed": ≥ 20,000 small requests/s on the
# 2 cores with p99 ≤ 5 ms at 64 clients; `serve --attach` adds ≤ 5 ms to
# start-up; idle daemon RSS ≤ 25 MB).
#
#   bash bench/server.sh                        # builds the release preset first
#   BUILD_DIR=build/h1 bash bench/server.sh     # an existing, configured build dir
#
# Load: icotes_bench_server (bench/server_load.cpp), N clients each on its own
# connection, closed loop, read of a 200-byte file. icotes: one long-lived
# `serve --listen tcp:` (MCP tools/call read_file, and native
# icotes/files/read) and one `serve --listen http:` (MCP Streamable HTTP,
# keep-alive, JSON answers); for reference, one `icotes serve` per client over
# stdio. The peer (version in the table) has no HTTP or SSE mode, so it runs
# as one stdio process per client, as its users run it; its read tool is
# read_text_file. Start-up: spawn → ping reply of `serve` and of
# `serve --attach` with the daemon running (median of SPAWNS), and the first
# attach, which starts the daemon (median over rounds).
#
# Knobs (environment): ROUNDS (2; rounds alternate which server goes first,
# medians over rounds reported), TOTAL (20000 timed requests per run, split
# over the clients, at least MIN_PER_CLIENT=50 each), TOTAL_HTTP (20000, the
# same for the HTTP door), CLIENTS ("1 8 64"), SPAWNS (20), OUT.
# KEEP_AWAKE=1 (the default) runs one nice-19 busy loop per core while
# measuring, as bench/run.sh does: an idle vCPU of this VM takes 30-70 µs to
# wake, which would otherwise dominate each round trip.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD_DIR=${BUILD_DIR:-build/release}
ROUNDS=${ROUNDS:-2}
TOTAL=${TOTAL:-20000}
TOTAL_HTTP=${TOTAL_HTTP:-20000}
MIN_PER_CLIENT=${MIN_PER_CLIENT:-50}
CLIENTS=${CLIENTS:-"1 8 64"}
SPAWNS=${SPAWNS:-20}
OUT=${OUT:-bench/results/server.md}
KEEP_AWAKE=${KEEP_AWAKE:-1}
PEER=$SRC/integration/node_modules/@modelcontextprotocol/server-filesystem
log() { echo "bench/server: $*" >&2; }

# --- build -------------------------------------------------------------------
TARGETS=(icotes icotes-http icotes_bench_server)
if [ "$BUILD_DIR" = build/release ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target "${TARGETS[@]}" >&2
else
  cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" >&2
fi
ICOTES=$SRC/$BUILD_DIR/icotes
CLIENT=$SRC/$BUILD_DIR/bench/icotes_bench_server
[ -x "$ICOTES" ] && [ -x "$CLIENT" ] || { log "missing $ICOTES or $CLIENT"; exit 1; }
[ -f "$PEER/dist/index.js" ] || { log "missing $PEER (npm ci in integration/)"; exit 1; }
for tool in node python3; do command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }; done

# --- workspace, private runtime dir, servers ------------------------------------
WORK=$(mktemp -d /tmp/icotes-bench-server.XXXXXX)  # mode 0700: sockets and tokens
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/run" "$WORK/out"
chmod 700 "$WORK/run"
export XDG_RUNTIME_DIR=$WORK/run
python3 -c 'import sys; sys.stdout.write(("The quick brown fox jumps over the lazy dog. " * 5)[:199] + "\n")' >"$ROOT/small.txt"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "serve --daemon --root $ROOT " 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$KEEP_AWAKE" = 1 ]; then
  for _ in $(seq "$(nproc)"); do nice -n 19 sh -c 'while :; do :; done' & PIDS+=($!); done
fi

# Starts `icotes serve --listen $1`; sets LPORT, LTOKEN, LPID.
start_listener() {
  local err=$WORK/$2.stderr line=
  "$ICOTES" serve --root "$ROOT" --listen "$1" 2>"$err" &
  LPID=$!
  PIDS+=("$LPID")
  for _ in $(seq 100); do
    line=$(grep '^icotes: listening' "$err" || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  [ -n "$line" ] || { log "icotes serve --listen $1 did not start: $(cat "$err")"; exit 1; }
  LPORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$line")
  LTOKEN=${line##*token in }
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
start_listener tcp:127.0.0.1:0 tcp
TCP_PORT=$LPORT TCP_TOKEN=$LTOKEN TCP_PID=$LPID
start_listener http:127.0.0.1:0 http
HTTP_PORT=$LPORT HTTP_TOKEN=$LTOKEN HTTP_PID=$LPID
sleep 1
RSS_TCP_IDLE=$(rss_kb "$TCP_PID") RSS_HTTP_IDLE=$(rss_kb "$HTTP_PID")

# Idle RSS of a stdio process 1.5 s after start (stdin open, no requests).
idle_rss() {
  local fifo=$WORK/idle.fifo pid kb
  rm -f "$fifo" && mkfifo "$fifo"
  "$@" <"$fifo" >/dev/null 2>&1 &
  pid=$!
  exec 9>"$fifo"
  sleep 1.5
  kb=$(rss_kb "$pid")
  exec 9>&-
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$kb"
}
RSS_PEER_IDLE=$(idle_rss node "$PEER/dist/index.js" "$ROOT")
RSS_STDIO_IDLE=$(idle_rss "$ICOTES" serve --standalone --root "$ROOT")

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load $LOAD_BEFORE; rounds $ROUNDS; clients $CLIENTS"

# --- load ------------------------------------------------------------------------
RESULTS=$WORK/out/load.jsonl
per_client() { local p=$(($1 / $2)); echo $((p < MIN_PER_CLIENT ? MIN_PER_CLIENT : p)); }
load() {  # name clients total args...
  local name=$1 n=$2 total=$3
  shift 3
  log "  $name, $n clients"
  "$CLIENT" --clients "$n" --requests "$(per_client "$total" "$n")" --warmup 20 \
    --path small.txt --expect "$ROOT/small.txt" "$@" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read()); r["name"] = sys.argv[1]; print(json.dumps(r))' "$name" >>"$RESULTS"
}
run_icotes() {
  for n in $CLIENTS; do
    load icotes_http "$n" "$TOTAL_HTTP" --transport http --port "$HTTP_PORT" --token-file "$HTTP_TOKEN"
    load icotes_tcp_mcp "$n" "$TOTAL" --transport tcp --mode mcp --port "$TCP_PORT" --token-file "$TCP_TOKEN"
    load icotes_tcp_native "$n" "$TOTAL" --transport tcp --mode native --port "$TCP_PORT" --token-file "$TCP_TOKEN"
    load icotes_stdio "$n" "$TOTAL" --transport stdio -- "$ICOTES" serve --standalone --root "$ROOT"
  done
}
run_peer() {
  for n in $CLIENTS; do
    load peer_stdio "$n" "$TOTAL" --transport stdio -- node "$PEER/dist/index.js" "$ROOT"
  done
}
for round in $(seq 1 "$ROUNDS"); do
  log "round $round"
  if [ $((round % 2)) -eq 1 ]; then run_icotes; run_peer; else run_peer; run_icotes; fi
done
RSS_TCP_LOADED=$(rss_kb "$TCP_PID") RSS_HTTP_LOADED=$(rss_kb "$HTTP_PID")

# --- start-up and the daemon -----------------------------------------------------------
STARTUP=$WORK/out/startup.jsonl
FIRST=()
for round in $(seq 1 "$ROUNDS"); do
  log "start-up, round $round"
  pkill -f "serve --daemon --root $ROOT " 2>/dev/null || true
  sleep 0.5
  FIRST+=("$("$CLIENT" --startup 1 -- "$ICOTES" serve --attach --root "$ROOT")")
  run_standalone() { "$CLIENT" --startup "$SPAWNS" -- "$ICOTES" serve --standalone --root "$ROOT" | sed 's/^{/{"name":"serve",/' >>"$STARTUP"; }
  run_attach() { "$CLIENT" --startup "$SPAWNS" -- "$ICOTES" serve --attach --root "$ROOT" | sed 's/^{/{"name":"attach",/' >>"$STARTUP"; }
  if [ $((round % 2)) -eq 1 ]; then run_standalone; run_attach; else run_attach; run_standalone; fi
done
printf '%s\n' "${FIRST[@]}" | sed 's/^{/{"name":"first_attach",/' >>"$STARTUP"
DAEMON_PID=$(pgrep -n -f "serve --daemon --root $ROOT " || true)
sleep 1
RSS_DAEMON_IDLE=$( [ -n "$DAEMON_PID" ] && rss_kb "$DAEMON_PID" || echo 0)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------------
python3 - "$RESULTS" "$STARTUP" "$OUT" <<PY
import json, statistics, sys
load = [json.loads(l) for l in open(sys.argv[1])]
start = [json.loads(l) for l in open(sys.argv[2])]
med = statistics.median
names = [("icotes_http", "icotes, MCP Streamable HTTP (\`--listen http:\`), \`read_file\`"),
         ("icotes_tcp_mcp", "icotes, MCP over TCP (\`--listen tcp:\`), \`read_file\`"),
         ("icotes_tcp_native", "icotes, JSON-RPC over TCP, \`icotes/files/read\`"),
         ("icotes_stdio", "icotes, one \`serve\` per client over stdio, \`read_file\`"),
         ("peer_stdio", "server-filesystem $(node -p "require('$PEER/package.json').version"), one process per client over stdio, \`read_text_file\`")]
clients = sorted({r["clients"] for r in load})
def agg(name, n):
    rs = [r for r in load if r["name"] == name and r["clients"] == n]
    if not rs: return None
    return {k: med([r[k] for r in rs]) for k in ("rps", "p50_us", "p99_us", "mean_us")} | {"errors": sum(r["errors"] for r in rs), "requests": rs[0]["requests"]}
o = []
o.append("# icotes as a server for many clients vs @modelcontextprotocol/server-filesystem\n")
o.append("Issue 8, \"Speed\". Written by \`bench/server.sh\` (load client: \`bench/server_load.cpp\`). "
         "Closed loop: each client has its own connection and sends its next request when the reply is in; "
         "read of a 200-byte file; rps = all timed requests / wall time of the run. "
         "Medians over $ROUNDS rounds (rounds alternate which server goes first).\n")
o.append("Machine: $(nproc) cores, $(uname -r), load (1/5/15 min) $LOAD_BEFORE before, $LOAD_AFTER after; "
         "KEEP_AWAKE=$KEEP_AWAKE (nice-19 busy loop per core, see bench/run.sh).\n")
o.append("The peer has no HTTP or SSE mode in this version: it runs over stdio, one process per client.\n")
o.append("## read_file of a small file\n")
o.append("| server / transport | clients | requests | rps | p50 µs | p99 µs | mean µs | errors |")
o.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, desc in names:
    for n in clients:
        a = agg(name, n)
        if a: o.append(f"| {desc} | {n} | {a['requests']} | {a['rps']:,.0f} | {a['p50_us']:.0f} | {a['p99_us']:.0f} | {a['mean_us']:.0f} | {a['errors']} |")
o.append("\n### Ratios (rps, icotes / peer)\n")
o.append("| clients | HTTP / peer | TCP MCP / peer | TCP native / peer | stdio / peer |")
o.append("| ---: | ---: | ---: | ---: | ---: |")
for n in clients:
    p = agg("peer_stdio", n)
    if not p: continue
    cells = []
    for name in ("icotes_http", "icotes_tcp_mcp", "icotes_tcp_native", "icotes_stdio"):
        a = agg(name, n)
        cells.append(f"{a['rps'] / p['rps']:.2f}x" if a else "–")
    o.append(f"| {n} | " + " | ".join(cells) + " |")
o.append("\n## Start-up: spawn → reply to one \`ping\` (ms)\n")
o.append("| how | runs | median | min | max |")
o.append("| --- | ---: | ---: | ---: | ---: |")
for name, desc in (("serve", "\`icotes serve --standalone\` (stdio)"), ("attach", "\`icotes serve --attach\`, daemon already running"), ("first_attach", "first \`serve --attach\` (starts the daemon)")):
    ms = [x for r in start if r["name"] == name for x in r["all_ms"]]
    if ms: o.append(f"| {desc} | {len(ms)} | {med(ms):.2f} | {min(ms):.2f} | {max(ms):.2f} |")
s = [x for r in start if r["name"] == "serve" for x in r["all_ms"]]
a = [x for r in start if r["name"] == "attach" for x in r["all_ms"]]
if s and a: o.append(f"\nAttach minus standalone (medians): {med(a) - med(s):+.2f} ms (goal ≤ 5 ms added).\n")
o.append("## Memory (VmRSS, MB)\n")
o.append("| process | MB |")
o.append("| --- | ---: |")
mb = lambda kb: f"{int(kb) / 1024:.1f}"
o.append(f"| icotes daemon, idle (after the attach runs) | {mb('$RSS_DAEMON_IDLE')} |")
o.append(f"| icotes \`serve\` over stdio, idle 1.5 s after start | {mb('$RSS_STDIO_IDLE')} |")
o.append(f"| icotes \`--listen tcp:\`, idle after start / after all load runs | {mb('$RSS_TCP_IDLE')} / {mb('$RSS_TCP_LOADED')} |")
o.append(f"| icotes \`--listen http:\`, idle after start / after all load runs | {mb('$RSS_HTTP_IDLE')} / {mb('$RSS_HTTP_LOADED')} |")
o.append(f"| server-filesystem, idle 1.5 s after start | {mb('$RSS_PEER_IDLE')} |")
o.append("\nRe-run:\n\n\`\`\`\nBUILD_DIR=$BUILD_DIR ROUNDS=$ROUNDS TOTAL=$TOTAL TOTAL_HTTP=$TOTAL_HTTP CLIENTS=\"$CLIENTS\" SPAWNS=$SPAWNS KEEP_AWAKE=$KEEP_AWAKE bash bench/server.sh\n\`\`\`")
open(sys.argv[3], "w").write("\n".join(o) + "\n")
PY
log "wrote $OUT"
