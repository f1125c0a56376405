// Hostile peers against the doors of one daemon (`icotes serve --daemon
// --listen tcp: --listen http:`, the way one is started by hand) and
// against the launcher that forwards stdio to it:
//  - a message nested 100,000 deep is answered -32700 on every door (stdio
//    through the launcher, the Unix socket, TCP before and after
//    authentication, HTTP) and the server serves on;
//  - on the TCP door before authentication: a deadline, a frame limit of a
//    few KiB, and a cap on connections waiting to authenticate (1,030 idle
//    connections no longer lock the real client out);
//  - a client that never reads its replies holds no worker: another client
//    is answered meanwhile, and the reader that stalls is closed (log line);
//  - a daemon killed with SIGKILL mid-request: the launcher answers the
//    request with an error naming the daemon's log, says why on stderr and
//    exits 1, for an MCP client (lines) and an LSP one (Content-Length).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { pollUntil, removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;
const DEPTH = 100000;
const deep = (n = DEPTH) => '['.repeat(n) + ']'.repeat(n);

// The daemon of `root` with its own doors; resolves once both are listed.
function startDaemon(root, runtime, extra = []) {
  const child = spawn(requireBinary(), ['serve', '--daemon', '--root', root, '--listen', 'tcp:127.0.0.1:0',
    '--listen', 'http:127.0.0.1:0', '--log-level', 'warn', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' },
  });
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return withTimeout(new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const t = /listening on tcp:127\.0\.0\.1:(\d+); token in (\S+)/.exec(stderr);
      const h = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp; token in (\S+)/.exec(stderr);
      if (t && h) {
        resolve({
          child, exited, stderr: () => stderr,
          port: Number(t[1]), token: fs.readFileSync(t[2], 'utf8').trim(),
          url: `http://127.0.0.1:${h[1]}/mcp`, httpToken: fs.readFileSync(h[2], 'utf8').trim(),
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`daemon exited (${code}) before listening: ${stderr}`)));
  }), T, 'daemon start');
}

// Waits (bounded) until `predicate()` holds, polling every 50 ms.
const until = (predicate, what, ms = T) => pollUntil(predicate, ms, what, 50);

// Newline-delimited JSON-RPC on a TCP or Unix socket.
class LineClient {
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.waiting = new Map();
    this.nextId = 1;
    this.closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => {});
    socket.on('data', (d) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        const w = this.waiting.get(JSON.stringify(msg.id));
        if (w) {
          this.waiting.delete(JSON.stringify(msg.id));
          w(msg);
        }
      }
    });
  }
  static tcp(port) {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    return new LineClient(s);
  }
  static unix(file) { return new LineClient(net.connect(file)); }
  connected() { return new Promise((resolve) => this.socket.once('connect', resolve)); }
  // Sends `text` (one line, its id `id`) and resolves with the answer to it.
  raw(id, text, what = 'raw request') {
    const answer = new Promise((resolve) => this.waiting.set(JSON.stringify(id), resolve));
    this.socket.write(text + '\n');
    return withTimeout(answer, T, what);
  }
  request(method, params) {
    const id = this.nextId++;
    return this.raw(id, JSON.stringify({ jsonrpc: '2.0', id, method, params }), method);
  }
  end() { this.socket.destroy(); }
}

async function authenticate(daemon) {
  const c = LineClient.tcp(daemon.port);
  assert.deepEqual((await c.request('icotes/authenticate', { token: daemon.token })).result, { authenticated: true });
  return c;
}

const deepRequest = (id, method = 'icotes/files/stat') =>
  `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"${method}","params":{"path":"notes.txt","x":${deep()}}}`;

function assertDeepRefused(answer, id) {
  assert.equal(answer.id, id, JSON.stringify(answer).slice(0, 300));
  assert.equal(answer.error?.code, -32700, JSON.stringify(answer).slice(0, 300));
  assert.match(answer.error.message, /deeper than 512/);
}

