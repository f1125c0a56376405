#!/usr/bin/env bash
# bench/run.sh: icotes against @modelcontextprotocol/server-filesystem, side
# by side in one go, same client (icotes_bench_mcp), same files, then the
# microbenchmarks; writes bench/results/files.md (docs/ARCHITECTURE.md#benchmarks).
#
#   bash bench/run.sh                    # builds the release preset first
#   BUILD_DIR=build/bench bash bench/run.sh   # an existing build dir (built, not configured)
#
# Knobs (environment): RUNS (3: each server measured RUNS times, alternating,
# medians reported), ITERS (2000), ITERS_LARGE (300), SPAWNS (20), OUT
# (bench/results/files.md), SKIP_MICRO=1, KEEP_AWAKE (1: see below).
#
# KEEP_AWAKE=1 (the default) runs one nice-19 busy loop per core while
# measuring. On this Firecracker VM an idle vCPU takes 30-70 us to wake, which
# then dominates every round trip of both servers (a ping measured 5 us with
# the vCPUs busy and 70 us idle); the loops keep them out of idle and, at
# nice 19, take almost no time from the two processes measured.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD_DIR=${BUILD_DIR:-build/release}
RUNS=${RUNS:-3}
ITERS=${ITERS:-2000}
ITERS_LARGE=${ITERS_LARGE:-300}
SPAWNS=${SPAWNS:-20}
OUT=${OUT:-bench/results/files.md}
WORK=$SRC/bench/work/files
PEER_DIR=$SRC/integration/node_modules/@modelcontextprotocol/server-filesystem
PEER_JS=$PEER_DIR/dist/index.js

log() { echo "bench: $*" >&2; }

AWAKE_PIDS=()
stop_awake() { for p in "${AWAKE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_awake EXIT
if [ "${KEEP_AWAKE:-1}" = 1 ]; then
  for _ in $(seq "$(nproc)"); do nice -n 19 sh -c 'while :; do :; done' & AWAKE_PIDS+=($!); done
fi

# --- build -------------------------------------------------------------------
TARGETS=(icotes icotes_bench_mcp icotes_bench_micro)
if [ "$BUILD_DIR" = build/release ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target "${TARGETS[@]}" >&2
else
  cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" >&2
fi
ICOTES=$SRC/$BUILD_DIR/icotes
CLIENT=$SRC/$BUILD_DIR/bench/icotes_bench_mcp
MICRO=$SRC/$BUILD_DIR/bench/icotes_bench_micro
[ -x "$ICOTES" ] && [ -x "$CLIENT" ] || { log "missing $ICOTES or $CLIENT"; exit 1; }
[ -f "$PEER_JS" ] || { log "missing $PEER_JS: run 'make deps' (npm ci in integration/)"; exit 1; }
NODE=$(command -v node)

# --- the files: real text that a fresh Debian with the project's deps has ----
# ~90 KB: OpenSSL's evp.h (libssl-dev). ~700 KB: clang's altivec.h
# (libclang-common-14-dev, pulled by clang), else SQLite's sqlite3.h (616 KB).
# list_directory: a copy of /usr/include/openssl (~130 headers).
SMALL_SRC=/usr/include/openssl/evp.h
LARGE_SRC=$(ls /usr/lib/llvm-*/lib/clang/*/include/altivec.h 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$LARGE_SRC" ] || LARGE_SRC=/usr/include/sqlite3.h
LIST_SRC=/usr/include/openssl
for f in "$SMALL_SRC" "$LARGE_SRC"; do [ -f "$f" ] || { log "missing $f"; exit 1; }; done
rm -rf "$WORK/root" "$WORK/out" "$WORK/dump"  # not bench/work/kernel (bench/search.sh)
mkdir -p "$WORK/root/openssl" "$WORK/out" "$WORK/dump"
cp -p "$SMALL_SRC" "$WORK/root/"  # -p: old mtimes, as files in a real project have
cp -p "$LARGE_SRC" "$WORK/root/"
cp -p "$LIST_SRC"/*.h "$WORK/root/openssl/"
SMALL=$(basename "$SMALL_SRC")
LARGE=$(basename "$LARGE_SRC")
ROOT=$WORK/root

COMMON=(--root "$ROOT" --small "$SMALL" --large "$LARGE" --info "$SMALL" --list openssl
        --iters "$ITERS" --iters-large "$ITERS_LARGE" --spawns "$SPAWNS" --dump-dir "$WORK/dump")
ICOTES_CMD=("$ICOTES" serve --standalone --root "$ROOT")
PEER_CMD=("$NODE" "$PEER_JS" "$ROOT")

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the floor: the same client against cat (a pipe round trip) --------------
log "pipe floor (cat)"
"$CLIENT" --echo --name cat --iters "$ITERS" -- cat >"$WORK/out/echo.json"

# --- side by side, alternating which server goes first -----------------------
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then order=(icotes peer); else order=(peer icotes); fi
  for who in "${order[@]}"; do
    log "run $run/$RUNS: $who"
    if [ "$who" = icotes ]; then
      "$CLIENT" --name icotes "${COMMON[@]}" --stderr "$WORK/out/icotes.stderr" -- "${ICOTES_CMD[@]}" >"$WORK/out/icotes.$run.json"
    else
      "$CLIENT" --name peer "${COMMON[@]}" --stderr "$WORK/out/peer.stderr" -- "${PEER_CMD[@]}" >"$WORK/out/peer.$run.json"
    fi
  done
done

# Sanity: both servers returned each file whole and byte-identical.
for f in read_small read_large; do
  cmp -s "$WORK/dump/icotes.$f.txt" "$WORK/dump/peer.$f.txt" || { log "$f: icotes and the peer returned different text"; exit 1; }
done

# --- microbenchmarks ---------------------------------------------------------
if [ "${SKIP_MICRO:-0}" != 1 ] && [ -x "$MICRO" ]; then
  log "microbenchmarks"
  ICOTES_BENCH_FILE=/usr/include/sqlite3.h "$MICRO" --benchmark_min_time=0.5 --benchmark_format=json \
    >"$WORK/out/micro.json" 2>/dev/null
fi

# --- report ------------------------------------------------------------------
CMD_ICOTES="$(basename "$CLIENT") --name icotes ${COMMON[*]} -- ${ICOTES_CMD[*]}"
CMD_PEER="$(basename "$CLIENT") --name peer ${COMMON[*]} -- ${PEER_CMD[*]}"
python3 bench/report.py \
  --out-dir "$WORK/out" --runs "$RUNS" --result "$OUT" \
  --small-src "$SMALL_SRC" --large-src "$LARGE_SRC" --list-src "$LIST_SRC" \
  --peer-version "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$PEER_DIR/package.json" | head -n1)" \
  --node-version "$(node --version)" --load-before "$LOAD_BEFORE" \
  --cmd-icotes "${CMD_ICOTES//$SRC\//}" --cmd-peer "${CMD_PEER//$SRC\//}" \
  --cmd-run "BUILD_DIR=$BUILD_DIR RUNS=$RUNS ITERS=$ITERS ITERS_LARGE=$ITERS_LARGE SPAWNS=$SPAWNS bash bench/run.sh"
log "wrote $OUT"
