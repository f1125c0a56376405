#!/usr/bin/env bash
# Prepares the Linux 6.1 source tree from Debian's linux-source-6.1 as a git
# repository (for the search equivalence run and the search/git benchmarks).
# usage: scripts/kernel-tree.sh DEST   (idempotent; prints DEST/linux-source-6.1)
set -euo pipefail
dest=${1:?usage: kernel-tree.sh DEST}
mkdir -p "$dest"
tree="$dest/linux-source-6.1"
if [ -f "$tree/.icotes-ready" ]; then echo "$tree"; exit 0; fi
if ! dpkg-query -W -f='${Status}' linux-source-6.1 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends linux-source-6.1 >&2 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends linux-source-6.1 >&2; }
fi
rm -rf "$tree"
tar -C "$dest" -xf /usr/src/linux-source-6.1.tar.xz
cd "$tree"
# Debian's tarball appends "/*" to .gitignore (its packaging repository
# ignores the top level); drop that block to get upstream's .gitignore.
python3 - <<'PY'
text = open(".gitignore").read()
cut = text.find("#\n# Debian packaging")
if cut >= 0:
    open(".gitignore", "w").write(text[:cut])
PY
git init -q
git -c user.name=icotes -c user.email=icotes@localhost add -A
git -c user.name=icotes -c user.email=icotes@localhost commit -qm "linux-source-6.1 from Debian"
touch .icotes-ready
echo "$tree"
