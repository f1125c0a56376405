#!/usr/bin/env bash
# bench/search.sh: icotes' search (through the real protocol) against ripgrep
# on the Linux 6.1 tree, side by side in one run; writes bench/results/search.md
# (docs/ARCHITECTURE.md#benchmarks, docs/ARCHITECTURE.md#hot-paths).
#
#   bash bench/search.sh                          # builds the release preset first
#   BUILD_DIR=build/sbench bash bench/search.sh   # an existing, configured build dir
#   KERNEL_TREE=/path/linux-source-6.1 bash bench/search.sh   # reuse a tree
#
# icotes: one `icotes serve --root TREE` per round, driven by
# icotes_bench_search (plain JSON-RPC over pipes), request→reply time, peak RSS
# (VmHWM, reset per scenario). ripgrep: hyperfine (explicit path, stdin
# /dev/null), peak RSS with /usr/bin/time -f %M. Reference: whole-process time
# of `icotes call`. Every icotes answer is checked against rg's (same files,
# same per-file line counts, same file lists) before anything is reported.
#
# Knobs (environment): ROUNDS (2: rounds alternate which tool goes first; all
# timings of all rounds are pooled and medians reported), ITERS (3 timed runs
# per scenario and round), CALL_RUNS (3, `icotes call` runs, first round only),
# MEM_RUNS (3), OUT (bench/results/search.md), ONLY (comma-separated scenario
# names).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD_DIR=${BUILD_DIR:-build/release}
ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-3}
CALL_RUNS=${CALL_RUNS:-3}
MEM_RUNS=${MEM_RUNS:-3}
OUT=${OUT:-bench/results/search.md}
ONLY=${ONLY:-}
WORK=$SRC/bench/work/search
log() { echo "bench/search: $*" >&2; }

# --- build -------------------------------------------------------------------
TARGETS=(icotes icotes_bench_search)
if [ "$BUILD_DIR" = build/release ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target "${TARGETS[@]}" >&2
else
  cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" >&2
fi
ICOTES=$SRC/$BUILD_DIR/icotes
CLIENT=$SRC/$BUILD_DIR/bench/icotes_bench_search
[ -x "$ICOTES" ] && [ -x "$CLIENT" ] || { log "missing $ICOTES or $CLIENT"; exit 1; }
for tool in rg hyperfine python3; do command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }; done
[ -x /usr/bin/time ] || { log "missing /usr/bin/time (apt-get install time)"; exit 1; }

# --- the tree ------------------------------------------------------------------
if [ -n "${KERNEL_TREE:-}" ]; then
  TREE=$KERNEL_TREE
else
  TREE=$(bash scripts/kernel-tree.sh "$SRC/build/kernel")
fi
[ -f "$TREE/Makefile" ] || { log "no kernel tree at $TREE"; exit 1; }
TREE=$(cd "$TREE" && pwd -P)

rm -rf "$WORK"
mkdir -p "$WORK/dump" "$WORK/out"

# --- scenarios -----------------------------------------------------------------
# name, icotes method, icotes params, description, rg arguments (before the
# explicit path). count / file-list outputs on both sides, so the answers can
# be compared.
BIG=100000  # the schemas' maximum limit
REGEX='[a-z_]+_(lock|unlock)\(&?[a-z]+->[a-z_]+\)'
US=$'\x1f'
declare -A METHOD PARAMS DESC RGARGS
scenario() {  # name method params desc rg-args...
  local n=$1 m=$2 p=$3 d=$4
  shift 4
  METHOD[$n]=$m; PARAMS[$n]=$p; DESC[$n]=$d
  local IFS=$US
  RGARGS[$n]="$*"
  ALL+=("$n")
}
ALL=()
scenario rare_literal icotes/search/grep "{\"pattern\":\"PM_SUSPEND_ON\",\"outputMode\":\"count\",\"limit\":$BIG}" \
  'rare literal `PM_SUSPEND_ON`, counts' -c PM_SUSPEND_ON
scenario common_literal icotes/search/grep "{\"pattern\":\"return\",\"outputMode\":\"count\",\"limit\":$BIG}" \
  'common literal `return`, counts' -c return
scenario ci_literal icotes/search/grep "{\"pattern\":\"spin_lock_irqsave\",\"ignoreCase\":true,\"outputMode\":\"count\",\"limit\":$BIG}" \
  'case-insensitive literal `-i spin_lock_irqsave`, counts' -c -i spin_lock_irqsave
