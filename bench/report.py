#!/usr/bin/env python3
"""Turns the JSON of bench/run.sh into bench/results/files.md."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

SCENARIOS = [
    ("read_small", "read_file, ~90 KB"),
    ("read_large", "read_file, ~700 KB"),
    ("get_file_info", "get_file_info"),
    ("list_directory", "list_directory"),
    ("ping", "ping"),
]


def load(path):
    with open(path) as f:
        return json.load(f)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_us(us):
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.1f} µs"


def main():
    ap = argparse.ArgumentParser()
    for a in ["out-dir", "result", "small-src", "large-src", "list-src", "peer-version", "node-version",
              "load-before", "cmd-icotes", "cmd-peer", "cmd-run"]:
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--runs", type=int, required=True)
    a = ap.parse_args()

    runs = {who: [load(os.path.join(a.out_dir, f"{who}.{i}.json")) for i in range(1, a.runs + 1)]
            for who in ("icotes", "peer")}
    echo = load(os.path.join(a.out_dir, "echo.json"))

    def med(who, scenario, key):
        return statistics.median(r["scenarios"][scenario][key] for r in runs[who])

    def per_run_ratios(scenario):
        return [p["scenarios"][scenario]["p50_us"] / i["scenarios"][scenario]["p50_us"]
                for i, p in zip(runs["icotes"], runs["peer"])]

    L = []
    L.append("# Files: icotes vs @modelcontextprotocol/server-filesystem")
    L.append("")
    L.append("Written by `bench/run.sh` (do not edit by hand). Same client (`bench/mcp_latency.cpp`, C++, "
             "newline-delimited JSON on pipes, one request at a time, replies not parsed), same files, "
             f"both servers in one go, {a.runs} alternating runs per server; each cell is the median over the runs.")
    L.append("")
    L.append("## Latency per request (round trip over stdio)")
    L.append("")
    L.append("| scenario | reply bytes icotes / peer | icotes p50 | icotes p99 | peer p50 | peer p99 | **p50 ratio peer/icotes** (per run) | p99 ratio | goal |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for key, label in SCENARIOS:
        ip50, ip99 = med("icotes", key, "p50_us"), med("icotes", key, "p99_us")
        pp50, pp99 = med("peer", key, "p50_us"), med("peer", key, "p99_us")
        ratio = pp50 / ip50
        rr = ", ".join(f"{r:.1f}" for r in per_run_ratios(key))
        ib = runs["icotes"][0]["scenarios"][key].get("reply_bytes", 0)
        pb = runs["peer"][0]["scenarios"][key].get("reply_bytes", 0)
        if key == "ping":
            goal = "p50 ≤ 50 µs: " + ("met" if ip50 <= 50 else "**missed**")
        else:
            goal = "≥ 10x: " + ("met" if ratio >= 10 else "**missed**")
        L.append(f"| {label} | {ib:,} / {pb:,} | {fmt_us(ip50)} | {fmt_us(ip99)} | {fmt_us(pp50)} | {fmt_us(pp99)} "
                 f"| **{ratio:.1f}x** ({rr}) | {pp99 / ip99:.1f}x | {goal} |")
    L.append("")
    n = [r["scenarios"][k]["n"] for r in runs["icotes"][:1] for k, _ in SCENARIOS]
    L.append(f"Iterations per run: {n[0]} per small scenario, {runs['icotes'][0]['scenarios']['read_large']['n']} "
             "for the ~700 KB read, after a warm-up (200, 30). Pipe floor, the same client against `cat` "
             f"(echoes each request line): p50 {fmt_us(echo['scenarios']['ping']['p50_us'])}, "
             f"p99 {fmt_us(echo['scenarios']['ping']['p99_us'])}.")
    L.append("")

    L.append("## Start-up, memory")
    L.append("")
    L.append("| measure | icotes | peer | goal |")
    L.append("| --- | ---: | ---: | --- |")
    su_i = statistics.median(r["startup"]["median_ms"] for r in runs["icotes"])
    su_p = statistics.median(r["startup"]["median_ms"] for r in runs["peer"])
    spawns = runs["icotes"][0]["startup"]["n"]
    L.append(f"| spawn to initialize reply (median of {spawns} spawns) | {su_i:.1f} ms | {su_p:.1f} ms | "
             f"≤ 20 ms: {'met' if su_i <= 20 else '**missed**'} |")
    rss_i = statistics.median(r["rss_idle_kb"] for r in runs["icotes"]) / 1024
    rss_p = statistics.median(r["rss_idle_kb"] for r in runs["peer"]) / 1024
    L.append(f"| idle RSS (fresh process: initialize, tools/list, one read/stat/list/ping, 1 s idle) | {rss_i:.1f} MB | "
             f"{rss_p:.1f} MB | ≤ 20 MB: {'met' if rss_i <= 20 else '**missed**'} |")
    ra_i = statistics.median(r["rss_after_kb"] for r in runs["icotes"]) / 1024
    ra_p = statistics.median(r["rss_after_kb"] for r in runs["peer"]) / 1024
    hw_i = statistics.median(r["rss_peak_kb"] for r in runs["icotes"]) / 1024
    hw_p = statistics.median(r["rss_peak_kb"] for r in runs["peer"]) / 1024
    L.append(f"| RSS after the whole run / peak (VmHWM) | {ra_i:.1f} / {hw_i:.1f} MB | {ra_p:.1f} / {hw_p:.1f} MB | |")
    L.append("")

    L.append("## What each server was asked")
    L.append("")
    ti, tp = runs["icotes"][0]["tools"], runs["peer"][0]["tools"]
    L.append(f"- icotes {runs['icotes'][0]['serverInfo'].get('version', '?')}: `{ti['read']}` "
             f"{json.dumps(dict(path='…', **ti['readExtraArgs']))} (the whole file, as the peer), `{ti['info']}`, "
             f"`{ti['list']}`; MCP {runs['icotes'][0]['negotiatedVersion']}.")
    L.append(f"- peer @modelcontextprotocol/server-filesystem {a.peer_version} on node {a.node_version}: "
             f"`{tp['read']}` {{path}}, `{tp['info']}`, `{tp['list']}` (tool names looked up in tools/list); "
             f"MCP {runs['peer'][0]['negotiatedVersion']}.")
    same = all(r["identical"]["read_small"] and r["identical"]["read_large"] for w in runs.values() for r in w)
    L.append(f"- Reads checked: both servers returned each file whole, byte-identical to the disk and to each other: "
             f"{'yes' if same else '**NO**'}.")
    L.append("- The replies differ in shape: the peer sends a read's text twice (`content` and `structuredContent`); "
             "icotes sends it once plus metadata (lines, sha256, encoding). icotes' list_directory stats every entry "
             "(type, size, mtime) and returns it as text and as `structuredContent`; the peer returns `[FILE] name` lines.")
    L.append("")

    def size_of(p):
        try:
            return f"{os.path.getsize(p):,} bytes"
        except OSError:
            return "?"

    L.append("## Files (copied into `bench/work/root/`, the root both servers serve)")
    L.append("")
    L.append(f"- ~90 KB: `{a.small_src}` ({size_of(a.small_src)})")
    L.append(f"- ~700 KB: `{a.large_src}` ({size_of(a.large_src)})")
    L.append(f"- list_directory: a copy of `{a.list_src}/*.h` ({len([f for f in os.listdir(a.list_src) if f.endswith('.h')])} entries); "
             "get_file_info: the ~90 KB file")
    L.append("")

    micro = os.path.join(a.out_dir, "micro.json")
    if os.path.exists(micro):
        m = load(micro)
        L.append("## Microbenchmarks (`icotes_bench_micro`, Google Benchmark; text: /usr/include/sqlite3.h, 616 KB)")
        L.append("")
        L.append("| benchmark | time | CPU | throughput |")
        L.append("| --- | ---: | ---: | ---: |")
        for b in m.get("benchmarks", []):
            unit = b.get("time_unit", "ns")
            bps = b.get("bytes_per_second")
            thr = f"{bps / 1e9:.2f} GB/s" if bps else ""
            if b.get("items_per_second"):
                thr += f"{' / ' if thr else ''}{b['items_per_second'] / 1e6:.2f} M msg/s"
            L.append(f"| {b['name']} | {b['real_time']:.1f} {unit} | {b['cpu_time']:.1f} {unit} | {thr} |")
        L.append("")

    L.append("## Machine and commands")
    L.append("")
    L.append(f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    L.append(f"- CPU: {cpu_model()}, nproc {os.cpu_count()}; kernel {platform.release()}")
    L.append(f"- Load average before the run: {a.load_before}. The machine has 2 cores and is shared: other "
             "builds may run at the same time, which shows most in p99 and in start-up time.")
    if os.environ.get("KEEP_AWAKE", "1") == "1":
        L.append("- KEEP_AWAKE=1: one nice-19 busy loop per core kept the VM's vCPUs out of idle while measuring "
                 "(an idle vCPU takes 30-70 us to wake here, for both servers alike; see bench/run.sh).")
    L.append(f"- Run: `{a.cmd_run}`")
    L.append(f"- icotes: `{a.cmd_icotes}`")
    L.append(f"- peer: `{a.cmd_peer}`")
    L.append("")
    os.makedirs(os.path.dirname(a.result) or ".", exist_ok=True)
    with open(a.result, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
