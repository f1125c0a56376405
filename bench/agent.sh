#!/usr/bin/env bash
# bench/agent.sh: the provider layer's and the agent loop's own costs (issue
# 18, "Speed and memory"), each beside its floor in one run; writes
# bench/results/agent.md. Goals: streaming adds <= 1 ms per delta over the
# raw HTTP stream; an agent turn's overhead outside the model call and the
# tool <= 2 ms; a 100-turn conversation resumes in <= 50 ms; <= 1 MB per idle
# conversation. What each benchmark does: bench/agent_bench.cpp.
#
#   bash bench/agent.sh                        # builds the release preset first
#   BUILD_DIR=build/x bash bench/agent.sh      # an existing, configured build dir
#
# Knobs (environment): MIN_TIME (1 s per benchmark), REPS (3 repetitions; the
# report takes medians), OUT (bench/results/agent.md), JSON (keep Google
# Benchmark's JSON there).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
MIN_TIME=${MIN_TIME:-1}
REPS=${REPS:-3}
OUT=${OUT:-bench/results/agent.md}
if [ "$BUILD_DIR" = build/release ]; then
  cmake --preset release >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target icotes_bench_agent
if [ -n "${JSON:-}" ]; then
  json=$JSON  # kept: the raw Google Benchmark figures
else
  json=$(mktemp /tmp/icotes-bench-agent-XXXXXX.json)
  trap 'rm -f "$json"' EXIT
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$BUILD_DIR/bench/icotes_bench_agent" --benchmark_min_time="$MIN_TIME" --benchmark_repetitions="$REPS" \
  --benchmark_out="$json" --benchmark_out_format=json </dev/null
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/agent_report.py "$json" --out "$OUT" --load-before "$load_before" --load-after "$load_after" \
  --reps "$REPS" --command "MIN_TIME=$MIN_TIME REPS=$REPS bash bench/agent.sh"
echo "bench/agent: wrote $OUT" >&2