scenario regex icotes/search/grep "$(python3 -c 'import json,sys; print(json.dumps({"pattern": sys.argv[1], "outputMode": "count", "limit": int(sys.argv[2])}))' "$REGEX" "$BIG")" \
  "regex \`$REGEX\`, counts" -c "$REGEX"
scenario files_with_matches icotes/search/grep "{\"pattern\":\"EXPORT_SYMBOL_GPL\",\"outputMode\":\"filesWithMatches\",\"limit\":$BIG}" \
  'literal `EXPORT_SYMBOL_GPL`, files with matches (`rg -l`)' -l EXPORT_SYMBOL_GPL
scenario file_list icotes/search/glob "{\"pattern\":\"**\",\"limit\":$BIG}" \
  'file listing: glob `**` vs `rg --files`' --files
scenario glob icotes/search/glob "{\"pattern\":\"**/*.h\",\"limit\":$BIG}" \
  "glob \`**/*.h\` vs \`rg --files -g '*.h'\`" --files -g '*.h'
NAMES=("${ALL[@]}")
if [ -n "$ONLY" ]; then IFS=, read -r -a NAMES <<<"$ONLY"; fi

# The scenario table for the client and the report.
for n in "${NAMES[@]}"; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "${METHOD[$n]}" "${PARAMS[$n]}" "${DESC[$n]}" "${RGARGS[$n]}"
done | python3 -c '
import json, sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
out = [{"name": r[0], "method": r[1], "params": json.loads(r[2]), "desc": r[3], "rg": r[4].split("\x1f")} for r in rows]
json.dump(out, open(sys.argv[1], "w"), indent=1)' "$WORK/scenarios.json"

rg_args() { local IFS=$US; read -r -a args <<<"${RGARGS[$1]}"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "tree $TREE; load $LOAD_BEFORE"

# Warm the page cache (and check the answers) with one rg run per scenario.
for n in "${NAMES[@]}"; do
  rg_args "$n"
  (cd "$TREE" && rg "${args[@]}" . </dev/null >"$WORK/out/rg.$n.txt" || true)
done

run_icotes() {
  local round=$1
  log "round $round: icotes ($ITERS runs per scenario)"
  "$CLIENT" --scenarios "$WORK/scenarios.json" --iters "$ITERS" --warmup 1 --dump-dir "$WORK/dump" \
    --cancel-scenario regex --cancel-after-ms 200 \
    -- "$ICOTES" serve --standalone --root "$TREE" >"$WORK/out/icotes.$round.json" 2>"$WORK/out/icotes.$round.stderr"
}
run_rg() {
  local round=$1
  log "round $round: rg ($ITERS runs per scenario)"
  for n in "${NAMES[@]}"; do
    rg_args "$n"
    local q=()
    for a in "${args[@]}"; do q+=("$(printf '%q' "$a")"); done
    (cd "$TREE" && hyperfine -N --warmup 1 --runs "$ITERS" -i --export-json "$WORK/out/rg.$n.$round.json" \
      "rg ${q[*]} ." >/dev/null 2>&1)
    for _ in $(seq 1 "$MEM_RUNS"); do
      (cd "$TREE" && /usr/bin/time -f %M -a -o "$WORK/out/rg.$n.mem" rg "${args[@]}" . </dev/null >/dev/null || true)
    done
  done
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then run_icotes "$round"; run_rg "$round"; else run_rg "$round"; run_icotes "$round"; fi
done

# Reference: whole-process time of `icotes call` (start, walk, search, print, exit).
if [ "$CALL_RUNS" -gt 0 ]; then
  for n in "${NAMES[@]}"; do
    log "icotes call: $n"
    op=${METHOD[$n]#icotes/}
    hyperfine -N --warmup 0 --runs "$CALL_RUNS" --export-json "$WORK/out/call.$n.json" \
      "$(printf '%q ' "$ICOTES" call --compact --root "$TREE" "$op" "${PARAMS[$n]}")" >/dev/null 2>&1
  done
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/search_report.py --work "$WORK" --out "$OUT" --tree "$TREE" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" --icotes-version "$("$ICOTES" version 2>/dev/null | head -n1)" \
  --rg-version "$(rg --version | head -n1)" --rounds "$ROUNDS" --iters "$ITERS" \
  --cmd "BUILD_DIR=$BUILD_DIR ROUNDS=$ROUNDS ITERS=$ITERS bash bench/search.sh"
log "wrote $OUT"
