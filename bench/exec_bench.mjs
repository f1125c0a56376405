// bench/exec_bench.mjs: round trips of "run `true`" through long-lived stdio
// MCP servers — icotes' run_command (unsandboxed and sandboxed) and
// desktop-commander's start_process — with a minimal newline-JSON client
// (no SDK: its own cost stays small next to a process spawn). Prints one
// JSON object: per scenario the median, p90 and minimum in milliseconds.
// Every answer is checked (exit code 0) before its time counts.
//
//   node bench/exec_bench.mjs ICOTES_BINARY DC_ENTRY WORKDIR [ITERS] [ROUNDS]
//
// WORKDIR gets two workspaces (one with `[exec] sandbox = false`) and a HOME
// for desktop-commander (its config, telemetry turned off before timing).
import { JsonLineServer } from './jsonl_server.mjs';
import fs from 'node:fs';
import path from 'node:path';

const [icotesArg, dcArg, workArg, itersArg, roundsArg] = process.argv.slice(2);
const [icotes, dcEntry, work] = [icotesArg, dcArg, workArg].map((p) => p && path.resolve(p));
const ITERS = Number(itersArg ?? 100);
const ROUNDS = Number(roundsArg ?? 2);
if (!icotes || !dcEntry || !work) {
  console.error('usage: node bench/exec_bench.mjs ICOTES_BINARY DC_ENTRY WORKDIR [ITERS] [ROUNDS]');
  process.exit(2);
}

// One stdio MCP server and a line-reading client.
class Server extends JsonLineServer {
  async init() {
    const r = await this.request('initialize', {
      protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'exec-bench', version: '1' },
    }, 60000);
    if (!r.result) throw new Error(`${this.name}: initialize failed: ${JSON.stringify(r)}`);
    this.notify('notifications/initialized', {});
    this.version = `${r.result.serverInfo?.name} ${r.result.serverInfo?.version}`;
  }
}

const text = (m) => (m.result?.content ?? []).map((c) => c.text ?? '').join('');

const scenarios = [];
function scenario(name, desc, server, tool, args, check) {
  scenarios.push({ name, desc, server, tool, args, check, times: [] });
}

async function main() {
  fs.mkdirSync(work, { recursive: true });
  const plain = path.join(work, 'ws-unsandboxed');
  const boxed = path.join(work, 'ws-sandboxed');
  const dcHome = path.join(work, 'dc-home');
  for (const d of [plain, boxed, dcHome]) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(path.join(plain, '.icotes'), { recursive: true });
  fs.writeFileSync(path.join(plain, '.icotes/config.toml'), '[exec]\nsandbox = false\n');
  const env = { ...process.env, XDG_STATE_HOME: path.join(work, 'state') };

  const servers = {
    plain: new Server('icotes', icotes, ['serve', '--standalone', '--root', plain, '--allow', 'Bash', '--structured-output'], { env }),
    boxed: new Server('icotes', icotes, ['serve', '--standalone', '--root', boxed, '--allow', 'Bash', '--structured-output'], { env }),
    // /bin/sh as its shell, as icotes' `command` (its default is $SHELL, with -l for bash).
    dc: new Server('desktop-commander', process.execPath, [dcEntry], {
      env: { ...process.env, HOME: dcHome, SHELL: '/bin/sh' }, cwd: plain,
    }),
  };
  for (const s of Object.values(servers)) await s.init();
  const off = await servers.dc.request('tools/call', { name: 'set_config_value', arguments: { key: 'telemetryEnabled', value: false } });
  if (off.result?.isError) throw new Error(`desktop-commander: could not turn telemetry off: ${text(off)}`);

  const icotesOk = (m) => m.result && !m.result.isError && m.result.structuredContent?.exitCode === 0;
  scenario('ping', 'ping (transport + client floor)', servers.plain, null, null, (m) => m.result !== undefined);
  scenario('dc_ping', 'desktop-commander ping', servers.dc, null, null, (m) => m.result !== undefined);
  scenario('argv', 'run_command `argv: ["true"]`, unsandboxed', servers.plain, 'run_command', { argv: ['true'] }, icotesOk);
  scenario('command', 'run_command `command: "true"` (/bin/sh -c), unsandboxed', servers.plain, 'run_command', { command: 'true' }, icotesOk);
  scenario('argv_sandboxed', 'run_command `argv: ["true"]`, sandboxed (bwrap)', servers.boxed, 'run_command', { argv: ['true'] }, icotesOk);
  scenario('command_sandboxed', 'run_command `command: "true"`, sandboxed', servers.boxed, 'run_command', { command: 'true' }, icotesOk);
  scenario('dc_start_process', 'desktop-commander start_process `true` (/bin/sh -c)', servers.dc, 'start_process',
    // It answers when the process exits (no exit code in the text for a
    // silent command); "Process is running" would mean its timeout hit.
    { command: 'true', timeout_ms: 10000 }, (m) => /^Process started with PID \d+/.test(text(m)) && !/is running/.test(text(m)));

  for (let round = 0; round < ROUNDS; ++round) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const s of order) {
      const call = () => (s.tool ? s.server.request('tools/call', { name: s.tool, arguments: s.args }) : s.server.request('ping', {}));
      const warm = await call();  // untimed; also the answer check
      if (!s.check(warm)) throw new Error(`${s.name}: unexpected answer ${JSON.stringify(warm).slice(0, 500)}`);
      for (let i = 0; i < ITERS; ++i) {
        const t0 = process.hrtime.bigint();
        const m = await call();
        const t1 = process.hrtime.bigint();
        if (!s.check(m)) throw new Error(`${s.name}: unexpected answer ${JSON.stringify(m).slice(0, 500)}`);
        s.times.push(Number(t1 - t0) / 1e6);
      }
    }
  }
  const versions = { icotes: servers.plain.version, dc: servers.dc.version };
  for (const s of Object.values(servers)) await s.stop();
  const stats = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
    return { median: q(0.5), p90: q(0.9), min: v[0], n: v.length };
  };
  const out = { iters: ITERS, rounds: ROUNDS, versions, scenarios: {} };
  for (const s of scenarios) out.scenarios[s.name] = { desc: s.desc, ...stats(s.times) };
  console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
