#!/usr/bin/env python3
"""Writes bench/results/git.md from bench/git.sh's outputs (bench/work/git).

Fails (exit 1) when an icotes answer differs from git's: a timing of a wrong
answer is worth nothing.
"""
import argparse
import glob
import json
import os
import statistics
import sys

GOAL = 1.5  # issue 5: each operation within 1.5x git's wall time


def porcelain_v2_paths(text):
    """`git status --porcelain=v2` (without -z) → ["XY path", ...] in order."""
    out = []
    for line in text.splitlines():
        if line.startswith("# ") or not line:
            continue
        kind = line[0]
        parts = line.split(" ")
        if kind in "?!":
            out.append(kind * 2 + " " + line[2:])
        elif kind == "1":
            out.append(parts[1] + " " + " ".join(parts[8:]))
        elif kind == "2":
            out.append(parts[1] + " " + " ".join(parts[9:]).split("\t")[0])
        elif kind == "u":
            out.append(parts[1] + " " + " ".join(parts[10:]))
    return out


def blame_hashes(text):
    """`git blame --porcelain` → the commit of each line, in line order."""
    out = []
    current = None
    for line in text.split("\n"):
        if line.startswith("\t"):
            out.append(current)
        elif len(line) > 41 and line[40] == " " and all(c in "0123456789abcdef" for c in line[:40]):
            current = line[:40]
    return out


def first_difference(want, got):
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"#{i}: git {a!r}, icotes {b!r}"
    return f"lengths: git {len(want)}, icotes {len(got)}"


