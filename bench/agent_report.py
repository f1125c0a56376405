#!/usr/bin/env python3
"""Turns the Google Benchmark JSON of bench/agent.sh into bench/results/agent.md."""
import argparse
import json
import os
import platform
import statistics


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def medians(doc):
    """name -> {field: median over the repetitions} (iteration rows only)."""
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or "error_occurred" in b and b["error_occurred"]:
            continue
        name = b["run_name"].replace("/real_time", "")
        rows.setdefault(name, []).append(b)
    out = {}
    for name, runs in rows.items():
        fields = {}
        for key in runs[0]:
            vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
            if vals:
                fields[key] = statistics.median(vals)
        fields["unit"] = runs[0].get("time_unit", "ns")
        out[name] = fields
    return out


def ms(row, field="real_time"):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[row["unit"]]
    return row[field] * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--load-before", default="?")
    ap.add_argument("--load-after", default="?")
    ap.add_argument("--command", default="bash bench/agent.sh")
    ap.add_argument("--reps", default="?")
    a = ap.parse_args()
    with open(a.json) as f:
        doc = json.load(f)
    m = medians(doc)
    L = []
    L.append("# The agent: streaming, a turn, resume, memory (icotes)\n")
    L.append('Issue 18, "Speed and memory". Written by `bench/agent.sh` (Google Benchmark: `bench/agent_bench.cpp`); '
             "every server on 127.0.0.1, every file in a temporary directory. Medians over "
             f"{a.reps} repetitions "
             "(see the command below).\n")
    L.append(f"Machine: {os.cpu_count()} cores, {cpu_model()}, {platform.release()}; load (1/5/15 min) "
             f"{a.load_before} before, {a.load_after} after (the machine was shared: wall times are upper bounds, "
             "CPU times steadier).\n")

    # The goals, first.
    goals = []
    adds = [(m[f"Stream/{p}/{n}"]["cpu_us_per_delta"] - m[f"Stream/raw/{n}"]["cpu_us_per_delta"],
             m[f"Stream/{p}/{n}"]["wall_us_per_delta"] - m[f"Stream/raw/{n}"]["wall_us_per_delta"])
            for p in ("openai", "agent") for n in (100, 1000, 10000)
            if f"Stream/{p}/{n}" in m and f"Stream/raw/{n}" in m]
    if adds:
        goals.append(("streaming, added per delta over the raw HTTP stream", "≤ 1 ms",
                      f"≤ {max(a[0] for a in adds):.1f} µs CPU, ≤ {max(a[1] for a in adds):.1f} µs wall"))
    if "OpsTurn/20" in m and "OpsTool/get_file_info" in m:
        over = ms(m["OpsTurn/20"]) * 1000 / 20 - ms(m["OpsTool/get_file_info"]) * 1000
        goals.append(("an agent turn outside the model call and the tool (agent/run)", "≤ 2 ms", f"{over / 1000:.2f} ms"))
    if "Resume/agent_resume/100_turns" in m:
        goals.append(("resuming a 100-turn conversation (agent/resume, one model call)", "≤ 50 ms",
                      f"{ms(m['Resume/agent_resume/100_turns']):.1f} ms"))
    idle = [(int(k.split("/")[2]), r) for k, r in m.items() if k.startswith("Memory/idle/")]
    if idle:
        n, r = max(idle, key=lambda x: x[0])
        goals.append(("memory per idle conversation", "≤ 1 MB",
                      f"{r['heap_bytes_per_idle_conversation'] / 1024:.1f} KiB at {n} (SQLite's bounded cache, shared)"))
    L.append("| goal | target | measured |")
    L.append("| --- | ---: | ---: |")
    for g in goals:
        L.append(f"| {g[0]} | {g[1]} | {g[2]} |")
    L.append("")

    # 1. streaming
    L.append("## Streaming: per text delta, over the raw HTTP stream (goal: adds ≤ 1 ms)\n")
    L.append("One Chat Completions stream (`stream: true`, OpenAI's wire format as Ollama or llama-server send it; "
             "each event its own HTTP chunk, ~180 bytes) of N text deltas. *raw*: a bare cpp-httplib client that "
             "counts the body's bytes. *provider*: the `openai` provider (SSE parser, chunk decoding, the sink "
             "getting each delta). CPU: the calling thread's.\n")
    L.append("*agent*: the same stream as one agent turn (the loop forwarding each delta, its progress event "
             "rendered to JSON as agent/run sends it).\n")
    L.append("| deltas | path | wall µs/delta | CPU µs/delta | added CPU µs/delta over raw | added wall µs/delta over raw "
             "| CPU / raw |")
    L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in (100, 1000, 10000):
        raw = m.get(f"Stream/raw/{n}")
        if not raw:
            continue
        L.append(f"| {n} | raw | {raw['wall_us_per_delta']:.2f} | {raw['cpu_us_per_delta']:.2f} | | | 1.00x |")
        for path, label in (("openai", "provider"), ("agent", "agent")):
            r = m.get(f"Stream/{path}/{n}")
            if not r:
                continue
            L.append(f"| {n} | {label} | {r['wall_us_per_delta']:.2f} | {r['cpu_us_per_delta']:.2f} | "
                     f"{r['cpu_us_per_delta'] - raw['cpu_us_per_delta']:.2f} | "
                     f"{r['wall_us_per_delta'] - raw['wall_us_per_delta']:.2f} | "
                     f"{r['cpu_us_per_delta'] / raw['cpu_us_per_delta']:.2f}x |")
    L.append("\nWall differences below a few µs are noise on a shared machine (negative ones included); the CPU "
             "columns are the cost.\n")

    # 2. a turn
    L.append("## An agent turn, outside the model call and the tool (goal: ≤ 2 ms)\n")
    L.append("`agent::run` with a model that answers at once (a tool call per turn, then text) and a tool that "
             "returns a 2 KB page at once; every request carries the 41 MCP tools' specs and the whole history; "
             "every progress event is rendered to JSON as agent/run renders it. *OpsTurn*: agent/run through the "
             "operation registry, the permission gate, the mock provider (its script read per run) and the real "
             "`get_file_info` per turn; *OpsTool* is that tool alone through the registry.\n")
    L.append("| run | turns | per run ms | per turn µs (wall) | per turn µs (CPU of the running thread) |")
    L.append("| --- | ---: | ---: | ---: | ---: |")
    rows = [("Turn/store:0/turns:20", "loop only (messages kept in memory)", 20),
            ("Turn/store:1/turns:20", "loop + SQLite store (each message committed)", 20),
            ("Turn/store:1/turns:100", "loop + SQLite store, 100 turns", 100),
            ("OpsTurn/20", "agent/run through the registry and gate (get_file_info)", 20)]
    for key, label, turns in rows:
        r = m.get(key)
        if r:
            L.append(f"| {label} | {turns} | {ms(r):.2f} | {ms(r) * 1000 / turns:.0f} | "
                     f"{ms(r, 'cpu_time') * 1000 / turns:.0f} |")
    tool = m.get("OpsTool/get_file_info")
    ops = m.get("OpsTurn/20")
    if tool and ops:
        per_turn = ms(ops) * 1000 / 20
        tool_us = ms(tool) * 1000
        cpu_turn = ms(ops, "cpu_time") * 1000 / 20
        cpu_tool = ms(tool, "cpu_time") * 1000
        L.append(f"\nget_file_info alone through the registry: {tool_us:.1f} µs ({cpu_tool:.1f} µs CPU). Per-turn "
                 f"overhead through agent/run (per turn minus the tool): **{per_turn - tool_us:.0f} µs** wall, "
                 f"{cpu_turn - cpu_tool:.0f} µs CPU (the difference is waiting: SQLite's writes and the scheduler "
                 "of a loaded machine).")
    loop = m.get("Turn/store:0/turns:20")
    store = m.get("Turn/store:1/turns:20")
    if loop and store:
        L.append(f"The loop itself: {ms(loop) * 1000 / 20:.0f} µs per turn; the rest is SQLite committing each "
                 f"message (a turn appends two: the assistant's and the tool result) before the run goes on, "
                 f"{(ms(store) - ms(loop)) * 1000 / 40:.0f} µs per message — what makes a daemon restart lose "
                 "nothing acknowledged.\n")

    # 3. resume
    L.append("## Resuming a 100-turn conversation (goal: ≤ 50 ms)\n")
    L.append("The conversation: the prompt, 99 turns of an assistant message with a tool call and a 2 KB tool "
             "result, the answer (200 messages, ~210 KB).\n")
    L.append("| what | ms |")
    L.append("| --- | ---: |")
    for key, label in (("Resume/load/100_turns", "Store::load (the store open, as in the daemon)"),
                       ("Resume/open_load/100_turns", "Store::open + load (a restarted daemon)"),
                       ("Resume/agent_resume/100_turns", "agent/resume through the registry: load, one model call (mock), the appends")):
        r = m.get(key)
        if r:
            L.append(f"| {label} | {ms(r):.2f} |")
    L.append("")

    # 4. memory
    L.append("## Memory per idle conversation (goal: ≤ 1 MB)\n")
    L.append("N conversations of 10 turns saved through one open Store (the daemon's state between runs: an idle "
             "conversation lives in SQLite, not in memory). Heap: glibc's bytes in use after `malloc_trim`.\n")
    L.append("| conversations | heap growth | heap per conversation | RSS per conversation | a loaded 100-turn history (heap) |")
    L.append("| ---: | ---: | ---: | ---: | ---: |")
    for n, r in sorted(idle, key=lambda x: x[0]):
        L.append(f"| {n} | {r['store_heap_bytes'] / 1024:.0f} KiB | {r['heap_bytes_per_idle_conversation']:.0f} B | "
                 f"{r['rss_bytes_per_idle_conversation']:.0f} B | {r['heap_bytes_loaded_100_turns'] / 1024:.0f} KiB |")
    L.append("\nThe heap growth is SQLite's page cache, bounded whatever the number of conversations (it does not "
             "grow with N): the cost per idle conversation is what is on disk.\n")
    L.append("Re-run:\n")
    L.append("```\n" + a.command + "\n```\n")
    with open(a.out, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
