// The TCP door (`icotes serve --listen tcp:127.0.0.1:0`): token
// authentication, one shared workspace for every connection (an editor's
// unsaved buffer seen by a script on another connection), many concurrent
// clients, a client that vanishes mid-request, and a clean stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SocketMessageReader, SocketMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;

// Starts a server; resolves with {child, port, tokenPath, token} once it
// printed where it listens.
function startServer(root, runtime, extraArgs = [], env = {}) {
  const child = spawn(requireBinary(), ['serve', '--root', root, '--listen', 'tcp:127.0.0.1:0', '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, ...env },
  });
  let stderr = '';
  return withTimeout(new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on tcp:127\.0\.0\.1:(\d+); token in (\S+)/.exec(stderr);
      if (m) resolve({ child, port: Number(m[1]), tokenPath: m[2], token: fs.readFileSync(m[2], 'utf8').trim(), stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  }), T, 'server start');
}

// A newline-delimited JSON-RPC client on a socket.
class LineClient {
  constructor(port) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.buffer = '';
    this.waiting = new Map();
    this.nextId = 1;
    this.closed = new Promise((resolve) => this.socket.on('close', resolve));
    this.socket.on('error', () => {});
    this.socket.on('data', (d) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        const w = this.waiting.get(msg.id);
        if (w) {
          this.waiting.delete(msg.id);
          w(msg);
        }
      }
    });
  }
  connected() { return new Promise((resolve) => this.socket.once('connect', resolve)); }
  request(method, params) {
    const id = this.nextId++;
    const answer = new Promise((resolve) => this.waiting.set(id, resolve));
    this.socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    return withTimeout(answer, T, method);
  }
  notify(method, params) { this.socket.write(JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n'); }
  end() { this.socket.destroy(); }
}

describe('TCP door', () => {
  let root, runtime, server;
  before(async () => {
    root = tempDir('tcp');
    runtime = tempDir('tcp-run');
    fs.chmodSync(runtime, 0o700);
    fs.writeFileSync(path.join(root, 'notes.txt'), 'on disk\n');
    // One worker: a request left running by a vanished client would hold it.
    server = await startServer(root, runtime, ['--threads', '1'], { ICOTES_TEST_OPERATIONS: '1' });
  });
  after(() => {
    server?.child.kill('SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  test('the token is 64 hex digits in a 0600 file inside a 0700 directory', () => {
    assert.match(server.token, /^[0-9a-f]{64}$/);
    assert.equal(path.dirname(server.tokenPath), path.join(runtime, 'icotes'));
    assert.equal(fs.statSync(server.tokenPath).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(server.tokenPath)).mode & 0o777, 0o700);
  });

  test('a request before authenticating is refused and the connection closed', async () => {
    const c = new LineClient(server.port);
    const r = await c.request('icotes/files/read', { path: 'notes.txt' });
    assert.equal(r.error.code, -32004);
    assert.match(r.error.message, /icotes\/authenticate/);
    assert.match(r.error.message, new RegExp(server.tokenPath.replace(/[.]/g, '\\.')));
    await withTimeout(c.closed, T, 'close after refusal');
  });

  test('a wrong token is refused and the connection closed', async () => {
    const c = new LineClient(server.port);
    const wrong = server.token.slice(0, 63) + (server.token[63] === '0' ? '1' : '0');
    const r = await c.request('icotes/authenticate', { token: wrong });
    assert.equal(r.error.code, -32004);
    assert.match(r.error.message, /wrong token/);
    await withTimeout(c.closed, T, 'close after a wrong token');
    const d = new LineClient(server.port);
    assert.equal((await d.request('icotes/authenticate', { token: 42 })).error.code, -32004);
    await withTimeout(d.closed, T, 'close after a non-string token');
  });

  test('a notification before authenticating closes the connection', async () => {
    const c = new LineClient(server.port);
    await c.connected();
    c.notify('initialized', {});
    await withTimeout(c.closed, T, 'close after a notification');
  });

  test('an editor (LSP framing) and a script (NDJSON) share one workspace', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const editor = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    editor.onRequest('workspace/applyEdit', () => ({ applied: false }));
    editor.listen();
    try {
      assert.deepEqual(await withTimeout(editor.sendRequest('icotes/authenticate', { token: server.token }), T, 'auth'),
        { authenticated: true });
      await withTimeout(editor.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, capabilities: {} }), T, 'initialize');
      await editor.sendNotification('initialized', {});
      await editor.sendNotification('textDocument/didOpen', {
        textDocument: { uri: pathToFileURL(path.join(root, 'notes.txt')).href, languageId: 'plaintext', version: 1, text: 'unsaved in the editor\n' },
      });
      const script = new LineClient(server.port);
      assert.deepEqual((await script.request('icotes/authenticate', { token: server.token })).result, { authenticated: true });
      // didOpen is a notification: poll (bounded) until the overlay has it.
      let text;
      for (let i = 0; i < 50; i++) {
        const r = await script.request('icotes/files/read', { path: 'notes.txt' });
        assert.ok(r.result, JSON.stringify(r.error));
        text = r.result.content;
        if (text.startsWith('unsaved')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(text, 'unsaved in the editor\n');
      script.end();
    } finally {
      editor.dispose();
      socket.destroy();
    }
  });

  test('200 concurrent connections each run a bounded loop of requests', async () => {
    const clients = Array.from({ length: 200 }, () => new LineClient(server.port));
    const answered = await withTimeout(Promise.all(clients.map(async (c) => {
      const auth = await c.request('icotes/authenticate', { token: server.token });
      assert.equal(auth.result?.authenticated, true, JSON.stringify(auth));
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        const r = await c.request('icotes/files/stat', { path: 'notes.txt' });
        if (r.result?.type === 'file') ok++;
      }
      c.end();
      return ok;
    })), 120000, '200 clients');
    assert.equal(answered.reduce((a, b) => a + b, 0), 2000);
  });

  test('a client that vanishes mid-request leaves the server serving the others', async () => {
    const gone = new LineClient(server.port);
    await gone.request('icotes/authenticate', { token: server.token });
    gone.socket.write(JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'icotes/test/sleep', params: { ms: 30000 } }) + '\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    gone.end();
    // The only worker is free again only if the vanished client's sleep was
    // cancelled (it would hold it for 30 s, past this request's bound).
    const c = new LineClient(server.port);
    await c.request('icotes/authenticate', { token: server.token });
    const r = await c.request('icotes/test/sleep', { ms: 1 });
    assert.ok(r.result, JSON.stringify(r.error));
    c.end();
  });

  test('SIGTERM stops the server and removes the token file', async () => {
    const other = await startServer(root, runtime);
    const exited = new Promise((resolve) => other.child.on('exit', (code, signal) => resolve({ code, signal })));
    other.child.kill('SIGTERM');
    assert.deepEqual(await withTimeout(exited, T, 'exit on SIGTERM'), { code: 0, signal: null });
    assert.equal(fs.existsSync(other.tokenPath), false);
  });
});

describe('TCP door: refusals at start', () => {
  test('a non-loopback address needs --allow-remote', () => {
    const root = tempDir('tcp-remote');
    try {
      const r = spawnSync(requireBinary(), ['serve', '--root', root, '--listen', 'tcp:0.0.0.0:0'], { encoding: 'utf8', timeout: T });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /not a loopback address.*--allow-remote/);
      const bad = spawnSync(requireBinary(), ['serve', '--root', root, '--listen', 'tcp:127.0.0.1:http'], { encoding: 'utf8', timeout: T });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /port is not a number/);
    } finally {
      removeDir(root);
    }
  });

  test('a runtime directory open to others is refused (it would expose the token)', () => {
    const root = tempDir('tcp-perm');
    const runtime = tempDir('tcp-perm-run');
    try {
      fs.mkdirSync(path.join(runtime, 'icotes'), { mode: 0o755 });
      fs.chmodSync(path.join(runtime, 'icotes'), 0o755);
      const r = spawnSync(requireBinary(), ['serve', '--root', root, '--listen', 'tcp:127.0.0.1:0'],
        { encoding: 'utf8', timeout: T, env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /mode 0700/);
    } finally {
      removeDir(root);
      removeDir(runtime);
    }
  });
});