def check(sc, reply, git_text):
    """(ok, summary) comparing icotes' reply with git's output."""
    result = reply.get("result")
    if result is None:
        return False, "icotes error: " + json.dumps(reply.get("error"))[:300]
    verb = sc["method"].rsplit("/", 1)[1]
    # log's truncated says more commits exist beyond maxCount (git's -n leaves
    # them out too); elsewhere it means the answer is incomplete.
    if result.get("truncated") and verb != "log":
        return False, "icotes answer truncated (raise the limit)"
    if verb == "status":
        mine = [e["index"] + e["worktree"] + " " + e["path"] for e in result["entries"]]
        theirs = porcelain_v2_paths(git_text)
        if mine != theirs:
            return False, "entries differ: " + first_difference(theirs, mine)
        return True, f"{len(mine):,} entries"
    if verb == "diff":
        if result["text"] != git_text:
            return False, "text differs: " + first_difference(git_text.split("\n"), result["text"].split("\n"))
        return True, f"{len(result['files'])} files, {len(git_text.encode()):,} bytes"
    if verb == "log":
        mine = [c["hash"] for c in result["commits"]]
        theirs = [l.split("\t")[0] for l in git_text.splitlines() if l]
        if mine != theirs:
            return False, "commits differ: " + first_difference(theirs, mine)
        return True, f"{len(mine):,} commits"
    if verb == "blame":
        mine = []
        for h in result["hunks"]:
            mine += [h["hash"]] * h["lineCount"]
        theirs = blame_hashes(git_text)
        if mine != theirs:
            return False, "blamed lines differ: " + first_difference(theirs, mine)
        return True, f"{len(mine):,} lines, {len(result['commits'])} commits"
    return False, f"no check for {verb}"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    for name in ["work", "out", "tree"]:
        ap.add_argument("--" + name, required=True)
    for name in ["load-before", "load-after", "icotes-version", "git-version", "cmd", "commits", "files"]:
        ap.add_argument("--" + name, default="")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--iters", type=int, default=1)
    a = ap.parse_args()
    w = a.work
    scenarios = json.load(open(os.path.join(w, "scenarios.json")))
    icotes_runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(w, "out", "icotes.*.json")))]

    rows, failed = [], []
    for sc in scenarios:
        n = sc["name"]
        reply = json.loads(open(os.path.join(w, "dump", n + ".json")).read())
        ok, summary = check(sc, reply, open(os.path.join(w, "out", f"git.{n}.txt"), encoding="utf-8").read())
        if not ok:
            failed.append(f"{n}: {summary}")
        ic_ms = [t for r in icotes_runs for t in r["scenarios"][n]["ms"]]
        git_ms = []
        for p in sorted(glob.glob(os.path.join(w, "out", f"git.{n}.*.json"))):
            git_ms += [t * 1000 for t in json.load(open(p))["results"][0]["times"]]
        call_ms = []
        cp = os.path.join(w, "out", f"call.{n}.json")
        if os.path.exists(cp):
            call_ms = [t * 1000 for t in json.load(open(cp))["results"][0]["times"]]
        rows.append(dict(name=n, desc=sc["desc"], summary=summary, ok=ok, ic=median(ic_ms), ic_min=min(ic_ms),
                         git=median(git_ms), git_min=min(git_ms), call=median(call_ms) if call_ms else None,
                         git_cmd="git " + " ".join(sc["git"])))

    L = []
    L.append("# Git: icotes vs the git CLI on the Linux 6.1 repository")
    L.append("")
    L.append(f"Written by `bench/git.sh` (issue 5, \"Speed\"). Goal: each operation ≤ {GOAL}x git's wall time.")
    L.append("")
    L.append(f"- Repository: `{a.tree}` (Debian's linux-source-6.1, {a.files.strip()} tracked files, "
             f"{a.commits.strip()} commits: the tarball plus the deterministic history of `scripts/kernel-tree.sh`), "
             "page cache warm (one untimed git run per scenario first, one warm-up request per scenario and round). "
             "50 `.c` files are modified for the run (one line inserted, one changed in each) and restored afterwards.")
    L.append(f"- icotes: `{a.icotes_version}`, one long-lived `icotes serve --root TREE` per round (an editor's "
             "sidecar) driven by `icotes_bench_search` (plain JSON-RPC lines over pipes); time = request written → "
             "reply line read, the whole reply included.")
    L.append(f"- git: `{a.git_version}` via `hyperfine -N` (output discarded), no user or system configuration "
             "(`GIT_CONFIG_GLOBAL=/dev/null`, `GIT_CONFIG_NOSYSTEM=1`; icotes runs with the same empty HOME).")
    L.append(f"- {a.rounds} round(s) × {a.iters} timed runs per tool and scenario, rounds alternating which tool "
             "goes first; medians over all runs.")
    L.append(f"- Machine: {os.cpu_count()} cores, shared (others were building): load average {a.load_before} before, "
             f"{a.load_after} after.")
    L.append(f"- Command: `{a.cmd}`")
    L.append("")
    L.append("Every answer was compared with git's before timing counted (status: the same entries in order; "
             "diff: the same text byte for byte; log: the same commits in order; blame: the same commit for every "
             "line).")
    L.append("")
    L.append("| scenario | git command | answer (both) | icotes ms | git ms | icotes/git | `icotes call` ms |")
    L.append("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = r["ic"] / r["git"]
        mark = "" if ratio <= GOAL else " ✗"
        call = f"{r['call']:.0f}" if r["call"] is not None else "–"
        L.append(f"| {r['desc']} | `{r['git_cmd']}` | {r['summary'] if r['ok'] else '**MISMATCH**'} | {r['ic']:.0f} | "
                 f"{r['git']:.0f} | **{ratio:.2f}x**{mark} | {call} |")
    L.append("")
    L.append("Minimum times (ms), icotes / git: " +
             "; ".join(f"{r['name']} {r['ic_min']:.0f} / {r['git_min']:.0f}" for r in rows) + ".")
    L.append("")
    L.append("`icotes call` is a whole cold process (start, open the repository, load the index, answer, print, exit), "
             "for reference; the ratio is the sidecar's.")
    if failed:
        L.append("")
        L.append("## Mismatches")
        for f in failed:
            L.append(f"- {f}")
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    open(a.out, "w").write("\n".join(L) + "\n")
    print("\n".join(L))
    if failed:
        print("bench/git: icotes and git disagree: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