describe('hostile peers on the doors of one daemon', () => {
  let root, runtime, daemon;
  before(async () => {
    root = fs.realpathSync(tempDir('hostile'));
    runtime = tempDir('hostile-run');
    fs.chmodSync(runtime, 0o700);
    fs.writeFileSync(path.join(root, 'notes.txt'), 'on disk\n');
    daemon = await startDaemon(root, runtime);
  });
  after(() => {
    daemon?.child.kill('SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  const authenticated = () => authenticate(daemon);
  const alive = async (what) => {
    assert.equal(daemon.child.exitCode, null, `${what}: the daemon ended: ${daemon.stderr()}`);
    const c = await authenticated();
    assert.ok((await c.request('icotes/files/stat', { path: 'notes.txt' })).result, what);
    c.end();
  };

  test('nested 100,000 deep before authenticating on TCP: refused and closed, the daemon lives', async () => {
    const c = LineClient.tcp(daemon.port);
    const r = await c.raw(1, `{"jsonrpc":"2.0","id":1,"method":"icotes/authenticate","params":{"x":${deep()}}}`);
    assert.equal(r.id, 1);
    assert.ok(r.error?.code === -32600 || r.error?.code === -32700, JSON.stringify(r));
    await withTimeout(c.closed, T, 'close after a refused first message');
    await alive('after a deep first message');
  });

  test('nested 100,000 deep after authenticating on TCP: -32700 with its id, the connection lives', async () => {
    const c = await authenticated();
    assertDeepRefused(await c.raw(2, deepRequest(2)), 2);
    assertDeepRefused(await c.raw(null, `[${deepRequest('b')}]`), null);  // a batch: answered with id null
    assert.ok((await c.request('icotes/files/stat', { path: 'notes.txt' })).result);
    c.end();
    await alive('after deep messages on TCP');
  });

  test('nested 100,000 deep on the daemon\'s Unix socket: -32700, the connection lives', async () => {
    const sockets = fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock'));
    assert.equal(sockets.length, 1, `${sockets}`);
    const c = LineClient.unix(path.join(runtime, 'icotes', sockets[0]));
    assertDeepRefused(await c.raw(3, deepRequest(3)), 3);
    assert.ok((await c.request('icotes/files/stat', { path: 'notes.txt' })).result);
    c.end();
    await alive('after a deep message on the Unix socket');
  });

  test('nested 100,000 deep through `icotes serve` (stdio, attached): -32700, then served', async () => {
    const child = spawn(requireBinary(), ['serve', '--attach', '--root', root, '--log-level', 'warn'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.stdin.write(deepRequest(4) + '\n');
    child.stdin.end(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'icotes/files/stat', params: { path: 'notes.txt' } }) + '\n');
    assert.equal(await withTimeout(exited, T, 'launcher exit'), 0, err);
    const answers = out.trim().split('\n').map((l) => JSON.parse(l));
    assertDeepRefused(answers.find((a) => a.id === 4), 4);
    assert.ok(answers.find((a) => a.id === 5)?.result, out);
    await alive('after a deep message through the launcher');
  });

  test('nested 100,000 deep on the HTTP door: an error answer, the daemon lives', async () => {
    const headers = { authorization: `Bearer ${daemon.httpToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(daemon.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'deep', version: '1' } } }) });
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id');
    await init.text();
    await (await fetch(daemon.url, { method: 'POST', headers: { ...headers, 'mcp-session-id': session }, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
    const r = await withTimeout(fetch(daemon.url, {
      method: 'POST', headers: { ...headers, 'mcp-session-id': session },
      body: `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_file_info","arguments":{"path":${deep()}}}}`,
    }), T, 'deep POST');
    const text = await withTimeout(r.text(), T, 'deep POST body');
    assert.match(text, /-32700/, `${r.status} ${text.slice(0, 300)}`);
    // With a newline the door compacts the body (dump() recurses per level).
    const r2 = await withTimeout(fetch(daemon.url, {
      method: 'POST', headers: { ...headers, 'mcp-session-id': session },
      body: `{"jsonrpc":"2.0","id":7,\n"method":"tools/call","params":{"name":"get_file_info","arguments":{"path":${deep()}}}}`,
    }), T, 'deep POST with a newline');
    const text2 = await withTimeout(r2.text(), T, 'deep POST with a newline: body');
    assert.match(text2, /-32700/, `${r2.status} ${text2.slice(0, 300)}`);
    await alive('after a deep message on the HTTP door');
  });

  test('icotes call with params nested 100,000 deep says so and exits 2', async () => {
    const params = `{"path":${deep(60000)}}`;  // one argument holds at most 128 KiB
    const child = spawn(requireBinary(), ['call', '--root', root, 'files/stat', params], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const code = await withTimeout(new Promise((resolve) => child.on('exit', resolve)), T, 'icotes call');
    assert.equal(code, 2, err);
    assert.match(err, /deeper than 512/);
  });

  test('before authenticating: a frame limit of a few KiB, then closed', async () => {
    const c = LineClient.tcp(daemon.port);
    await c.connected();
    // 1 MiB without a line end: refused at 4 KiB, not buffered to 64 MiB.
    const answer = new Promise((resolve) => c.waiting.set('7', resolve));
    c.socket.write('{"jsonrpc":"2.0","id":7,"method":"icotes/authenticate","params":{"token":"' + 'x'.repeat(1 << 20));
    const r = await withTimeout(answer, T, 'answer to an oversized first message');
    assert.equal(r.error?.code, -32600, JSON.stringify(r));
    await withTimeout(c.closed, T, 'close after an oversized first message');
    // An LSP header block that never ends: the same.
    const d = net.connect(daemon.port, '127.0.0.1');
    d.on('error', () => {});
    const closed = new Promise((resolve) => d.on('close', resolve));
    d.on('data', () => {});
    d.write('Content-Length: 10\r\nX-Padding: ' + 'p'.repeat(64 * 1024));
    await withTimeout(closed, T, 'close after an endless header block');
  });

  test('before authenticating: a connection that sends nothing is closed after the deadline', async () => {
    const c = LineClient.tcp(daemon.port);
    await c.connected();
    const start = Date.now();
    await withTimeout(c.closed, 12000, 'close of a silent connection');
    assert.ok(Date.now() - start >= 3000, `closed after ${Date.now() - start} ms`);
    await until(() => /did not authenticate within 5000 ms/.test(daemon.stderr()), 'the log line');
  });

  test('1,030 idle connections do not lock the real client out', async () => {
    const idle = [];
    for (let i = 0; i < 1030; i++) {
      const s = net.connect(daemon.port, '127.0.0.1');
      s.on('error', () => {});
      idle.push(s);
    }
    try {
      await Promise.all(idle.map((s) => new Promise((resolve) => { s.once('connect', resolve); s.once('close', resolve); })));
      const c = await authenticated();
      assert.ok((await c.request('icotes/files/stat', { path: 'notes.txt' })).result);
      c.end();
      assert.match(daemon.stderr(), /connections waiting to authenticate .*closing the oldest/);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

describe('a client that stops reading holds no worker', () => {
  let root, runtime, daemon;
  before(async () => {
    root = fs.realpathSync(tempDir('stall'));
    runtime = tempDir('stall-run');
    fs.chmodSync(runtime, 0o700);
    // 60,000 matching lines: each grep answers about 4 MB.
    fs.writeFileSync(path.join(root, 'big.txt'), Array.from({ length: 60000 }, (_, i) => `needle line ${i} of the haystack`).join('\n') + '\n');
    fs.writeFileSync(path.join(root, 'small.txt'), 'one needle\n');
    daemon = await startDaemon(root, runtime, ['--threads', '2', '--allow', 'Bash(echo hi)']);
  });
  after(() => {
    daemon?.child.kill('SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  test('60 large greps never read: another client is answered promptly, the stalled one is closed', async () => {
    const auth = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'icotes/authenticate', params: { token: daemon.token } });
    const stalled = net.connect(daemon.port, '127.0.0.1');
    stalled.on('error', () => {});
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.pause();  // never reads: its socket fills, then the server's queue
    let burst = auth + '\n';
    for (let i = 1; i <= 60; i++)
      burst += JSON.stringify({ jsonrpc: '2.0', id: i, method: 'icotes/search/grep', params: { pattern: 'needle', path: 'big.txt', limit: 100000 } }) + '\n';
    stalled.write(burst);
    // While replies wait for the stalled reader, the other client's work
    // must still be answered, each request within a bounded time.
    const other = await authenticate(daemon);
    for (const [method, params] of [
      ['icotes/search/grep', { pattern: 'needle', path: 'small.txt' }],
      ['icotes/git/status', {}],
      ['icotes/exec/run', { command: 'echo hi' }],
      ['icotes/search/grep', { pattern: 'needle', path: 'small.txt' }],
    ]) {
      const start = Date.now();
      // Two workers go through the 60 greps in order (seconds on a quiet
      // machine, more on a loaded one); a worker blocked on the stalled
      // reader would be freed only by the 30 s stall timeout.
      const r = await withTimeout(other.request(method, params), 20000, `${method} while another client stalls`);
      assert.ok(r.result || r.error, JSON.stringify(r));
      assert.ok(Date.now() - start < 20000);
    }
    other.end();
    // The stalled reader is closed once its waiting replies pass the limit.
    await until(() => /tcp connection [^:]+:\d+: closing the connection: it is not reading its replies/.test(daemon.stderr()),
      'the log line closing the stalled reader', 60000);
    stalled.destroy();
  });
});

// `icotes serve` attached to a daemon that is then killed with SIGKILL
// while a test/sleep request of the client is running.
describe('the daemon killed mid-request', () => {
  let runtime;
  before(() => {
    runtime = tempDir('killed-run');
    fs.chmodSync(runtime, 0o700);
  });
  after(() => removeDir(runtime));

  const env = () => ({ ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' });
  function daemonOf(root) {
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let args;
      try {
        args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (args.includes('--daemon') && args.includes(root)) return Number(pid);
    }
    return 0;
  }
  function launch(root) {
    const child = spawn(requireBinary(), ['serve', '--attach', '--root', root, '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'], env: env() });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => err };
  }
  async function killDaemon(root) {
    const pid = daemonOf(root);
    assert.ok(pid > 0, 'the daemon runs');
    process.kill(pid, 'SIGKILL');
  }
  async function nextLaunchWorks(root) {
    const again = launch(root);
    let out = '';
    again.child.stdout.on('data', (d) => { out += d; });
    again.child.stdin.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'icotes/files/stat', params: { path: '.' } }) + '\n');
    assert.equal(await withTimeout(again.exited, T, 'next launch'), 0, again.stderr());
    assert.ok(JSON.parse(out.trim().split('\n')[0]).result, out);
  }

  test('an MCP client (lines) gets an error for its running request, a reason on stderr, exit 1', async () => {
    const root = fs.realpathSync(tempDir('killed-mcp'));
    try {
      const l = launch(root);
      let buffer = '';
      const seen = [];
      let notify;
      l.child.stdout.on('data', (d) => {
        buffer += d;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          seen.push(JSON.parse(buffer.slice(0, nl)));
          buffer = buffer.slice(nl + 1);
          notify?.();
        }
      });
      const waitFor = (pred, what) => withTimeout(new Promise((resolve) => {
        notify = () => { const m = seen.find(pred); if (m) resolve(m); };
        notify();
      }), T, what);
      const send = (m) => l.child.stdin.write(JSON.stringify(m) + '\n');
      send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp', version: '1' } } });
      await waitFor((m) => m.id === 1, 'initialize');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // As the MCP SDK writes it: the id after the params.
      l.child.stdin.write('{"method":"tools/call","params":{"name":"test_sleep","arguments":{"ms":60000},"_meta":{"progressToken":"p"}},"jsonrpc":"2.0","id":7}\n');
      await waitFor((m) => m.method === 'notifications/progress', 'the sleep is running');
      await killDaemon(root);
      const answer = await waitFor((m) => m.id === 7, 'an answer to the running request');
      assert.equal(answer.error?.code, -32603);
      assert.match(answer.error.message, /daemon .* closed the connection before answering \(it exited or was killed\)/);
      assert.match(answer.error.message, /\.log\b/);
      assert.equal(await withTimeout(l.exited, T, 'launcher exit'), 1);
      assert.match(l.stderr(), /icotes: the daemon serving this workspace closed the connection .* its log is \S+\.log/);
      await nextLaunchWorks(root);
    } finally {
      const pid = daemonOf(root);
      if (pid) process.kill(pid, 'SIGKILL');
      removeDir(root);
    }
  });

  test('an LSP client (Content-Length) gets an error for its running request, exit 1', async () => {
    const root = fs.realpathSync(tempDir('killed-lsp'));
    try {
      const l = launch(root);
      const conn = createMessageConnection(new StreamMessageReader(l.child.stdout), new StreamMessageWriter(l.child.stdin));
      conn.onError(() => {});
      let began;
      const running = new Promise((resolve) => { began = resolve; });
      conn.onNotification('$/progress', (p) => { if (p.value?.kind === 'begin') began(); });
      conn.onRequest('window/workDoneProgress/create', () => null);
      conn.listen();
      await withTimeout(conn.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, capabilities: { window: { workDoneProgress: true } } }), T, 'initialize');
      conn.sendNotification('initialized', {});
      const sleep = conn.sendRequest('icotes/test/sleep', { ms: 60000, workDoneToken: 'w' });
      const outcome = sleep.then((r) => ({ result: r }), (e) => ({ error: e }));
      await withTimeout(running, T, 'the sleep is running');
      await killDaemon(root);
      const { error } = await withTimeout(outcome, T, 'an answer to the running request');
      assert.ok(error, 'the request failed');
      assert.equal(error.code, -32603);
      assert.match(error.message, /closed the connection before answering .* its log is \S+\.log/);
      assert.equal(await withTimeout(l.exited, T, 'launcher exit'), 1);
      assert.match(l.stderr(), /icotes: the daemon serving this workspace closed the connection/);
      conn.dispose();
      await nextLaunchWorks(root);
    } finally {
      const pid = daemonOf(root);
      if (pid) process.kill(pid, 'SIGKILL');
      removeDir(root);
    }
  });
});
