#!/usr/bin/env bash
# clang-tidy (the checks of .clang-tidy at the root) over icotes' own sources:
# every src/ file in the release preset's compile_commands.json, with the
# headers under src/ and include/ they include. `make tidy` runs it.
#
#   scripts/tidy.sh [FILE...]   only these files (paths as in the tree)
#
# JOBS (default 2) files at a time, under nice. Prints each finding once (a
# header's are reported by every file that includes it) and exits 1 when
# there is any. Takes minutes: clang parses every translation unit again
# (README "Development" has the figure).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${ICOTES_TIDY_BUILD:-build/release}
jobs=${JOBS:-2}

tidy=""
for c in clang-tidy-14 clang-tidy; do
  if command -v "$c" >/dev/null 2>&1; then
    tidy=$c
    break
  fi
done
if [ -z "$tidy" ]; then
  echo "tidy: clang-tidy not found (scripts/install-deps.sh --tests installs it)" >&2
  exit 77
fi
# The compile commands, and the sources the build generates (schemas.cpp).
[ -f "$build/compile_commands.json" ] || cmake --preset release >/dev/null

if (($#)); then
  files=()
  for f in "$@"; do files+=("$root/${f#"$root"/}"); done
else
  mapfile -t files < <(python3 -c '
import json, sys
root = sys.argv[1] + "/src/"
print("\n".join(sorted({e["file"] for e in json.load(open(sys.argv[2])) if e["file"].startswith(root)})))
' "$root" "$build/compile_commands.json")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
# Each file's report into its own file (two at a time would interleave).
# Clang, unlike GCC, warns on libgit2's GIT_*_INIT initializers (fields left
# to zero on purpose), and -Werror from the compile commands would make that
# an error that stops the file's analysis.
printf '%s\n' "${files[@]}" | cat -n |
  nice xargs -P "$jobs" -L 1 sh -c '"$1" -p "$2" --quiet --extra-arg=-Wno-missing-field-initializers "$5" >"$3/$4.txt" 2>&1 || true' sh "$tidy" "$build" "$tmp"
# A finding is its "file:line:col: warning: ... [check]" line and the notes
# and source lines after it; repeats (a header's findings come from every
# file that includes it) and clang-tidy's tallies are left out.
findings=$(awk '
  /^[^ ].*:[0-9]+:[0-9]+: (warning|error): / { keep = !($0 in seen); seen[$0] = 1; if (keep) print; next }
  /^[0-9]+ (warning|error)s? .*generated\.$|^Suppressed [0-9]+ warnings/ { keep = 0; next }
  /^Error while processing/ { print; keep = 0; next }
  keep { print }
' $(ls "$tmp"/*.txt | sort -V))
n=$(printf '%s\n' "$findings" | grep -cE '^[^ ].*:[0-9]+:[0-9]+: (warning|error): |^Error while processing' || true)
elapsed=$(($(date +%s) - start))
if ((n)); then
  printf '%s\n' "$findings"
  echo "tidy: $n findings in ${#files[@]} files (${elapsed} s)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean (${elapsed} s)"
