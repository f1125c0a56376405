#!/usr/bin/env bash
# bench/git.sh: icotes' git service (through the real protocol) against the
# git CLI on the Linux 6.1 repository (78k tracked files, 1,201 commits),
# side by side in one run; writes bench/results/git.md (issue 5, "Speed":
# each ≤ 1.5x git's wall time).
#
#   bash bench/git.sh                          # builds the release preset first
#   BUILD_DIR=build/h3 bash bench/git.sh       # an existing, configured build dir
#   KERNEL_TREE=/path/linux-source-6.1 bash bench/git.sh   # reuse a prepared tree
#
# Scenarios: status (warm page cache; default and -uno), diff of a modified
# work tree (50 .c files edited for the run and restored afterwards, also on
# failure), log -n 1000, log of one file, blame of kernel/sched/core.c (11k
# lines, ~300 commits of history from scripts/kernel-tree.sh).
#
# icotes: one long-lived `icotes serve --root TREE` per round (warm, like an
# editor's sidecar) driven by icotes_bench_search (a plain JSON-RPC client:
# request written → reply line read, the whole reply included). git: hyperfine
# -N, output discarded. Reference: whole-process time of `icotes call` (a cold
# process: repository and index loaded per call). Every icotes answer is
# compared with git's (bench/git_report.py) before anything is reported.
#
# Knobs (environment): ROUNDS (2; rounds alternate which tool goes first, all
# timings pooled, medians reported), ITERS (3 timed runs per scenario and
# round), CALL_RUNS (3, first round only; 0 skips), OUT (bench/results/git.md),
# ONLY (comma-separated scenario names).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD_DIR=${BUILD_DIR:-build/release}
ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-3}
CALL_RUNS=${CALL_RUNS:-3}
OUT=${OUT:-bench/results/git.md}
ONLY=${ONLY:-}
WORK=$SRC/bench/work/git
log() { echo "bench/git: $*" >&2; }

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
for tool in git hyperfine python3; do command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }; done

# --- the repository ------------------------------------------------------------
if [ -n "${KERNEL_TREE:-}" ]; then
  TREE=$KERNEL_TREE
else
  TREE=$(bash scripts/kernel-tree.sh "$SRC/build/kernel")
fi
[ -f "$TREE/.icotes-history-ready" ] || { log "$TREE has no benchmark history (run scripts/kernel-tree.sh)"; exit 1; }
TREE=$(cd "$TREE" && pwd -P)
# Both sides read the same configuration: none but the repository's.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$WORK/home
unset COLUMNS
rm -rf "$WORK"
mkdir -p "$WORK/dump" "$WORK/out" "$HOME"
if [ -n "$(git -C "$TREE" status --porcelain=v2 -uno)" ]; then
  log "$TREE has uncommitted changes; the diff scenario needs a clean tree"
  exit 1
fi

# The modified work tree: 50 .c files (not the blamed ones), one line
# inserted and one changed in each; restored on exit.
git -C "$TREE" ls-files -z -- '*.c' | tr '\0' '\n' | grep -v -e '^kernel/sched/' -e '^kernel/events/' |
  awk 'NR % 600 == 7 && ++k <= 50' >"$WORK/edited.txt"
