#!/usr/bin/env bash
# Installs what icotes needs. Idempotent: a second run installs nothing and
# takes a few seconds.
#
#   scripts/install-deps.sh           what building and running need (Debian
#                                     packages only; `make build`, `make run`)
#   scripts/install-deps.sh --tests   also what the test tiers and benchmarks
#                                     need: git, ripgrep, Neovim (Debian 12's
#                                     and Debian 13's, scripts/neovim-trixie.sh),
#                                     clang for the fuzz targets, clang-tidy
#                                     for `make tidy`, node and the
#                                     pinned node packages of integration/,
#                                     editors/vscode/ and integration/hosts/ (the
#                                     MCP host CLIs, about 900 MB;
#                                     ICOTES_SKIP_HOSTS=1 leaves them out), and
#                                     code-server for the VS Code end-to-end test
#                                     (about 840 MB; ICOTES_SKIP_CODE_SERVER=1).
#                                     Tests whose tools are missing skip, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
[ "${1:-}" = --tests ] && tests=1

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libgit2-dev libcpp-httplib-dev libssl-dev nlohmann-json3-dev libvalijson-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libsqlite3-dev nettle-dev
  libgtest-dev libgmock-dev libbenchmark-dev rapidjson-dev libre2-dev libpcre2-dev
  libvterm-dev libjemalloc-dev libedit-dev bubblewrap ccache
)
if ((tests)); then
  PACKAGES+=(
    clang clang-tidy libclang-rt-14-dev shfmt
    git ripgrep neovim hyperfine python3 procps curl xz-utils
    chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev
  )
  # Node.js may come from elsewhere (NodeSource ships npm inside nodejs and
  # conflicts with Debian's npm): take Debian's only when there is no node/npm.
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

((tests)) || exit 0

# Node packages for the integration tier, pinned by integration/package-lock.json.
if [ -f integration/package-lock.json ]; then
  stamp=integration/node_modules/.icotes-lock.sha256
  want=$(sha256sum integration/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd integration && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
fi

# The VS Code extension's build and test packages (TypeScript, esbuild,
# @vscode/vsce, vscode-languageclient), pinned by editors/vscode/package-lock.json.
if [ -f editors/vscode/package-lock.json ]; then
  stamp=editors/vscode/node_modules/.icotes-lock.sha256
  want=$(sha256sum editors/vscode/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
fi

# The MCP host CLIs of integration/hosts/ (Claude Code, Codex, Gemini CLI),
# pinned by their own lock, installed into integration/hosts/node_modules only.
if [ -f integration/hosts/package-lock.json ] && [ "${ICOTES_SKIP_HOSTS:-0}" != 1 ]; then
  stamp=integration/hosts/node_modules/.icotes-lock.sha256
  want=$(sha256sum integration/hosts/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd integration/hosts && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
fi

# A newer Neovim beside Debian 12's 0.7 for the Neovim tests: Debian 13's,
# unpacked into a cache outside the clone (scripts/neovim-trixie.sh). Without
# it (no network to deb.debian.org) those tests are not registered, and
# configuring says so.
nvim_cache=${ICOTES_CACHE_DIR:-$HOME/.cache/icotes}/neovim-trixie
bash scripts/neovim-trixie.sh "$nvim_cache" >/dev/null ||
  echo "install-deps: Debian 13's Neovim could not be fetched into $nvim_cache; only Neovim 0.7 is tested" >&2

# A real VS Code for the VS Code extension's end-to-end test: code-server
# and puppeteer-core from npm, run by npm's Node 24, into a cache outside the
# clone (scripts/code-server.sh; about 840 MB, minutes of native builds the
# first time). ICOTES_SKIP_CODE_SERVER=1 leaves it out; the test then skips,
# saying so.
if [ "${ICOTES_SKIP_CODE_SERVER:-0}" != 1 ]; then
  cs_cache=${ICOTES_CACHE_DIR:-$HOME/.cache/icotes}/code-server
  bash scripts/code-server.sh "$cs_cache" ||
    echo "install-deps: code-server could not be installed into $cs_cache; the VS Code end-to-end test will skip" >&2
fi
