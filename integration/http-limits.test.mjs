// The MCP HTTP door under hostile clients, on the real binary: names that
// only start like loopback, slow heads (slowloris), bodies past the limit in
// every encoding, huge heads, and what a connection or a session may hold
// before it has proven it knows the token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { pollUntil, removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;
const LIMIT = 1 << 20;  // --max-frame-bytes: the body limit

function start(root, runtime) {
  const child = spawn(requireBinary(), ['serve', '--daemon', '--root', root, '--listen', 'http:127.0.0.1:0',
    '--max-frame-bytes', String(LIMIT), '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' },
  });
  let stderr = '';
  return withTimeout(new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const h = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp; token in (\S+)/.exec(stderr);
      if (h) resolve({ child, port: Number(h[1]), url: `http://127.0.0.1:${h[1]}/mcp`, token: fs.readFileSync(h[2], 'utf8').trim() });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  }), T, 'server start');
}

// The server's peak resident size so far, in bytes (VmHWM).
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

// A raw connection: write what you like, read the status line of the first
// response (null when the server closed without one).
function connect(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let data = '';
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.on('data', (d) => { data += d.toString('latin1'); });
  const status = new Promise((resolve) => {
    const check = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m && data.includes('\r\n\r\n')) resolve(Number(m[1]));
    };
    socket.on('data', check);
    socket.on('close', () => { check(); resolve(null); });
  });
  const connected = new Promise((resolve) => socket.once('connect', resolve));
  return { socket, status, closed, connected, text: () => data };
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('MCP HTTP door limits', () => {
  let root, runtime, server;
  const headers = () => ({ authorization: `Bearer ${server.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
  const head = (extra = '') => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${server.token}\r\n` +
    `Content-Type: application/json\r\nAccept: application/json\r\n${extra}`;

  before(async () => {
    root = tempDir('http-limits');
    runtime = tempDir('http-limits-run');
    fs.chmodSync(runtime, 0o700);
    fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
    server = await start(root, runtime);
  });
  after(() => {
    server?.child.kill('SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  test('Host and Origin must name loopback exactly, not merely start like it', async () => {
    const raw = async (extra) => {
      const c = connect(server.port);
      const body = JSON.stringify(INIT);
      c.socket.write(`POST /mcp HTTP/1.1\r\nAuthorization: Bearer ${server.token}\r\nContent-Type: application/json\r\n` +
        `Accept: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n${body}`);
      return withTimeout(c.status, T, `status for ${JSON.stringify(extra)}`);
    };
    for (const host of ['127.0.0.1.evil.com', '127.attacker.example', `127.0.0.1.nip.io:${server.port}`, 'localhost.evil.com',
      '[::ffff:127.0.0.1]', 'user@localhost', '127.1', '127.0.0.1%00.evil.com'])
      assert.equal(await raw(`Host: ${host}\r\n`), 403, `Host: ${host}`);
    for (const origin of ['http://127.0.0.1.evil.com', 'http://127.attacker.example:8080', 'http://localhost.evil.com', 'null'])
      assert.equal(await raw(`Host: 127.0.0.1:${server.port}\r\nOrigin: ${origin}\r\n`), 403, `Origin: ${origin}`);
    // Two Host headers: which one the check saw must not matter.
    assert.equal(await raw(`Host: 127.0.0.1\r\nHost: evil.example\r\n`), 400);
    for (const host of [`localhost:${server.port}`, `LOCALHOST:${server.port}`, `127.9.9.9:${server.port}`, '[::1]'])
      assert.equal(await raw(`Host: ${host}\r\nOrigin: http://localhost:3000\r\n`), 200, `Host: ${host}`);
  });

  test('a chunked body past the limit is refused with 413 and never buffered', async () => {
    const before = peakRss(server.child.pid);
    const c = connect(server.port);
    await c.connected;
    c.socket.write(head('Transfer-Encoding: chunked\r\n\r\n'));
    const chunk = Buffer.alloc(64 << 10, 'x');
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    let answered = null;
    c.status.then((s) => { answered = s; });
    // Up to 64 times the limit, waiting for the socket to drain; the server answers long before.
    while (answered === null && sent < 64 * LIMIT && !c.socket.destroyed) {
      if (!c.socket.write(frame)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
      sent += chunk.length;
    }
    assert.equal(await withTimeout(c.status, T, '413'), 413);
    assert.ok(sent < 16 * LIMIT, `the server read ${sent} bytes before answering`);
    await withTimeout(c.closed, T, 'the connection closes after a refused body');
    assert.ok(peakRss(server.child.pid) - before < 8 * LIMIT, `the server grew by ${peakRss(server.child.pid) - before} bytes`);
  });

  test('a compressed body is limited after decompression (gzip bomb)', async () => {
    const before = peakRss(server.child.pid);
    const bomb = zlib.gzipSync(Buffer.alloc(64 * LIMIT, ' '));
    assert.ok(bomb.length < LIMIT);
    const c = connect(server.port);
    c.socket.write(head(`Content-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`));
    c.socket.write(bomb);
    assert.equal(await withTimeout(c.status, T, '413 for a gzip bomb'), 413);
    assert.ok(peakRss(server.child.pid) - before < 8 * LIMIT, `the server grew by ${peakRss(server.child.pid) - before} bytes`);
  });

  test('Content-Length past the limit is refused before the body is read; bodies need a length', async () => {
    const c = connect(server.port);
    c.socket.write(head(`Content-Length: ${64 * LIMIT}\r\n\r\n`));
    assert.equal(await withTimeout(c.status, T, '413 for a declared length'), 413);
    await withTimeout(c.closed, T, 'closed without reading the body');
    // No length and no chunking: HTTP/1.1 says no body (RFC 9112 section 6.3), not "until the client closes".
    const d = connect(server.port);
    d.socket.write(head('\r\n') + JSON.stringify(INIT));
    assert.equal(await withTimeout(d.status, T, '411'), 411);
    // Both framings at once are a smuggling attempt, and other transfer codings are not served.
    const e = connect(server.port);
    e.socket.write(head('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    assert.equal(await withTimeout(e.status, T, '400 for both framings'), 400);
    const f = connect(server.port);
    f.socket.write(head('Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'));
    assert.equal(await withTimeout(f.status, T, '501 for another coding'), 501);
  });

  test('a head past the size limit is refused and not buffered', async () => {
    const before = peakRss(server.child.pid);
    const c = connect(server.port);
    await c.connected;
    c.socket.write('POST /mcp HTTP/1.1\r\n');
    const line = `X-Pad: ${'y'.repeat(1000)}\r\n`;
    let sent = 0;
    let answered = false;
    c.status.then(() => { answered = true; });
    while (!answered && !c.socket.destroyed && sent < 64 * LIMIT) {
      if (!c.socket.write(line.repeat(64))) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
      sent += 64 * line.length;
    }
    const status = await withTimeout(c.status, T, 'refusal of a huge head');
    assert.ok(status === 431 || status === null, `status ${status}`);
    // After the 431 the server reads and throws away up to 1 MiB (a lingering close, so the
    // client can read the refusal), never keeping it.
    assert.ok(sent < 9 * LIMIT, `the server read ${sent} bytes of head`);
    assert.ok(peakRss(server.child.pid) - before < 8 * LIMIT, `the server grew by ${peakRss(server.child.pid) - before} bytes`);
  });

  test('slowloris: 300 connections trickling their heads do not delay a real request, and are cut at the deadline', async () => {
    const slow = [];
    for (let i = 0; i < 300; i++) {
      const c = connect(server.port);
      slow.push(c);
      c.socket.write('POST /mcp HTTP/1.1\r\n');
    }
    await Promise.all(slow.map((c) => c.connected));
    const opened = Date.now();
    const timer = setInterval(() => { for (const c of slow) if (!c.socket.destroyed) c.socket.write('X-Slow: 1\r\n'); }, 500);
    try {
      // Let the trickle run past several read timeouts' worth of select() rounds.
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      const r = await withTimeout(fetch(server.url, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) }), 5000, 'a real request during the attack');
      assert.equal(r.status, 200);
      await r.json();
      assert.ok(Date.now() - t0 < 3000, `answered after ${Date.now() - t0} ms`);
      // Every slow connection is closed by the head deadline (10 s), however steadily it trickles.
      await withTimeout(Promise.all(slow.map((c) => c.closed)), 20000, 'the slow connections closed');
      const took = Date.now() - opened;
      assert.ok(took < 16000, `closed after ${took} ms`);
    } finally {
      clearInterval(timer);
      for (const c of slow) c.socket.destroy();
    }
  });

  test('idle connections beyond the cap of unauthenticated ones push out the oldest; a real client still gets through', async () => {
    const idle = [];
    for (let i = 0; i < 400; i++) idle.push(connect(server.port));
    await Promise.all(idle.map((c) => c.connected));
    const r = await withTimeout(fetch(server.url, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) }), 5000, 'a real request');
    assert.equal(r.status, 200);
    await r.json();
    // The first ones were closed to make room for later ones.
    await withTimeout(Promise.all(idle.slice(0, 100).map((c) => c.closed)), T, 'the oldest idle connections closed');
    for (const c of idle) c.socket.destroy();
  });

  test('idle kept-alive connections hold no request slot: 200 of them, and a new client is still served', async () => {
    const init = await fetch(server.url, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) });
    const id = init.headers.get('mcp-session-id');
    await init.json();
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const kept = [];
    for (let i = 0; i < 200; i++) {
      const c = connect(server.port);
      c.socket.write(head(`Mcp-Session-Id: ${id}\r\nContent-Length: ${note.length}\r\n\r\n`) + note);
      kept.push(c);
    }
    for (const c of kept) assert.equal(await withTimeout(c.status, T, 'a kept-alive request'), 202);
    // 200 idle connections, 128 request slots: the next client is served, not refused.
    const r = await withTimeout(fetch(server.url, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) }), 5000, 'a new client');
    assert.equal(r.status, 200);
    await r.json();
    // Still open (keep-alive lasts 5 s), and each takes its next request.
    const c = kept[0];
    assert.equal(c.socket.destroyed, false);
    const before = c.text().length;
    c.socket.write(head(`Mcp-Session-Id: ${id}\r\nContent-Length: ${note.length}\r\n\r\n`) + note);
    await pollUntil(() => /HTTP\/1\.1 202/.test(c.text().slice(before)), T, 'the second request on a kept connection', 10);
    for (const k of kept) k.socket.destroy();
  });

  test('a refused request closes its connection: no keep-alive without the token', async () => {
    const c = connect(server.port);
    c.socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    assert.equal(await withTimeout(c.status, T, '401'), 401);
    await withTimeout(c.closed, T, 'closed after 401');
    assert.match(c.text(), /Connection: close/i);
  });

  test('a Range header is refused (no multi-range copies of an answer)', async () => {
    const r = await fetch(server.url, { method: 'POST', headers: { ...headers(), range: 'bytes=0-,0-,0-,0-' }, body: JSON.stringify(INIT) });
    assert.equal(r.status, 416);
    await r.text();
  });

  test('sessions are capped: past the cap the session idle the longest ends (404), a busy one stays', async () => {
    const open = async () => {
      const r = await fetch(server.url, { method: 'POST', headers: headers(), body: JSON.stringify(INIT) });
      assert.equal(r.status, 200);
      await r.json();
      return r.headers.get('mcp-session-id');
    };
    const ping = async (id) => {
      const r = await fetch(server.url, { method: 'POST', headers: { ...headers(), 'mcp-session-id': id }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
      await r.text();
      return r.status;
    };
    // A session with its GET stream open is busy however long ago it was used.
    const busy = await open();
    const listen = new AbortController();
    const stream = await fetch(server.url, { method: 'GET', headers: { ...headers(), 'mcp-session-id': busy }, signal: listen.signal });
    assert.equal(stream.status, 200);
    const oldest = await open();
    const ids = [];
    for (let i = 0; i < 256; i++) ids.push(await open());
    assert.equal(await ping(oldest), 404, 'the idle session was ended to make room');
    assert.equal(await ping(busy), 200, 'the session with an open stream stays');
    assert.equal(await ping(ids.at(-1)), 200);
    listen.abort();
    for (const id of [busy, ...ids]) await (await fetch(server.url, { method: 'DELETE', headers: { ...headers(), 'mcp-session-id': id } })).text();
  });
});
