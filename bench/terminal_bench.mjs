// bench/terminal_bench.mjs: terminals through `icotes serve` on stdio, with
// a minimal newline-JSON client (no SDK: its cost stays small next to the
// server's). Prints one JSON object:
//  - echo: keystroke-to-echo latency. One character written to a terminal
//    running `cat` (terminal/write), timed until the PTY's echo of it comes
//    back as an `icotes/event` notification on terminal/<id>/output (the
//    client is subscribed): write request -> PTY -> line discipline echo ->
//    reader thread -> emulator -> event. p50/p99/min in milliseconds.
//  - cat: `cat` of a 100 MB file in a terminal, timed from terminal/create
//    to the terminal/<id>/exit event; MB/s, and the server's peak RSS
//    (VmHWM in /proc/<pid>/status) before and after, in MiB, and the CPU
//    time the server spent (/proc/<pid>/stat), as MB per CPU-second. Every
//    byte to the client, or the exit only.
//  - script_cat: the same cat through util-linux script(1) to /dev/null,
//    what a user's plain PTY plumbing gets.
//  - pty_floor / pty_floor_raw: the same cat on a PTY read by
//    bench/pty_floor.cpp (icotes_bench_pty_floor, or $PTY_FLOOR), which
//    drops the bytes: the most the PTY gives any reader on this machine,
//    with the default termios and with OPOST cleared.
//  The cat scenarios run in three rounds, each scenario once a round in
//  turn; medians.
//  - dc_echo (when DC_ENTRY is given): the same keystroke through
//    desktop-commander's start_process `python3 -i` + interact_with_process
//    (its REPL-aware wait): `1000+1` until the answer `1001` comes back.
//
//   node bench/terminal_bench.mjs ICOTES_BINARY WORKDIR [KEYS] [DC_ENTRY]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { JsonLineServer } from './jsonl_server.mjs';

const [icotesArg, workArg, keysArg, dcArg] = process.argv.slice(2);
const icotes = icotesArg && path.resolve(icotesArg);
const work = workArg && path.resolve(workArg);
const KEYS = Number(keysArg ?? 200);
const dcEntry = dcArg && fs.existsSync(dcArg) ? path.resolve(dcArg) : null;
// Built beside icotes by the bench targets (bench/CMakeLists.txt).
const floorBin = process.env.PTY_FLOOR ? path.resolve(process.env.PTY_FLOOR) : icotes && path.join(path.dirname(icotes), 'bench', 'icotes_bench_pty_floor');
if (!icotes || !work) {
  console.error('usage: node bench/terminal_bench.mjs ICOTES_BINARY WORKDIR [KEYS] [DC_ENTRY]');
  process.exit(2);
}

class Server extends JsonLineServer {
  constructor(cmd, args, options) { super(cmd, cmd, args, options); }
}

const hwmMiB = (pid) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
};
// CPU time (user + system) a process has used, in seconds: fields 14 and
// 15 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on Linux), proc(5).
const cpuSeconds = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');  // from field 3 on
  return (Number(f[11]) + Number(f[12])) / 100;
};
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const summary = (times) => {
  const s = [...times].sort((a, b) => a - b);
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: s.length, p50_ms: r(percentile(s, 50)), p99_ms: r(percentile(s, 99)), min_ms: r(s[0]) };
};

// Resolves when `pred(notification)` holds, or rejects after ms.
function nextEvent(server, pred, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    server.onNotification = (m) => {
      if (m.method === 'icotes/event' && pred(m.params)) {
        clearTimeout(timer);
        server.onNotification = () => {};
        resolve(m.params);
      }
    };
  });
}