restore() { (cd "$TREE" && tr '\n' '\0' <"$WORK/edited.txt" | xargs -0 git checkout -q --); }
trap restore EXIT
(cd "$TREE" && python3 - "$WORK/edited.txt" <<'PY'
import sys
for path in open(sys.argv[1]).read().split("\n"):
    if not path:
        continue
    lines = open(path, "rb").read().split(b"\n")
    n = len(lines)
    lines.insert(n // 3, b"/* edited by bench/git.sh */")
    lines[2 * n // 3] = lines[2 * n // 3] + b" /* changed */"
    open(path, "wb").write(b"\n".join(lines))
PY
)

# --- scenarios -------------------------------------------------------------------
# name | icotes method | params | description | git arguments (\x1f-separated)
BIG=100000
US=$'\x1f'
BLAME=kernel/sched/core.c
LOGFILE=kernel/sched/fair.c
ALL=()
declare -A METHOD PARAMS DESC GITARGS
scenario() {
  local n=$1 m=$2 p=$3 d=$4
  shift 4
  METHOD[$n]=$m; PARAMS[$n]=$p; DESC[$n]=$d
  local IFS=$US
  GITARGS[$n]="$*"
  ALL+=("$n")
}
scenario status icotes/git/status "{\"limit\":$BIG}" \
  'status, 50 files modified (`git status --porcelain=v2`)' status --porcelain=v2
scenario status_uno icotes/git/status "{\"untracked\":\"no\",\"limit\":$BIG}" \
  'status without untracked files (`-uno`)' status --porcelain=v2 -uno
scenario diff icotes/git/diff "{\"limit\":$BIG,\"maxBytes\":67108864}" \
  'diff of the modified work tree (`git diff`, 50 files)' diff --no-color --no-ext-diff
scenario log icotes/git/log '{"limit":1000}' \
  'log -n 1000 (hash, author, subject)' log -n 1000 '--format=%H%x09%an%x09%s'
scenario log_path icotes/git/log "{\"limit\":1000,\"paths\":[\"$LOGFILE\"]}" \
  "log of one file (\`git log -- $LOGFILE\`)" log -n 1000 '--format=%H%x09%an%x09%s' -- "$LOGFILE"
scenario blame icotes/git/blame "{\"path\":\"$BLAME\",\"limit\":$BIG}" \
  "blame of \`$BLAME\` (\`git blame --porcelain\`)" blame --porcelain -- "$BLAME"
NAMES=("${ALL[@]}")
if [ -n "$ONLY" ]; then IFS=, read -r -a NAMES <<<"$ONLY"; fi

for n in "${NAMES[@]}"; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "${METHOD[$n]}" "${PARAMS[$n]}" "${DESC[$n]}" "${GITARGS[$n]}"
done | python3 -c '
import json, sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
out = [{"name": r[0], "method": r[1], "params": json.loads(r[2]), "desc": r[3], "git": r[4].split("\x1f")}
       for r in rows]
json.dump(out, open(sys.argv[1], "w"), indent=1)' "$WORK/scenarios.json"

git_args() { local IFS=$US; read -r -a args <<<"${GITARGS[$1]}"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "tree $TREE; load $LOAD_BEFORE"

# Warm the page cache and keep git's answers for the check.
for n in "${NAMES[@]}"; do
  git_args "$n"
  git -C "$TREE" "${args[@]}" </dev/null >"$WORK/out/git.$n.txt"
done

run_icotes() {
  local round=$1
  log "round $round: icotes ($ITERS runs per scenario)"
  "$CLIENT" --scenarios "$WORK/scenarios.json" --iters "$ITERS" --warmup 1 --dump-dir "$WORK/dump" \
    -- "$ICOTES" serve --standalone --root "$TREE" >"$WORK/out/icotes.$round.json" 2>"$WORK/out/icotes.$round.stderr"
}
run_git() {
  local round=$1
  log "round $round: git ($ITERS runs per scenario)"
  for n in "${NAMES[@]}"; do
    git_args "$n"
    local q=()
    for a in "${args[@]}"; do q+=("$(printf '%q' "$a")"); done
    hyperfine -N --warmup 1 --runs "$ITERS" --export-json "$WORK/out/git.$n.$round.json" \
      "git -C $(printf '%q' "$TREE") ${q[*]}" >/dev/null 2>&1
  done
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    run_icotes "$round"; run_git "$round"
  else
    run_git "$round"; run_icotes "$round"
  fi
done

if [ "$CALL_RUNS" -gt 0 ]; then
  for n in "${NAMES[@]}"; do
    log "icotes call: $n"
    op=${METHOD[$n]#icotes/}
    hyperfine -N --warmup 0 --runs "$CALL_RUNS" --export-json "$WORK/out/call.$n.json" \
      "$(printf '%q ' "$ICOTES" call --compact --root "$TREE" "$op" "${PARAMS[$n]}")" >/dev/null 2>&1
  done
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/git_report.py --work "$WORK" --out "$OUT" --tree "$TREE" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --icotes-version "$("$ICOTES" version 2>/dev/null | head -n1)" \
  --git-version "$(git --version)" --rounds "$ROUNDS" --iters "$ITERS" \
  --commits "$(git -C "$TREE" rev-list --count HEAD)" --files "$(git -C "$TREE" ls-files | wc -l)" \
  --cmd "BUILD_DIR=$BUILD_DIR ROUNDS=$ROUNDS ITERS=$ITERS bash bench/git.sh"
log "wrote $OUT"
