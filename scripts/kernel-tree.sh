#!/usr/bin/env bash
# Prepares the Linux 6.1 source tree from Debian's linux-source-6.1 as a git
# repository (for the search equivalence run and the search/git benchmarks).
# usage: scripts/kernel-tree.sh DEST   (idempotent; prints DEST/linux-source-6.1)
#
# Two stages, each with its own stamp so an existing tree is completed rather
# than extracted again:
#   .icotes-ready          the tarball extracted and committed (one commit)
#   .icotes-history-ready  HISTORY_COMMITS (1200) deterministic commits on top,
#                          for the git log and blame benchmarks (bench/git.sh)
# The history edits comment lines in 20 long .c files only (kernel/sched/core.c
# among them), so the search tier, which compares icotes with rg on the same
# tree, is unaffected. The stamps are ignored by the kernel's .gitignore (".*").
set -euo pipefail
dest=${1:?usage: kernel-tree.sh DEST}
mkdir -p "$dest"
tree="$dest/linux-source-6.1"
if [ -f "$tree/.icotes-ready" ] && [ -f "$tree/.icotes-history-ready" ]; then echo "$tree"; exit 0; fi

if [ ! -f "$tree/.icotes-ready" ]; then
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
fi

# --- history -------------------------------------------------------------------
# A python generator writes a git-fast-import(1) stream: HISTORY_COMMITS
# commits on the root commit, each editing 1-4 of the files below (insert,
# reword or delete "icotes-history" comment lines at seeded positions; whole
# file contents inline), 5 authors, dates one to
# three hours apart from 2023-01-02. Same input, same commits: the ids are
# identical on every machine. The stream goes to a scratch ref first and the
# work tree follows with a two-tree read-tree (only the edited files are
# rewritten; it refuses to overwrite local edits to them), so an interrupted
# run is simply run again. About 80 s on 2 cores, most of it the repack.
cd "$tree"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
branch=$(git symbolic-ref HEAD)
base=$(git rev-list --max-parents=0 HEAD | tail -n1)
git update-index -q --refresh || true  # read-tree -u wants clean stat data for the edited files
old=$(git rev-parse HEAD)
keep=()
for pack in .git/objects/pack/*.pack; do [ -e "$pack" ] && keep+=("--keep-pack=${pack##*/}"); done
HISTORY_COMMITS=${HISTORY_COMMITS:-1200}
python3 - "$base" "$HISTORY_COMMITS" <<'PY' | git fast-import --quiet --force --done
import subprocess
import sys

base, count = sys.argv[1], int(sys.argv[2])
FILES = [
    "kernel/sched/core.c", "kernel/sched/fair.c", "mm/page_alloc.c", "mm/memory.c", "fs/namei.c",
    "fs/namespace.c", "kernel/fork.c", "kernel/signal.c", "kernel/workqueue.c", "net/core/dev.c",
    "net/ipv4/tcp.c", "net/ipv4/tcp_input.c", "block/blk-core.c", "kernel/time/timer.c",
    "kernel/cgroup/cgroup.c", "mm/vmscan.c", "fs/ext4/inode.c", "kernel/trace/trace.c",
    "drivers/base/core.c", "kernel/events/core.c",
]
AUTHORS = [
    ("Ada Lovelace", "ada@example.org"), ("Linus Kernelson", "linus@example.org"),
    ("Grace Hopper", "grace@example.org"), ("Ken Thompson", "ken@example.org"),
    ("Barbara Liskov", "barbara@example.org"),
]
VERBS = ["clarify", "document", "reword", "explain", "note", "tidy"]
TOPICS = ["locking", "refcounting", "error paths", "the fast path", "memory ordering", "the slow path",
          "RCU usage", "teardown", "initialisation", "statistics"]


class Rng:  # splitmix64: the same sequence on every Python
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


rng = Rng(20230102)
lines = {}
for f in FILES:
    blob = subprocess.run(["git", "cat-file", "blob", f"{base}:{f}"], check=True, capture_output=True).stdout
    lines[f] = blob.split(b"\n")  # the last element is b"" (files end with a newline)
ours = {f: [] for f in FILES}  # indices of comment lines the history added, per file

out = sys.stdout.buffer
w = out.write
when = 1672617600  # 2023-01-02T00:00:00Z
w(b"reset refs/icotes/history\nfrom " + base.encode() + b"\n\n")
for n in range(1, count + 1):
    when += 3600 + rng.below(7200)
    name, email = AUTHORS[rng.below(len(AUTHORS))]
    # kernel/sched/core.c is in every fourth commit, for a blame with history.
    picked = {FILES[0]} if n % 4 == 0 else set()
    for _ in range(1 + rng.below(3)):
        picked.add(FILES[rng.below(len(FILES))])
    picked = sorted(picked)
    verb, topic = VERBS[rng.below(len(VERBS))], TOPICS[rng.below(len(TOPICS))]
    subsystem = picked[0].split("/")[-2] if "/" in picked[0] else picked[0]
    subject = f"{subsystem}: {verb} {topic} ({n})"
    body = f"{subject}\n\nHistory commit {n} of {count} for the icotes git benchmarks; edits comments only.\n"
    w(f"commit refs/icotes/history\nauthor {name} <{email}> {when} +0000\n"
      f"committer {name} <{email}> {when} +0000\n".encode())
    msg = body.encode()
    w(b"data %d\n" % len(msg) + msg)
    for f in picked:
        text, added = lines[f], ours[f]
        for _ in range(1 + rng.below(4)):
            kind = rng.below(10)
            if kind < 3 and added:  # reword one of ours
                i = added[rng.below(len(added))]
                text[i] = b"/* icotes-history: %d reworded %s */" % (n, topic.encode())
            elif kind < 4 and added:  # delete one of ours
                k = rng.below(len(added))
                i = added.pop(k)
                del text[i]
                ours[f] = added = [j - 1 if j > i else j for j in added]
            else:  # insert a comment line after a seeded line
                i = 1 + rng.below(len(text) - 1)
                text.insert(i, b"/* icotes-history: %d %s %s */" % (n, verb.encode(), topic.encode()))
                ours[f] = added = [j + 1 if j >= i else j for j in added] + [i]
        data = b"\n".join(text)
        w(f"M 100644 inline {f}\n".encode() + b"data %d\n" % len(data) + data + b"\n")
    w(b"\n")
w(b"done\n")
out.flush()
PY
# fast-import deltas each blob against the one before it in the stream, i.e.
# mostly another file: repack the new objects (not the tarball's pack) so the
# history is delta-compressed like a real repository's (157 MB -> 2 MB).
git -c pack.threads=2 repack -a -d -f -q "${keep[@]}"
new=$(git rev-parse refs/icotes/history)
if [ "$old" != "$new" ]; then
  git read-tree -m -u "$old" "$new"
  git update-ref -m "kernel-tree.sh: history" "$branch" "$new" "$old"
fi
git update-ref -d refs/icotes/history
touch .icotes-history-ready
echo "$tree"
