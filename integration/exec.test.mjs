// The exec service through real clients:
//  - the MCP TypeScript SDK client: `make` on a small C project through
//    run_command (sandboxed), its output streamed as progress; Python and
//    Node snippets through run_code; a background job; a `sleep 30`
//    cancelled with an AbortController (notifications/cancelled);
//  - vscode-jsonrpc: the same cancelled with a CancellationToken
//    ($/cancelRequest), answered -32800, the process gone.
// Commands are allowed with `--allow Bash` (nobody is asked).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CancellationTokenSource, StreamMessageReader, StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node.js';
import { pollUntil, removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';


// The server's environment, which its commands inherit, without what the
// test runner's own make leaves there (MAKELEVEL makes a nested make print
// "Entering directory").
function serverEnv(root) {
  const env = { ...process.env, XDG_STATE_HOME: path.join(root, '.state') };
  for (const k of ['MAKELEVEL', 'MAKEFLAGS', 'MFLAGS', 'MAKE_TERMOUT', 'MAKE_TERMERR']) delete env[k];
  return env;
}

const T = 60000;  // bound for every request (a sandboxed make on a loaded machine)

const MAKEFILE = 'hello: main.c\n\tcc -O0 -o hello main.c\n\t@echo built\n';
const MAIN_C = '#include <stdio.h>\nint main(int argc, char **argv) { printf("hello %d\\n", argc); return 7; }\n';

function makeWorkspace(prefix, execToml) {
  const root = tempDir(prefix);
  fs.writeFileSync(path.join(root, 'Makefile'), MAKEFILE);
  fs.writeFileSync(path.join(root, 'main.c'), MAIN_C);
  fs.mkdirSync(path.join(root, '.state'));
  if (execToml) {
    fs.mkdirSync(path.join(root, '.icotes'));
    fs.writeFileSync(path.join(root, '.icotes/config.toml'), `[exec]\n${execToml}`);
  }
  return root;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits (bounded) for `check()` to be true.
const until = (check, what, ms = 10000) => pollUntil(check, ms, what, 25);

const alive = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

// Live processes whose command line contains `needle` (sandboxed ones have
// other pids inside their namespace).
function processesWith(needle) {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && alive(n)).filter((n) => {
    try {
      return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
    } catch {
      return false;
    }
  });
}

async function startMcp(root) {
  const transport = new StdioClientTransport({
    command: requireBinary(),
    args: ['serve', '--standalone', '--root', root, '--allow', 'Bash', '--structured-output'],
    env: serverEnv(root),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'exec-test', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport, { timeout: T });
  return client;
}

describe('MCP SDK client', { timeout: 180000 }, () => {
  let root;
  let client;
  before(async () => {
    root = makeWorkspace('exec-mcp');
    client = await startMcp(root);
  });
  after(async () => {
    await client?.close();
    removeDir(root);
  });

  const call = (name, args, options = {}) => client.callTool({ name, arguments: args }, undefined, { timeout: T, ...options });

  test('the tools are listed with their schemas', async () => {
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
    for (const name of ['run_command', 'run_code', 'job_output', 'job_kill', 'job_list']) assert.ok(tools.has(name), name);
    assert.deepEqual(tools.get('run_code').inputSchema.properties.language.enum, ['python', 'node', 'bash']);
    // MCP's default (ToolAnnotations): destructive unless it says otherwise.
    assert.equal(tools.get('run_command').annotations.destructiveHint ?? true, true);
    assert.equal(tools.get('run_command').annotations.readOnlyHint ?? false, false);
  });

  test('make builds a C project in the sandbox; the program runs through argv', async () => {
    const progress = [];
    const made = await call('run_command', { command: 'make' }, { onprogress: (p) => progress.push(p) });
    assert.notEqual(made.isError, true, JSON.stringify(made));
    const r = made.structuredContent;
    assert.equal(r.status, 'exited');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.sandboxed, true);
    assert.equal(r.stdout, 'cc -O0 -o hello main.c\nbuilt\n');
    assert.equal(r.stderr, '');
    assert.ok(fs.statSync(path.join(root, 'hello')).mode & 0o100, 'hello is executable');
    assert.match(made.content[0].text, /^cc -O0 -o hello main\.c\nbuilt\n--- exited with code 0 \(\d+ ms, sandboxed\) ---\n$/);
    // The output came as progress too (with a token, which the SDK sends
    // with onprogress). The SDK runs notification handlers a tick after it
    // settles the response, and drops the request's progress handler then:
    // the last report may be lost on its side, so what arrived must be the
    // output's beginning (the exec unit tests check that all of it is sent).
    assert.ok(progress.length >= 1, 'at least the first chunk as progress');
    const streamed = progress.map((p) => p.message).join('');
    assert.ok('cc -O0 -o hello main.c\nbuilt\n'.startsWith(streamed) && streamed.startsWith('cc -O0'), streamed);
    assert.ok(progress.at(-1).progress <= r.stdoutBytes);

    const ran = (await call('run_command', { argv: ['./hello', 'a b', '$X'] })).structuredContent;
    assert.equal(ran.exitCode, 7);
    assert.equal(ran.stdout, 'hello 3\n');
    // make again: nothing to do.
    const again = (await call('run_command', { command: 'make' })).structuredContent;
    assert.equal(again.stdout, "make: 'hello' is up to date.\n");
  });

  test('errors an AI can act on', async () => {
    const missing = await call('run_command', { argv: ['no-such-tool-icotes'] });
    assert.equal(missing.isError, true);
    assert.match(missing.content[0].text, /'no-such-tool-icotes' was not found in PATH/);
    const outside = await call('run_command', { command: 'pwd', cwd: '/etc' });
    assert.equal(outside.isError, true);
    const timedOut = (await call('run_command', { command: 'echo start; sleep 20', timeoutMs: 500 })).structuredContent;
    assert.equal(timedOut.status, 'timeout');
    assert.equal(timedOut.stdout, 'start\n');
    assert.match(timedOut.note, /killed after the 500 ms timeout/);
  });

  test('run_code runs Python and Node snippets', async () => {
    const py = (await call('run_code', { language: 'python', code: 'import sys, json\nprint(json.dumps({"v": sys.version_info[0], "sum": sum(range(101))}))' })).structuredContent;
    assert.equal(py.exitCode, 0, py.stderr);
    assert.deepEqual(JSON.parse(py.stdout), { v: 3, sum: 5050 });
    const node = (await call('run_code', { language: 'node', code: 'const fs = require("fs"); console.log(fs.readFileSync("main.c", "utf8").length); process.exit(3)' })).structuredContent;
    assert.equal(node.stdout, `${MAIN_C.length}\n`);
    assert.equal(node.exitCode, 3);
    const failing = (await call('run_code', { language: 'python', code: 'raise ValueError("boom")' })).structuredContent;
    assert.equal(failing.exitCode, 1);
    assert.match(failing.stderr, /ValueError: boom/);
  });

  test('a background job: started, followed, killed', async () => {
    const started = (await call('run_command', { command: 'for i in 1 2 3; do echo line$i; sleep 0.1; done; exec sleep 911.5', background: true })).structuredContent;
    assert.equal(started.status, 'running');
    const id = started.id;
    let text = '';
    let offset = 0;
    for (let i = 0; i < 50 && !text.includes('line3'); ++i) {
      const o = (await call('job_output', { id, stdoutOffset: offset, waitMs: 500 })).structuredContent;
      text += o.stdout;
      offset = o.stdoutNextOffset;
    }
    assert.equal(text, 'line1\nline2\nline3\n');
    const listed = (await call('job_list', {})).structuredContent.jobs;
    assert.equal(listed.find((j) => j.id === id).status, 'running');
    const killed = (await call('job_kill', { id })).structuredContent;
    assert.equal(killed.status, 'killed');
    await until(() => processesWith('sleep 911.5').length === 0, 'the job is gone');
  });

  test('an AbortController cancels a sandboxed sleep 30: the process is gone', async () => {
    const ac = new AbortController();
    const pending = call('run_command', { command: 'sleep 30.375' }, { signal: ac.signal });
    await until(() => processesWith('sleep 30.375').length > 0, 'the sleep starts');
    ac.abort();
    await assert.rejects(pending, /abort/i);
    await until(() => processesWith('sleep 30.375').length === 0, 'the sleep is killed');
    // The server goes on serving.
    assert.equal((await call('run_command', { command: 'echo still here' })).structuredContent.stdout, 'still here\n');
  });
});

describe('cancellation of unsandboxed commands, by pid', { timeout: 120000 }, () => {
  let root;
  before(() => { root = makeWorkspace('exec-cancel', 'sandbox = false\n'); });
  after(() => removeDir(root));

  test('MCP SDK client: AbortController → notifications/cancelled', async () => {
    const client = await startMcp(root);
    try {
      const pidFile = path.join(root, 'mcp.pid');
      const ac = new AbortController();
      const pending = client.callTool({ name: 'run_command', arguments: { command: 'echo $$ > mcp.pid; exec sleep 30' } },
        undefined, { timeout: T, signal: ac.signal });
      await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 'the pid file');
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      assert.ok(alive(pid), `pid ${pid} runs`);
      ac.abort();
      await assert.rejects(pending, /abort/i);
      await until(() => !alive(pid), `pid ${pid} ends`, 5000);
      const r = await client.callTool({ name: 'run_command', arguments: { command: 'echo next' } }, undefined, { timeout: T });
      assert.equal(r.structuredContent.sandboxed, false);
      assert.equal(r.structuredContent.stdout, 'next\n');
    } finally {
      await client.close();
    }
  });

  test('vscode-jsonrpc: CancellationToken → $/cancelRequest → -32800 promptly', async () => {
    const child = spawn(requireBinary(), ['serve', '--standalone', '--root', root, '--allow', 'Bash', '--structured-output'], {
      env: serverEnv(root),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    try {
      await withTimeout(conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} }), T, 'initialize');
      conn.sendNotification('initialized', {});
      const pidFile = path.join(root, 'lsp.pid');
      const source = new CancellationTokenSource();
      const pending = conn.sendRequest('icotes/exec/run', { command: 'echo $$ > lsp.pid; exec sleep 30' }, source.token);
      await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 'the pid file');
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      assert.ok(alive(pid));
      const cancelledAt = Date.now();
      source.cancel();
      await withTimeout(assert.rejects(pending, (e) => e.code === -32800), T, 'the cancelled reply');
      // Generous on a loaded machine; `sleep 30` would take 30 s.
      assert.ok(Date.now() - cancelledAt < 15000, `answered ${Date.now() - cancelledAt} ms after the cancel`);
      assert.equal(alive(pid), false, 'the process was killed before the reply');
      const r = await withTimeout(conn.sendRequest('icotes/exec/run', { argv: ['echo', 'after'] }), T, 'run after');
      assert.equal(r.stdout, 'after\n');
      await withTimeout(conn.sendRequest('shutdown'), T, 'shutdown');
      conn.sendNotification('exit');
      await withTimeout(exited, T, 'exit');
    } finally {
      conn.dispose();
      child.kill();
    }
  });
});
