#!/usr/bin/env bash
# Regenerates src/services/search/rg_types.inc from the installed ripgrep's type table.
set -euo pipefail
cd "$(dirname "$0")/.."
rg --type-list | python3 -c '
import sys
print("// Generated from `rg --type-list` (" + sys.argv[1] + ") by scripts/gen-rg-types.sh. Do not edit.")
for line in sys.stdin:
    name, globs = line.rstrip("\n").split(": ", 1)
    esc = lambda g: g.replace("\\", "\\\\").replace("\"", "\\\"")
    print("{\"%s\", {%s}}," % (name, ", ".join("\"%s\"" % esc(g) for g in globs.split(", "))))
' "$(rg --version | head -1)" > src/services/search/rg_types.inc
