#!/usr/bin/env bash
# Builds a git repository exercising ignore rules ripgrep honours: nested
# .gitignore with negation, anchoring, '**', directory-only patterns,
# escapes; .ignore and .rgignore precedence; .git/info/exclude; hidden files;
# symlinks; binary files; UTF-16 with BOM; UTF-8 with BOM (ripgrep drops
# it before matching; a big file is read in chunks); a file and a directory
# nobody may read (mode 000: reported, as rg does, by a process without
# CAP_DAC_OVERRIDE; the harness drops it when run as root); a nested
# repository.
# usage: ignore_fixture.sh DEST   (DEST is recreated)
set -euo pipefail
d=${1:?usage: ignore_fixture.sh DEST}
[ -d "$d" ] && chmod -R u+rwX "$d"
rm -rf "$d"; mkdir -p "$d"; cd "$d"
git init -q .
w() { mkdir -p "$(dirname "$1")"; printf '%b' "$2" > "$1"; }
w .gitignore '*.log\n/build/\ndocs/*.tmp\n!keep.log\nnode_modules/\n**/generated/**\n\\#hash.txt\nspace\\ \n*.o\n!important.o\ncache\n'
w .ignore 'ignored-by-dotignore.txt\n!un-ignored-by-dotignore.log\n'
w .rgignore 'secret/\n'
w .git/info/exclude 'excluded.txt\n'
w src/main.c 'int main(void) { return needle(); }\n// needle in main\n'
w src/util.c 'static int needle(void) { return 1; }\n'
w src/.gitignore 'local.c\n!/keep/\nsub/*.c\n'
w src/local.c 'needle local\n'
w src/sub/a.c 'needle sub a\n'
w src/sub/a.h 'needle sub header\n'
w src/sub/deeper/b.c 'needle deeper\n'
w src/keep/x.c 'needle keep\n'
w app.log 'needle in log\n'
w keep.log 'needle kept log\n'
w un-ignored-by-dotignore.log 'needle unignored\n'
w ignored-by-dotignore.txt 'needle dotignore\n'
w excluded.txt 'needle excluded\n'
w build/out.txt 'needle build\n'
w lib/build/out.txt 'needle nested build dir is not anchored\n'
w docs/a.tmp 'needle tmp\n'
w docs/sub/b.tmp 'needle nested tmp\n'
w docs/readme.md 'needle docs\n'
w node_modules/pkg/index.js 'needle node\n'
w x/generated/y/z.txt 'needle generated\n'
w '#hash.txt' 'needle hash\n'
w 'space ' 'needle space\n'
w obj.o 'needle object\n'
w important.o 'needle important object\n'
w cache 'needle cache file\n'
w secret/key.txt 'needle secret\n'
w .hidden/h.txt 'needle hidden dir\n'
w .dotfile 'needle dotfile\n'
w src/.env 'needle env\n'
w 'with spaces/file name.txt' 'needle spaces\n'
w unicode/ünï.txt 'needle ünïcode Ärger\n'
printf 'needle before nul\n\0after\n' > binary.bin
printf '\xff\xfen\0e\0e\0d\0l\0e\0 \0u\0t\0f\x001\x006\0\n\0' > utf16.txt
printf 'needle crlf\r\nsecond needle\r\n' > crlf.txt
printf 'needle no final newline' > nofinal.txt
printf '\xef\xbb\xbfneedle bom first\nsecond needle bom\n' > bom.txt
printf '\xef\xbb\xbfneedle bom crlf\r\n' > bom-crlf.txt
{ printf '\xef\xbb\xbfneedle bom big\n'; seq 1 30000 | sed 's/^/filler line /'; printf 'needle bom big end\n'; } > bom-big.txt
mkdir empties; : > empties/empty.txt; printf '\xef\xbb\xbf' > empties/bom-only.txt; printf 'x\n' > empties/one.txt
printf 'needle locked\n' > locked.txt; chmod 000 locked.txt
mkdir lockdir; chmod 000 lockdir  # empty: removable by its owner whatever its mode
ln -s src/main.c link-to-main.c
ln -s src linkdir
mkdir -p nested && (cd nested && git init -q . && printf 'inner.txt\n' > .gitignore && printf 'needle inner\n' > inner.txt && printf 'needle inner kept\n' > kept.txt)
for i in $(seq 1 30); do w "many/f$i.txt" "line one\nneedle $i\nline three\n"; done
