#!/usr/bin/env python3
"""Writes bench/results/search.md from bench/search.sh's outputs (bench/work/search).

Fails (exit 1) when an icotes answer differs from ripgrep's: a timing of a
wrong answer is worth nothing.
"""
import argparse
import glob
import json
import os
import statistics
import sys


def norm(path):
    return path[2:] if path.startswith("./") else path


def rg_counts(text):
    out = {}
    for line in text.splitlines():
        if not line:
            continue
        path, _, n = line.rpartition(":")
        out[norm(path)] = int(n)
    return out


def rg_files(text):
    return sorted(norm(l) for l in text.splitlines() if l)


def check(sc, reply, rg_text):
    """Returns (ok, summary) comparing icotes' reply with rg's output."""
    result = reply.get("result")
    if result is None:
        return False, "icotes error: " + json.dumps(reply.get("error"))[:200]
    if result.get("truncated"):
        return False, "icotes answer truncated"
    rg = sc["rg"]
    if "-c" in rg:
        mine = {c["path"]: c["matchedLines"] for c in result["counts"]}
        theirs = rg_counts(rg_text)
        if mine != theirs:
            diff = sorted(set(mine.items()) ^ set(theirs.items()))[:5]
            return False, f"counts differ: icotes {len(mine)} files, rg {len(theirs)}; e.g. {diff}"
        return True, f"{len(mine):,} files, {sum(mine.values()):,} lines"
    files = sorted(result["files"])
    theirs = rg_files(rg_text)
    if files != theirs:
        diff = sorted(set(files) ^ set(theirs))[:5]
        return False, f"file lists differ: icotes {len(files)}, rg {len(theirs)}; e.g. {diff}"
    return True, f"{len(files):,} files"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--icotes-version", default="")
    ap.add_argument("--rg-version", default="")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--cmd", default="")
    a = ap.parse_args()
    w = a.work
    scenarios = json.load(open(os.path.join(w, "scenarios.json")))
    icotes_runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(w, "out", "icotes.*.json")))]

    rows = []
    failed = []
    for sc in scenarios:
        n = sc["name"]
        reply = json.loads(open(os.path.join(w, "dump", n + ".json")).read())
        ok, summary = check(sc, reply, open(os.path.join(w, "out", f"rg.{n}.txt")).read())
        if not ok:
            failed.append(f"{n}: {summary}")
        ic_ms = [t for r in icotes_runs for t in r["scenarios"][n]["ms"]]
        ic_kb = max(r["scenarios"][n]["hwm_kb"] for r in icotes_runs)
        rg_ms = []
        for p in sorted(glob.glob(os.path.join(w, "out", f"rg.{n}.*.json"))):
            rg_ms += [t * 1000 for t in json.load(open(p))["results"][0]["times"]]
        rg_kb = [int(l) for l in open(os.path.join(w, "out", f"rg.{n}.mem")).read().split() if l.strip().isdigit()]
        call_ms = []
        cp = os.path.join(w, "out", f"call.{n}.json")
        if os.path.exists(cp):
            call_ms = [t * 1000 for t in json.load(open(cp))["results"][0]["times"]]
        rows.append(dict(name=n, desc=sc["desc"], summary=summary, ok=ok,
                         ic=median(ic_ms), ic_min=min(ic_ms), ic_n=len(ic_ms),
                         rg=median(rg_ms), rg_min=min(rg_ms), rg_n=len(rg_ms),
                         call=median(call_ms) if call_ms else None,
                         ic_kb=ic_kb, rg_kb=median(rg_kb)))

    lines = []
    lines.append("# Search: icotes vs ripgrep on the Linux 6.1 tree")
    lines.append("")
    lines.append("Written by `bench/search.sh` (issue 4, \"Speed\"). Goal: wall time ≤ 1.2x ripgrep, peak memory ≤ 2x.")
    lines.append("")
    lines.append(f"- Tree: `{a.tree}` (Debian's linux-source-6.1 as a git repository), page cache warm (one untimed rg run per scenario first, one warm-up request per scenario and round).")
    lines.append(f"- icotes: `{a.icotes_version}`, one `icotes serve --root TREE` per round driven by `icotes_bench_search` "
                 "(plain JSON-RPC lines over pipes); time = request written → reply line read, the whole reply included; "
                 "memory = the server's VmHWM, reset before each scenario (`/proc/PID/clear_refs`).")
    lines.append(f"- ripgrep: `{a.rg_version}` via `hyperfine -N` with an explicit path (`.` in the tree) and stdin `/dev/null`; "
                 "memory = `/usr/bin/time -f %M`, median of runs.")
    lines.append(f"- {a.rounds} round(s) × {a.iters} timed runs per tool and scenario, rounds alternating which tool goes first; medians over all runs.")
    lines.append(f"- Machine: {os.cpu_count()} cores, shared (others were building): load average {a.load_before} before, {a.load_after} after.")
    lines.append(f"- Command: `{a.cmd}`")
    lines.append("")
    lines.append("Every answer was compared with rg's (same files and per-file matching-line counts, same file lists) before timing counted.")
    lines.append("")
    lines.append("| scenario | answer (both) | icotes ms | rg ms | time icotes/rg | `icotes call` ms | icotes peak MB | rg peak MB | memory icotes/rg |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        tr = r["ic"] / r["rg"]
        mr = r["ic_kb"] / r["rg_kb"]
        tmark = "" if tr <= 1.2 else " ✗"
        mmark = "" if mr <= 2.0 else " ✗"
        call = f"{r['call']:.0f}" if r["call"] is not None else "–"
        lines.append(f"| {r['desc']} | {r['summary'] if r['ok'] else '**MISMATCH**'} | {r['ic']:.0f} | {r['rg']:.0f} | "
                     f"**{tr:.2f}x**{tmark} | {call} | {r['ic_kb'] / 1024:.1f} | {r['rg_kb'] / 1024:.1f} | **{mr:.2f}x**{mmark} |")
    lines.append("")
    lines.append("Minimum times (ms), icotes / rg: " + "; ".join(f"{r['name']} {r['ic_min']:.0f} / {r['rg_min']:.0f}" for r in rows) + ".")
    lines.append("")
    cancels = [ms for run in icotes_runs for ms in run.get("cancel", {}).get("ms", [])]
    if cancels:
        cancels.sort()
        lines.append(f"Cancellation (issue 4: stop within 50 ms): the regex search cancelled with `$/cancelRequest` 200 ms "
                     f"after it started answered -32800 after {cancels[len(cancels) // 2]:.1f} ms (median), "
                     f"{cancels[-1]:.1f} ms (max) of {len(cancels)} tries.")
        lines.append("")
    lines.append("icotes' peak memory is the whole server process (including memory the allocator kept from earlier scenarios); "
                 "`icotes call` is the whole process (start, walk, search, JSON out, exit) for reference.")
    if failed:
        lines.append("")
        lines.append("## Mismatches")
        for f in failed:
            lines.append(f"- {f}")
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    open(a.out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if failed:
        print("bench/search: icotes and rg disagree: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
