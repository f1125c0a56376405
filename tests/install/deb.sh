#!/usr/bin/env bash
# The Debian package, unpacked into a fresh directory (dpkg -x: what apt
# install puts under /), runs: --version, the operation list, a git call (the
# git module found from the unpacked tree, not the build tree) and an HTTP
# door (the http module). The package's control data: libgit2 and
# bubblewrap among its dependencies, no file outside /usr.
# Usage: deb.sh BUILD_DIR (a configured and built tree with CPackConfig.cmake).
set -euo pipefail
build=${1:?usage: deb.sh BUILD_DIR}
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/cpack" >/dev/null) || fail "cpack could not build the package"
deb=$(ls "$work"/cpack/icotes_*.deb)
echo "package: $(basename "$deb")"

control=$(dpkg-deb -I "$deb")
depends=$(sed -n 's/^ Depends: //p' <<<"$control")
echo "Depends: $depends"
grep -q '^ Package: icotes$' <<<"$control" || fail "package name is not icotes"
for dep in libgit2-1.5 libvterm0 libedit2 bubblewrap; do
  grep -Eq "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep"
done
outside=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -Ev '^\./$|^\./usr(/|$)' || true)
[ -z "$outside" ] || fail "files outside /usr: $outside"

dpkg -x "$deb" "$work/root"
icotes=$work/root/usr/bin/icotes
unset ICOTES_GIT_MODULE ICOTES_HTTP_MODULE
export XDG_RUNTIME_DIR=$work/run XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
mkdir -m 700 "$XDG_RUNTIME_DIR"

"$icotes" --version | grep -q '^icotes [0-9]' || fail "--version"
repo=$work/repo
mkdir "$repo"
git -C "$repo" init -q
echo hello >"$repo/a.txt"
"$icotes" call --in-process --root "$repo" --list | grep -q 'git/status' || fail "call --list has no git/status"
status=$("$icotes" call --in-process --compact --root "$repo" git/status '{}') || fail "git/status: $status"
grep -q 'a.txt' <<<"$status" || fail "git/status does not list a.txt: $status"
echo "git/status through the unpacked binary: ok"

# icotes doctor: the modules found in the unpacked tree; a missing bwrap is
# (neither at $ICOTES_BWRAP nor on PATH) is reported with its fix and exit
# status 1.
report=$("$icotes" doctor --root "$repo") || fail "doctor found something missing: $report"
grep -q "ok .*git module .*$work/root/usr/lib/.*icotes-git.so (loads)" <<<"$report" || fail "doctor: $report"
grep -q "ok .*http module .*$work/root/usr/lib/.*icotes-http.so (loads)" <<<"$report" || fail "doctor: $report"
grep -q "ok .*providers module .*$work/root/usr/lib/.*icotes-providers.so (loads)" <<<"$report" || fail "doctor: $report"
status=0
report=$(ICOTES_BWRAP=$work/no-bwrap PATH=$work/empty "$icotes" doctor --root "$repo") || status=$?
[ "$status" = 1 ] || fail "doctor without bwrap exited $status: $report"
grep -q "MISSING  bubblewrap .*$work/no-bwrap" <<<"$report" || fail "doctor without bwrap: $report"
grep -q "fix: apt install bubblewrap" <<<"$report" || fail "doctor gives no fix for bwrap: $report"
echo "doctor: ok"

# The HTTP door: its URL on stderr, then a request without the token is refused (401).
mkfifo "$work/err"
"$icotes" serve --root "$repo" --listen http:127.0.0.1:0 2>"$work/err" >/dev/null &
server=$!
exec 3<"$work/err"
url=
while IFS= read -r -t 20 line <&3; do
  if [[ $line =~ listening\ on\ (http://127\.0\.0\.1:[0-9]+/mcp) ]]; then
    url=${BASH_REMATCH[1]}
    break
  fi
done
[ -n "$url" ] || fail "the HTTP door did not start"
cat <&3 >/dev/null &  # keep draining the server's log
echo "HTTP door: $url"
if command -v curl >/dev/null; then
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$url")
  [ "$code" = 401 ] || fail "the HTTP door answered $code without a token (expected 401)"
fi
kill "$server"
wait "$server" || true
server=
echo "PASS"