async function icotesBench() {
  const root = path.join(work, 'terminal-root');
  fs.mkdirSync(root, { recursive: true });
  const big = path.join(root, 'big.txt');
  const line = `${'0123456789abcdefghijklmnopqrstuvwxyz'.repeat(2)}\n`;  // 73 bytes
  const target = 100 * 1000 * 1000;
  if (!fs.existsSync(big) || fs.statSync(big).size < target) {
    const block = line.repeat(Math.floor((1 << 20) / line.length));
    const fd = fs.openSync(big, 'w');
    for (let written = 0; written < target; written += block.length) fs.writeSync(fd, block);
    fs.closeSync(fd);
  }
  const size = fs.statSync(big).size;
  const server = new Server(icotes, ['serve', '--standalone', '--root', root, '--allow', 'Bash', '--log-level', 'warn'], {
    env: { ...process.env, XDG_STATE_HOME: path.join(work, 'state') },
  });
  try {
    const all = await server.ok('icotes/events/subscribe', { topics: ['terminal/*/output', 'terminal/*/exit'] });

    // Keystroke to echo.
    const term = await server.ok('icotes/terminal/create', { shell: 'cat', args: [] });
    const topic = `terminal/${term.id}/output`;
    const times = [];
    for (let i = 0; i < KEYS + 10; ++i) {
      const key = String.fromCharCode(97 + (i % 26));
      const echoed = nextEvent(server, (e) => e.topic === topic && e.data.data.includes(key), 10000, 'echo');
      const t0 = process.hrtime.bigint();
      const written = server.ok('icotes/terminal/write', { id: term.id, data: key });
      await echoed;
      const t1 = process.hrtime.bigint();
      await written;
      if (i >= 10) times.push(Number(t1 - t0) / 1e6);  // the first 10 warm up
    }
    await server.ok('icotes/terminal/kill', { id: term.id });

    // cat of the big file: once with this client receiving every byte as
    // events, once subscribed to the exit only (the terminal's own pace).
    const catRun = async () => {
      const hwmBefore = hwmMiB(server.child.pid);
      const cpuBefore = cpuSeconds(server.child.pid);
      const t0 = process.hrtime.bigint();
      let exitTopic = null;
      const exited = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('cat: no exit within 600 s')), 600000);
        server.onNotification = (m) => {
          if (m.method === 'icotes/event' && m.params.topic === exitTopic) {
            clearTimeout(timer);
            resolve(m.params.data);
          }
        };
      });
      const cat = await server.ok('icotes/terminal/create', { shell: 'cat', args: ['big.txt'] });
      exitTopic = `terminal/${cat.id}/exit`;
      const listed = (await server.ok('icotes/terminal/list', {})).terminals.find((t) => t.id === cat.id);
      const exit = listed && !listed.alive ? { exitCode: listed.exitCode, offset: listed.offset } : await exited;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const hwmAfter = hwmMiB(server.child.pid);
      const cpu = cpuSeconds(server.child.pid) - cpuBefore;
      if (exit.exitCode !== 0) throw new Error(`cat exited with ${JSON.stringify(exit)}`);
      // The PTY turns each \n into \r\n: more bytes come out than the file holds.
      const lines = Math.round(size / line.length);
      if (exit.offset !== size + lines) throw new Error(`cat: ${exit.offset} bytes out, expected ${size + lines}`);
      return {
        file_mb: size / 1e6, seconds: Math.round(seconds * 1000) / 1000, mb_per_s: Math.round((size / 1e6 / seconds) * 10) / 10,
        server_vmhwm_mib_before: hwmBefore, server_vmhwm_mib_after: hwmAfter,
        // icotes' own work on the output (its reads of the PTY, the emulator,
        // events), as a rate: what one core of it would keep up with.
        server_cpu_seconds: Math.round(cpu * 100) / 100,
        mb_per_server_cpu_second: cpu > 0 ? Math.round(size / 1e6 / cpu) : null,
      };
    };
    // What a user's own terminal plumbing gets: script(1) copying the same
    // cat from its PTY to /dev/null (no emulator, no events).
    const scriptRun = async () => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('script', ['-qc', 'cat big.txt', '/dev/null'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 0) throw new Error(`script: exit ${r.status} ${r.stderr}`);
      return { file_mb: size / 1e6, seconds: Math.round(seconds * 1000) / 1000, mb_per_s: Math.round((size / 1e6 / seconds) * 10) / 10 };
    };
    // The floor: bench/pty_floor.cpp reads the PTY and does nothing else
    // (default termios, as icotes' terminals; `--raw`: OPOST off, no \n ->
    // \r\n in the writer's context).
    const floorRun = (raw) => async () => {
      const args = [...(raw ? ['--raw'] : []), '--', 'cat', 'big.txt'];
      const r = spawnSync(floorBin, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pty_floor (${floorBin}): exit ${r.status} ${r.error ?? r.stderr}`);
      const f = JSON.parse(r.stdout);
      if (f.exit_code !== 0) throw new Error(`pty_floor: cat exited with ${f.exit_code}`);
      const lines = Math.round(size / line.length);
      if (f.bytes !== (raw ? size : size + lines)) throw new Error(`pty_floor: ${f.bytes} bytes out`);
      return { file_mb: size / 1e6, seconds: Math.round(f.seconds * 1000) / 1000, mb_per_s: Math.round((size / 1e6 / f.seconds) * 10) / 10 };
    };
    const attempt = (run) => async () => {
      try {
        return await run();
      } catch (e) {
        return { error: String(e.message ?? e).slice(0, 300) };
      }
    };
    // Three rounds; each runs every scenario once, in turn, so a noisy
    // moment on the shared machine falls on all of them alike. Medians.
    const scenarios = {
      cat: catRun,
      cat_exit_only: catRun,
      pty_floor: attempt(floorRun(false)),
      pty_floor_raw: attempt(floorRun(true)),
      script_cat: attempt(scriptRun),
    };
    const results = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
    let subscription = all.subscription;
    for (let round = 0; round < 3; ++round) {
      for (const [name, run] of Object.entries(scenarios)) {
        if (name === 'cat' || name === 'cat_exit_only') {
          await server.ok('icotes/events/unsubscribe', { subscription });
          const topics = name === 'cat' ? ['terminal/*/output', 'terminal/*/exit'] : ['terminal/*/exit'];
          subscription = (await server.ok('icotes/events/subscribe', { topics })).subscription;
        }
        results[name].push(await run());
      }
    }
    const median = (runs) => {
      const bad = runs.find((r) => r.error);
      if (bad) return bad;
      const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
      return { ...sorted[1], runs_seconds: runs.map((r) => r.seconds) };
    };
    const catEvents = median(results.cat);
    const catQuiet = median(results.cat_exit_only);
    const scriptCat = median(results.script_cat);
    const floor = median(results.pty_floor);
    const floorRaw = median(results.pty_floor_raw);
    return {
      echo: { measure: 'terminal/write of one key to `cat` until its echo arrives as an icotes/event (LSP-style stdio client)', ...summary(times) },
      cat: { measure: 'create to exit event; the client receives every output byte as icotes/event', ...catEvents },
      cat_exit_only: { measure: 'create to exit event; the client is subscribed to the exit only', ...catQuiet },
      script_cat: { measure: 'script -qc "cat big.txt" /dev/null: util-linux script(1) copying the PTY to /dev/null', ...scriptCat },
      pty_floor: { measure: 'bench/pty_floor.cpp: cat on a fresh PTY (default termios), the master read and the bytes dropped', ...floor },
      pty_floor_raw: { measure: 'the same with OPOST cleared on the slave (no \\n -> \\r\\n)', ...floorRaw },
    };
  } finally {
    server.close();
  }
}

async function dcBench() {
  const home = path.join(work, 'dc-home');
  fs.mkdirSync(home, { recursive: true });
  const dc = new Server(process.execPath, [dcEntry], { env: { ...process.env, HOME: home, SHELL: '/bin/sh' }, cwd: work });
  try {
    await dc.ok('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
    dc.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    await dc.ok('tools/call', { name: 'set_config_value', arguments: { key: 'telemetryEnabled', value: false } });
    const started = await dc.ok('tools/call', { name: 'start_process', arguments: { command: 'python3 -i -u', timeout_ms: 3000 } });
    const pid = Number(/PID (\d+)/.exec(started.content?.[0]?.text ?? '')?.[1]);
    if (!pid) throw new Error(`start_process: ${JSON.stringify(started).slice(0, 300)}`);
    const times = [];
    const n = Math.min(KEYS, 50);
    for (let i = 0; i < n + 3; ++i) {
      const t0 = process.hrtime.bigint();
      const r = await dc.ok('tools/call', { name: 'interact_with_process', arguments: { pid, input: `${1000 + i}+1`, timeout_ms: 5000 } });
      const t1 = process.hrtime.bigint();
      if (!JSON.stringify(r).includes(`${1001 + i}`)) throw new Error(`interact_with_process: no echo in ${JSON.stringify(r).slice(0, 300)}`);
      if (i >= 3) times.push(Number(t1 - t0) / 1e6);
    }
    await dc.ok('tools/call', { name: 'force_terminate', arguments: { pid } }).catch(() => {});
    return { measure: 'interact_with_process `N+1` to python3 -i (start_process), until its answer holds the sum', ...summary(times) };
  } finally {
    dc.close();
  }
}

const out = { keys: KEYS, ...(await icotesBench()) };
if (dcEntry) {
  try {
    out.dc_echo = await dcBench();
  } catch (e) {
    out.dc_echo = { error: String(e.message ?? e).slice(0, 500) };
  }
} else {
  out.dc_echo = { skipped: 'no desktop-commander entry given or found' };
}
console.log(JSON.stringify(out, null, 2));
process.exit(0);
