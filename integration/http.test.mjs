// MCP Streamable HTTP (`icotes serve --daemon --listen http:127.0.0.1:0`:
// the workspace's daemon, started by hand with doors) with the MCP SDK's own
// StreamableHTTPClientTransport, side by side with an editor (vscode-jsonrpc
// over the TCP door, then over stdio through `icotes serve`, which attaches
// to that daemon) on one workspace: the AI sees the editor's unsaved buffer
// and its edit reaches the editor as workspace/applyEdit. Plus the
// transport's rules with raw fetch: bearer token, forged Origin, sessions,
// JSON vs SSE answers, resumption with Last-Event-ID, body limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;

function start(root, runtime) {
  const child = spawn(requireBinary(), ['serve', '--daemon', '--root', root, '--listen', 'http:127.0.0.1:0', '--listen', 'tcp:127.0.0.1:0',
    '--permission-mode', 'acceptEdits', '--max-frame-bytes', '1048576', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' },
  });
  let stderr = '';
  return withTimeout(new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const h = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp; token in (\S+)/.exec(stderr);
      const t = /listening on tcp:127\.0\.0\.1:(\d+); token in (\S+)/.exec(stderr);
      if (h && t) {
        resolve({
          child, url: `http://127.0.0.1:${h[1]}/mcp`, token: fs.readFileSync(h[2], 'utf8').trim(), tokenPath: h[2],
          tcpPort: Number(t[1]), tcpToken: fs.readFileSync(t[2], 'utf8').trim(),
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  }), T, 'server start');
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('MCP Streamable HTTP', () => {
  let root, runtime, server;
  const headers = () => ({ authorization: `Bearer ${server.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
  const post = (body, extra = {}) => fetch(server.url, { method: 'POST', headers: { ...headers(), ...extra }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  async function session() {
    const r = await post(INIT);
    assert.equal(r.status, 200);
    const id = r.headers.get('mcp-session-id');
    assert.match(id, /^[0-9a-f]{32}$/);
    await r.json();
    const n = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id });
    assert.equal(n.status, 202);
    return id;
  }

  before(async () => {
    root = tempDir('http');
    runtime = tempDir('http-run');
    fs.chmodSync(runtime, 0o700);
    fs.writeFileSync(path.join(root, 'notes.txt'), 'on disk\n');
    server = await start(root, runtime);
  });
  after(() => {
    server?.child.kill('SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  test('the token file is private', () => {
    assert.equal(fs.statSync(server.tokenPath).mode & 0o777, 0o600);
    assert.match(server.token, /^[0-9a-f]{64}$/);
  });

  test('the MCP SDK client works over it, and shares the workspace with an editor on the TCP door', async () => {
    // The editor: vscode-jsonrpc over TCP, with an unsaved buffer.
    const socket = net.connect(server.tcpPort, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const editor = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    const applied = [];
    editor.onRequest('workspace/applyEdit', (p) => {
      applied.push(p);
      return { applied: true };
    });
    editor.listen();
    const uri = pathToFileURL(path.join(root, 'notes.txt')).href;
    const client = new Client({ name: 'http-test', version: '1.0.0' });
    try {
      await withTimeout(editor.sendRequest('icotes/authenticate', { token: server.tcpToken }), T, 'auth');
      await withTimeout(editor.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, capabilities: { workspace: { applyEdit: true } } }), T, 'initialize');
      await editor.sendNotification('initialized', {});
      await editor.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'plaintext', version: 1, text: 'unsaved text\n' } });

      // The AI: the SDK's Streamable HTTP client.
      const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${server.token}` } } });
      await withTimeout(client.connect(transport), T, 'connect');
      assert.ok(transport.sessionId);
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'read_file'));
      let text;
      for (let i = 0; i < 50; i++) {
        const r = await client.callTool({ name: 'read_file', arguments: { path: 'notes.txt' } });
        text = r.content[0].text;
        if (text.includes('unsaved')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(text, /unsaved text/);
      const edit = await client.callTool({ name: 'edit_file', arguments: { path: 'notes.txt', edits: [{ oldString: 'unsaved', newString: 'edited' }] } });
      assert.ok(!edit.isError, JSON.stringify(edit));
      assert.equal(applied.length, 1);
      assert.equal(fs.readFileSync(path.join(root, 'notes.txt'), 'utf8'), 'on disk\n');  // the editor owns it
      // Progress arrives while the call runs (an SSE answer).
      const progress = [];
      const slept = await client.callTool({ name: 'test_sleep', arguments: { ms: 300 } }, undefined, { onprogress: (p) => progress.push(p) });
      assert.ok(!slept.isError);
      assert.ok(progress.length >= 1, 'progress notifications over the POST stream');
      await transport.terminateSession();
    } finally {
      await client.close();
      editor.dispose();
      socket.destroy();
    }
  });

  test('an editor attached over stdio (`icotes serve`) and the AI over HTTP share the daemon', async () => {
    fs.writeFileSync(path.join(root, 'shared.txt'), 'saved\n');
    // The editor launches `icotes serve` as editors do; with the same
    // permission settings it attaches to the daemon serving the HTTP door.
    const child = spawn(requireBinary(), ['serve', '--root', root, '--permission-mode', 'acceptEdits'], {
      stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, XDG_RUNTIME_DIR: runtime },
    });
    const editor = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const applied = [];
    editor.onRequest('workspace/applyEdit', (p) => {
      applied.push(p);
      return { applied: true };
    });
    editor.listen();
    const uri = pathToFileURL(path.join(root, 'shared.txt')).href;
    const client = new Client({ name: 'http-attach-test', version: '1.0.0' });
    try {
      await withTimeout(editor.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, capabilities: { workspace: { applyEdit: true } } }), T, 'initialize');
      await editor.sendNotification('initialized', {});
      const sockets = fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock'));
      assert.equal(sockets.length, 1, `one daemon socket, no second daemon: ${sockets}`);
      await editor.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'plaintext', version: 1, text: 'unsaved words\n' } });
      const transport = new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { Authorization: `Bearer ${server.token}` } } });
      await withTimeout(client.connect(transport), T, 'connect');
      let text;
      for (let i = 0; i < 50; i++) {
        text = (await client.callTool({ name: 'read_file', arguments: { path: 'shared.txt' } })).content[0].text;
        if (text.includes('unsaved')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(text, /unsaved words/, "the AI over HTTP reads the attached editor's buffer");
      const edit = await client.callTool({ name: 'edit_file', arguments: { path: 'shared.txt', edits: [{ oldString: 'unsaved', newString: 'edited' }] } });
      assert.ok(!edit.isError, JSON.stringify(edit));
      assert.equal(applied.length, 1, 'the edit reached the editor through the forwarder');
      assert.equal(applied[0].edit.documentChanges?.[0]?.textDocument?.uri ?? Object.keys(applied[0].edit.changes ?? {})[0], uri);
      assert.equal(fs.readFileSync(path.join(root, 'shared.txt'), 'utf8'), 'saved\n');
      await transport.terminateSession();
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      await withTimeout(editor.sendRequest('shutdown'), T, 'shutdown');
      await editor.sendNotification('exit');
      assert.equal(await withTimeout(exited, T, 'the editor\'s server exits'), 0);
      assert.equal(server.child.exitCode, null, 'the daemon stays up');
    } finally {
      await client.close();
      editor.dispose();
    }
  });

  test('no token, a wrong token or a forged Origin is refused', async () => {
    const none = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(INIT) });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await post(INIT, { authorization: `Bearer ${'0'.repeat(64)}` });
    assert.equal(wrong.status, 401);
    const forged = await post(INIT, { origin: 'http://evil.example' });
    assert.equal(forged.status, 403);
    assert.match((await forged.json()).error.message, /DNS rebinding/);
    const local = await post(INIT, { origin: 'http://localhost:3000' });
    assert.equal(local.status, 200);
    await local.json();
    // fetch() will not forge Host; a raw request will.
    const u = new URL(server.url);
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: '/mcp', method: 'POST',
        headers: { ...headers(), host: 'evil.example' } }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    assert.equal(status, 403);
  });

  test('sessions: required after initialize, unknown ones are 404, DELETE ends one', async () => {
    const id = await session();
    const missing = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.equal(missing.status, 400);
    const unknown = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': 'f'.repeat(32) });
    assert.equal(unknown.status, 404);
    const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('content-type'), 'application/json');
    assert.ok((await list.json()).result.tools.length > 10);
    const badVersion = await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, { 'mcp-session-id': id, 'mcp-protocol-version': '1999-01-01' });
    assert.equal(badVersion.status, 400);
    const del = await fetch(server.url, { method: 'DELETE', headers: { ...headers(), 'mcp-session-id': id } });
    assert.equal(del.status, 200);
    const after = await post({ jsonrpc: '2.0', id: 4, method: 'ping' }, { 'mcp-session-id': id });
    assert.equal(after.status, 404);
  });

  test('an SSE answer can be resumed with Last-Event-ID after the connection dropped', async () => {
    const id = await session();
    const r = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_sleep', arguments: { ms: 1500 }, _meta: { progressToken: 'p1' } } },
      { 'mcp-session-id': id });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    // Read until the first event, then drop the connection.
    const reader = r.body.getReader();
    let text = '';
    while (!/\n\n/.test(text)) {
      const { value } = await withTimeout(reader.read(), T, 'first SSE event');
      text += new TextDecoder().decode(value);
    }
    const firstId = /^id: (\S+)$/m.exec(text)[1];
    assert.match(text, /notifications\/progress/);
    await reader.cancel();
    const resumed = await fetch(server.url, { method: 'GET', headers: { ...headers(), 'mcp-session-id': id, 'last-event-id': firstId } });
    assert.equal(resumed.status, 200);
    const rest = await withTimeout(resumed.text(), T, 'resumed stream');
    const events = rest.split('\n\n').filter((e) => e.includes('data: ')).map((e) => ({
      id: /^id: (\S+)$/m.exec(e)[1], data: JSON.parse(/^data: (.*)$/m.exec(e)[1]),
    }));
    assert.ok(events.length >= 1);
    assert.ok(!events.some((e) => e.id === firstId), 'the event already seen is not sent again');
    const last = events.at(-1).data;
    assert.equal(last.id, 7);
    assert.ok(!last.result.isError, JSON.stringify(last));
    assert.ok(Number(/sleptMs: (\d+)/.exec(last.result.content[0].text)?.[1]) >= 1500, JSON.stringify(last));
  });

  test('MCP 2026-07-28 stateless requests need no session; a listen stream carries updates', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const v = { 'mcp-protocol-version': '2026-07-28' };
    const r = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } }, v);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('mcp-session-id'), null, 'no session for stateless requests');
    const discover = await r.json();
    assert.equal(discover.result.resultType, 'complete');
    assert.ok(discover.result.supportedVersions.includes('2026-07-28'));
    const call = await (await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: meta, name: 'read_file', arguments: { path: 'notes.txt' } } }, v)).json();
    assert.equal(call.result.resultType, 'complete');
    assert.match(call.result.content[0].text, /on disk/);
    const mismatch = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: meta } }, { 'mcp-protocol-version': '2025-11-25' });
    assert.equal(mismatch.status, 400);
    assert.equal((await mismatch.json()).error.code, -32020);
    // subscriptions/listen: an SSE answer that stays open.
    const uri = pathToFileURL(path.join(root, 'notes.txt')).href;
    const listen = await post({ jsonrpc: '2.0', id: 4, method: 'subscriptions/listen', params: { _meta: meta, notifications: { resourceSubscriptions: [uri] } } }, v);
    assert.equal(listen.headers.get('content-type'), 'text/event-stream');
    const reader = listen.body.getReader();
    let text = '';
    const readUntil = async (re, what) => {
      while (!re.test(text)) {
        const { value, done } = await withTimeout(reader.read(), T, what);
        assert.ok(!done, `${what}: the stream ended`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(/subscriptions\/acknowledged/, 'acknowledged');
    fs.appendFileSync(path.join(root, 'notes.txt'), 'changed on disk\n');
    await readUntil(/resources\/updated/, 'resources/updated');
    assert.match(text, /"io.modelcontextprotocol\/subscriptionId":4/);
    await reader.cancel();
  });

  test('a batch is answered as one array; a large answer finds its POST by id', async () => {
    // Batches are MCP 2025-03-26's (JSON-RPC 2.0 section 6).
    const init = await post({ ...INIT, params: { ...INIT.params, protocolVersion: '2025-03-26' } });
    assert.equal(init.status, 200);
    const id = init.headers.get('mcp-session-id');
    await init.json();
    assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id })).status, 202);
    const batch = await post([{ jsonrpc: '2.0', id: 5, method: 'ping' }, { jsonrpc: '2.0', id: 'six', method: 'tools/list' }],
      { 'mcp-session-id': id, accept: 'application/json' });
    assert.equal(batch.status, 200);
    const answers = await batch.json();
    assert.ok(Array.isArray(answers), JSON.stringify(answers).slice(0, 200));
    assert.deepEqual(answers.map((a) => a.id).sort(), [5, 'six'].sort());
    assert.ok(answers.find((a) => a.id === 'six').result.tools.length > 10);
    // The server reads only the head of an answer to route it: a 60 KB
    // file's text (one page, asked for: the default page is 31 KiB) after
    // the id must still arrive whole.
    const big = 'abcdefghij'.repeat(6000) + '\n';
    fs.writeFileSync(path.join(root, 'big.txt'), big);
    const read = await post({ jsonrpc: '2.0', id: 'big', method: 'tools/call', params: { name: 'read_file', arguments: { path: 'big.txt', maxBytes: 70000 } } },
      { 'mcp-session-id': id, accept: 'application/json' });
    assert.equal(read.status, 200);
    const answer = await read.json();
    assert.equal(answer.id, 'big');
    const text = answer.result.content[0].text;
    const body = text.slice(text.indexOf('\n') + 1);  // after read_file's header line
    assert.ok(body === big, `${body.length} characters, not ${big.length}`);
  });

  test('malformed and oversized bodies are refused with clear errors', async () => {
    const id = await session();
    const bad = await post('{"jsonrpc":', { 'mcp-session-id': id });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, -32700);
    const type = await post('x', { 'mcp-session-id': id, 'content-type': 'text/plain' });
    assert.equal(type.status, 415);
    const huge = await post({ jsonrpc: '2.0', id: 9, method: 'ping', params: { pad: 'x'.repeat(2 << 20) } }, { 'mcp-session-id': id });
    assert.equal(huge.status, 413);
    // Numbers no double holds: a parse error, not a crash.
    const overflow = await post('{"jsonrpc":"2.0","id":1e400,"method":"ping"}', { 'mcp-session-id': id });
    assert.equal(overflow.status, 400);
    assert.equal((await overflow.json()).error.code, -32700);
    // An id the answer cannot carry (JSON-RPC 2.0: string, integer or null)
    // is refused at once; the POST used to wait forever for an answer with
    // that id, in a session of its own for initialize.
    for (const bodyId of [[], {}, 1.5, true]) {
      for (const extra of [{ 'mcp-session-id': id }, {}]) {
        const method = extra['mcp-session-id'] ? 'ping' : 'initialize';
        const params = method === 'initialize' ? { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } : {};
        const r = await withTimeout(post({ jsonrpc: '2.0', id: bodyId, method, params }, extra), 10000, `POST ${method} with id ${JSON.stringify(bodyId)}`);
        assert.equal(r.status, 400, `${method} id ${JSON.stringify(bodyId)}`);
        assert.equal((await r.json()).error.code, -32600);
      }
    }
  });
});
