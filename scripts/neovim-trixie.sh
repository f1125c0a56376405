#!/usr/bin/env bash
# Fetches Debian 13 (trixie)'s Neovim and the libraries it needs from
# deb.debian.org into DEST and prints the path of an `nvim` wrapper that runs
# it, so the Neovim tests also run on a Neovim newer than Debian 12's 0.7
# (vim.lsp.start and the 0.9+ code paths). The binary needs glibc 2.38 and
# Debian 12 has 2.36: the wrapper starts it through trixie's own dynamic
# loader with trixie's libraries (--library-path), so nothing on the system
# changes and programs Neovim starts (icotes) use the system's libraries.
#
# usage: scripts/neovim-trixie.sh DEST   (idempotent; prints DEST/bin/nvim)
# Package versions are read from trixie's current Packages index, so a point
# release does not break the download. Exits non-zero with a message when
# deb.debian.org cannot be reached.
set -euo pipefail
dest=${1:?usage: neovim-trixie.sh DEST}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
wrapper=$dest/bin/nvim
if [ -x "$wrapper" ] && [ -f "$dest/.icotes-ready" ]; then echo "$wrapper"; exit 0; fi

packages=(neovim neovim-runtime libc6 libluajit-5.1-2 libluajit-5.1-common libmsgpack-c2
          libtree-sitter0.22 libunibilium4 libuv1t64 libvterm0 lua-lpeg lua-luv)
rm -rf "$dest"
mkdir -p "$dest/debs" "$dest/root" "$dest/bin"
curl -fsS --max-time 120 "$mirror/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc >"$dest/Packages"
for p in "${packages[@]}"; do
  file=$(awk -v p="$p" '$0 == "Package: " p { f = 1 } f && /^Filename:/ { print $2; exit }' "$dest/Packages")
  [ -n "$file" ] || { echo "neovim-trixie: $p is not in trixie's index" >&2; exit 1; }
  curl -fsS --max-time 120 -o "$dest/debs/${file##*/}" "$mirror/$file"
  dpkg-deb -x "$dest/debs/${file##*/}" "$dest/root"
done
rm -rf "$dest/debs" "$dest/Packages"
root=$(cd "$dest/root" && pwd)
cat >"$wrapper" <<WRAP
#!/bin/sh
# Debian 13's Neovim through Debian 13's loader (written by scripts/neovim-trixie.sh).
VIMRUNTIME=$root/usr/share/nvim/runtime exec $root/usr/lib64/ld-linux-x86-64.so.2 \\
  --library-path $root/usr/lib/x86_64-linux-gnu $root/usr/bin/nvim "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" --version | head -1 >&2
touch "$dest/.icotes-ready"
echo "$wrapper"
