// Values of every JSON type in every place a client can put them, against a
// real `icotes serve --standalone` on stdio (MCP over newline-delimited JSON,
// LSP over Content-Length frames, plain JSON-RPC):
//  - every member of the params of every session method (initialize,
//    tools/call, resources/*, completion/complete, logging/setLevel,
//    subscriptions/listen, the LSP text-sync and lifecycle messages, ...),
//    replaced in turn by null, numbers (negative, fractional, 2^64, 1e308),
//    strings, booleans, arrays and objects, or removed;
//  - every argument of every tool that tools/list names, the same way;
//  - numbers no double holds (1e400) anywhere in a message;
//  - answers to the server's own requests with error members of the wrong type.
// The server must answer every request (a result or an error, never a crash
// or silence), keep serving afterwards, and never let a JSON library
// exception text ("[json.exception...") reach the client: that would be a
// member read without a check (a schema gap).
// The workspace is a fresh temporary folder; default permissions, so
// nothing that writes or runs commands is allowed (nobody can be asked).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertSameTree, removeDir, requireBinary, snapshot, tempDir } from './helpers.mjs';

// The workspace without the server's state: XDG_STATE_HOME (.state) and the
// project's permission store (.icotes/permissions.sqlite and its WAL files,
// which the LSP sweep's icotes/permissions/grant variants write).
const tree = (root) => new Map([...snapshot(root)].filter(([k]) => !/^\.(state|icotes)(\/|$)/.test(k)));

// Every kind of JSON value, and the numbers that trip integer conversions.
const VALUES = [
  null, 0, -1, 1.5, 2 ** 53, 1e308, -1e308, '', 's', '../../../etc/passwd', 'file:///etc/passwd', true, false,
  [], [1, 'x'], {}, { a: { b: 1 } },
];
// Written into the text as is: JSON numbers JavaScript cannot hold.
const RAW_NUMBERS = ['18446744073709551616', '-9223372036854775809', '1e400', '-1e400', '123456789012345678901234567890'];

const WAIT_MS = 3000;  // per request; a slower answer is cancelled and counted

// Variants of `params`: each member (at any depth) replaced by each value or
// removed, and params itself replaced. Yields [label, paramsText].
function* variants(params) {
  const paths = [];
  const walk = (v, p) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], [...p, k]);
  };
  walk(params, []);
  const setAt = (root, p, value, remove) => {
    if (p.length === 0) return value;
    const copy = structuredClone(root);
    let o = copy;
    for (const k of p.slice(0, -1)) o = o[k];
    if (remove) {
      if (Array.isArray(o)) o.splice(Number(p.at(-1)), 1);
      else delete o[p.at(-1)];
    } else o[p.at(-1)] = value;
    return copy;
  };
  const RAW = '"@@RAW@@"';
  for (const p of paths) {
    const where = p.length ? p.join('.') : '(params)';
    for (const v of VALUES) yield [`${where} = ${JSON.stringify(v)}`, JSON.stringify(setAt(params, p, v))];
    if (p.length) yield [`${where} removed`, JSON.stringify(setAt(params, p, undefined, true))];
    for (const raw of RAW_NUMBERS) {
      yield [`${where} = ${raw}`, JSON.stringify(setAt(params, p, '@@RAW@@')).replace(RAW, raw)];
    }
  }
}

// A client on the server's stdio: `send(text)` writes one message; replies
// are matched by id; requests from the server are answered by `onServerRequest`.
class RawClient {
  constructor(root, lsp, extraArgs = []) {
    this.lsp = lsp;
    this.proc = spawn(requireBinary(), ['serve', '--standalone', '--root', root, '--log-level', 'warn', ...extraArgs], {
      env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    // What the server's safety nets log: a notification dropped, a worker
    // task or an answer's callback that threw. Each is a read without a
    // check, as much a problem as an exception text in a reply.
    this.caught = [];
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-8000);
      for (const line of String(d).split('\n')) if (/dropped:|worker task failed|not taken:/.test(line)) this.caught.push(line);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.exit = null;
    this.exited.then((e) => { this.exit = e; });
    this.waiting = new Map();  // id → resolve
    this.serverRequests = [];
    this.late = [];
    this.onServerRequest = null;
    this.buf = Buffer.alloc(0);
    this.proc.stdout.on('data', (d) => this.read(d));
    this.proc.stdin.on('error', () => {});
  }

  read(data) {
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      let body;
      if (this.lsp) {
        const sep = this.buf.indexOf('\r\n\r\n');
        if (sep < 0) return;
        const m = /Content-Length: (\d+)/i.exec(this.buf.subarray(0, sep).toString());
        assert.ok(m, `frame without Content-Length: ${this.buf.subarray(0, sep)}`);
        const len = Number(m[1]);
        if (this.buf.length < sep + 4 + len) return;
        body = this.buf.subarray(sep + 4, sep + 4 + len).toString();
        this.buf = this.buf.subarray(sep + 4 + len);
      } else {
        const nl = this.buf.indexOf('\n');
        if (nl < 0) return;
        body = this.buf.subarray(0, nl).toString();
        this.buf = this.buf.subarray(nl + 1);
      }
      const message = JSON.parse(body);  // the server writes valid JSON or this throws
      const batch = Array.isArray(message) ? message : [message];
      for (const m of batch) {
        if (m.method !== undefined && m.id !== undefined) {
          this.serverRequests.push(m);
          this.onServerRequest?.(m);
        } else if (m.method === undefined) {
          const key = JSON.stringify(m.id);
          const w = this.waiting.get(key);
          if (w) {
            this.waiting.delete(key);
            w(m);
          } else this.late.push(m);  // after its wait ended: checked at the end
        }
      }
    }
  }

  send(text) {
    const frame = this.lsp ? `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}` : `${text}\n`;
    this.proc.stdin.write(frame);
  }

  // Sends a request; resolves with its reply, or null after `ms`.
  request(id, text, ms = WAIT_MS) {
    return new Promise((resolve) => {
      const key = JSON.stringify(id);
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(null);
      }, ms);
      this.waiting.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.send(text);
    });
  }

  // initialize (id 0), then the initialized notification of the dialect;
  // returns the InitializeResult.
  async initialize(params) {
    const init = await this.request(0, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params }), 10000);
    assert.ok(init?.result, JSON.stringify(init));
    this.send(this.lsp ? '{"jsonrpc":"2.0","method":"initialized","params":{}}' : '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    return init.result;
  }

  async close() {
    this.proc.stdin.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

function makeRoot(prefix) {
  const root = tempDir(prefix);
  fs.mkdirSync(path.join(root, '.state'));
  fs.mkdirSync(path.join(root, 'src'));
  fs.writeFileSync(path.join(root, 'a.txt'), 'alpha\nbeta\n');
  fs.writeFileSync(path.join(root, 'src/main.c'), 'int main(void) { return 0; }\n');
  return root;
}

// Runs every variant of every template; returns what went wrong.
async function sweep(client, templates, cancelMethod, idPrefix) {
  const problems = [];
  let n = 0;
  let slow = 0;
  const check = (what, reply) => {
    const text = JSON.stringify(reply);
    if (text.includes('[json.exception')) problems.push(`${what}: a library exception reached the client: ${text.slice(0, 300)}`);
    if (reply.error && reply.error.code === -32603) problems.push(`${what}: internal error: ${text.slice(0, 300)}`);
  };
  for (const [method, params, { notification = false, stream = false } = {}] of templates) {
    for (const [label, paramsText] of variants(params)) {
      const what = `${method} ${label}`;
      if (client.exit) {
        problems.push(`server exited (${JSON.stringify(client.exit)}) before ${what}; stderr: ${client.stderr}`);
        return { problems, n };
      }
      const id = `${idPrefix}-${n++}`;
      if (notification) {
        client.send(`{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${paramsText}}`);
        continue;
      }
      // A stream (subscriptions/listen) answers only when cancelled.
      const reply = await client.request(id, `{"jsonrpc":"2.0","id":"${id}","method":${JSON.stringify(method)},"params":${paramsText}}`,
        stream ? 40 : WAIT_MS);
      if (reply === null) {
        slow += stream ? 0 : 1;
        // Some variants are valid and wait (a long timeout): cancelled, and
        // the server must still be answering (checked by the next request).
        client.send(JSON.stringify({ jsonrpc: '2.0', method: cancelMethod, params: cancelMethod === '$/cancelRequest' ? { id } : { requestId: id } }));
        continue;
      }
      check(what, reply);
    }
  }
  // Replies that came after their wait (streams answer when cancelled).
  await alive(client, cancelMethod === '$/cancelRequest' ? 'icotes/operations' : 'server/discover', `${idPrefix}-late`);
  for (const m of client.late.splice(0)) check(`late reply ${JSON.stringify(m.id)}`, m);
  problems.push(...client.caught);
  if (slow > 20) problems.push(`${slow} requests were not answered within ${WAIT_MS} ms`);
  return { problems, n };
}

// A client for `body`, closed whatever happens.
async function withClient(root, { lsp = false, args = [] }, body) {
  const client = new RawClient(root, lsp, args);
  try {
    await body(client);
  } finally {
    await client.close();
  }
}

// The server still answers (any answer: a stateless MCP client's request
// without _meta is refused, which is an answer).
async function alive(client, method, idPrefix) {
  const reply = await client.request(`${idPrefix}-ping`, `{"jsonrpc":"2.0","id":"${idPrefix}-ping","method":"${method}"}`, 10000);
  assert.ok(reply, `the server stopped answering; exit: ${JSON.stringify(client.exit)}; stderr: ${client.stderr}`);
  assert.equal(client.exit, null);
}

describe('hostile value types', { timeout: 220000 }, () => {
  let root;
  before(() => { root = makeRoot('hostile'); });
  after(() => removeDir(root));

  test('MCP: every session method and every tool argument, every type of value', () => withClient(root, {}, async (client) => {
    const before = tree(root);
    await client.initialize({ protocolVersion: '2025-06-18', capabilities: { roots: { listChanged: true } }, clientInfo: { name: 'hostile', version: '1' } });
    // roots/list from the server: answered with wrong types each time.
    let k = 0;
    const bad = [{ roots: 5 }, { roots: [{ uri: 7 }] }, 'x', null, { roots: [{ uri: 'file:///etc' }] }];
    client.onServerRequest = (m) => {
      const i = k++;
      if (i % 2) client.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: bad[i % bad.length] }));
      else client.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: 'x', message: 5, data: { d: 1e308 } } }));
    };
    const tools = await client.request('tl', '{"jsonrpc":"2.0","id":"tl","method":"tools/list"}', 10000);
    assert.ok(tools?.result?.tools?.length > 10, JSON.stringify(tools).slice(0, 300));
    const uri = pathToFileURL(path.join(root, 'a.txt')).href;
    const templates = [
      ['initialize', { protocolVersion: '2025-06-18', capabilities: { elicitation: {} }, clientInfo: { name: 'x', version: '1' } }],
      ['ping', {}],
      ['tools/list', { cursor: 'c' }],
      ['tools/call', { name: 'read_file', arguments: { path: 'a.txt' }, _meta: { progressToken: 'p' } }],
      ['resources/list', { cursor: 'c' }],
      ['resources/templates/list', {}],
      ['resources/read', { uri }],
      ['resources/subscribe', { uri }],
      ['resources/unsubscribe', { uri }],
      ['prompts/list', {}],
      ['prompts/get', { name: 'p', arguments: { a: 'b' } }],
      ['completion/complete', { ref: { type: 'ref/resource', uri: 'file:///{path}' }, argument: { name: 'path', value: 'a' } }],
      ['logging/setLevel', { level: 'info' }],
      ['subscriptions/listen', { notifications: { resourcesListChanged: true, resourceSubscriptions: [uri] } }, { stream: true }],
      ['notifications/cancelled', { requestId: 'none', reason: 'r' }, { notification: true }],
      ['notifications/progress', { progressToken: 'p', progress: 1, total: 2 }, { notification: true }],
      ['notifications/roots/list_changed', {}, { notification: true }],
      ['notifications/initialized', {}, { notification: true }],
    ];
    for (const t of tools.result.tools) {
      const args = {};
      for (const [name, schema] of Object.entries(t.inputSchema?.properties ?? {})) {
        args[name] = schema.type === 'integer' || schema.type === 'number' ? 1 : schema.type === 'boolean' ? false
          : schema.type === 'array' ? [] : schema.type === 'object' ? {} : 'a.txt';
      }
      templates.push(['tools/call', { name: t.name, arguments: args }]);
    }
    const { problems, n } = await sweep(client, templates, 'notifications/cancelled', 'm');
    assert.ok(n > 2000, `only ${n} variants were sent`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
    await alive(client, 'ping', 'm');
    // Default permissions and nobody to say yes: nothing was written.
    assertSameTree(tree(root), before, 'after the MCP sweep');
  }));

  test('MCP: answers to permission questions (elicitation/create) with members of every type are no answer', () => withClient(root, {}, async (client) => {
    const before = tree(root);
    await client.initialize({ protocolVersion: '2025-06-18', capabilities: { elicitation: {} }, clientInfo: { name: 'hostile', version: '1' } });
    const answers = [];
    for (const v of VALUES) {
      answers.push(v, { action: v }, { action: 'accept', content: v }, { action: 'accept', content: { decision: v } });
    }
    let asked = 0;
    for (const [i, answer] of answers.entries()) {
      client.onServerRequest = (m) => {
        if (m.method !== 'elicitation/create') return;
        asked++;
        client.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: answer }));
      };
      const id = `e-${i}`;
      const reply = await client.request(id, JSON.stringify({
        jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'write_file', arguments: { path: 'new.txt', content: 'x' } },
      }), 10000);
      assert.ok(reply, `no answer to the tool call after the elicitation answer ${JSON.stringify(answer)}`);
      assert.equal(reply.result?.isError, true, JSON.stringify(reply));
    }
    assert.equal(asked, answers.length, 'every call asked');
    assert.deepEqual(client.caught, []);
    assertSameTree(tree(root), before, 'after the declined writes');
  }));

  test('LSP: lifecycle, text sync, commands and cancellation, every type of value', () => withClient(root, { lsp: true }, async (client) => {
    const rootUri = pathToFileURL(root).href;
    const init = await client.initialize({ processId: null, rootUri, capabilities: { workspace: { applyEdit: true } }, workspaceFolders: [{ uri: rootUri, name: 'w' }] });
    assert.ok(init.capabilities, JSON.stringify(init));
    client.onServerRequest = (m) => client.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: 'x', message: [] } }));
    const uri = pathToFileURL(path.join(root, 'src/main.c')).href;
    const range = { start: { line: 0, character: 1 }, end: { line: 0, character: 3 } };
    const templates = [
      ['textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text: 'int x;\n' } }, { notification: true }],
      ['textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ range, text: 'y' }, { text: 'z\n' }] }, { notification: true }],
      ['textDocument/didSave', { textDocument: { uri }, text: 'z\n' }, { notification: true }],
      ['textDocument/didClose', { textDocument: { uri } }, { notification: true }],
      ['workspace/didChangeWorkspaceFolders', { event: { added: [{ uri: rootUri, name: 'w' }], removed: [] } }, { notification: true }],
      ['workspace/didChangeConfiguration', { settings: { icotes: {} } }, { notification: true }],
      ['$/setTrace', { value: 'verbose' }, { notification: true }],
      ['$/cancelRequest', { id: 'none' }, { notification: true }],
      ['workspace/executeCommand', { command: 'icotes.files.read', arguments: [{ path: 'a.txt' }] }],
      ['workspace/executeCommand', { command: 'icotes.permissions.set', arguments: [{ mode: 'readOnly', rules: ['Read(a.txt)'] }] }],
      ['icotes/files/read', { path: 'a.txt', offset: 1, limit: 1 }],
      ['icotes/search/grep', { pattern: 'a', paths: ['src'], maxResults: 1 }],
      ['icotes/git/status', { path: 'src' }],
      ['initialize', { processId: 1, rootUri, capabilities: {} }],
      ['icotes/permissions/grant', { kind: 'ReadFile', scope: 'specific', value: 'a.txt', answer: 'deny' }],
      ['icotes/permissions/revoke', { kind: 'ReadFile', scope: 'specific', value: 'a.txt' }],
      ['icotes/permissions/log', { limit: 1, offset: 0 }],
      ['icotes/permissions/list', {}],
    ];
    const { problems, n } = await sweep(client, templates, '$/cancelRequest', 'l');
    assert.ok(n > 500, `only ${n} variants were sent`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
    // Before shutdown, the server still answers.
    const r = await client.request('r', JSON.stringify({ jsonrpc: '2.0', id: 'r', method: 'icotes/files/read', params: { path: 'a.txt' } }), 10000);
    assert.equal(r?.result?.content, 'alpha\nbeta\n', JSON.stringify(r));
  }));

  test("LSP: the editor's answers to workspace/applyEdit and window/showMessageRequest with members of every type", () => withClient(root, { lsp: true, args: ['--allow', 'Edit(a.txt)'] }, async (client) => {
    // Edits of a.txt allowed (they go to the editor as applyEdit); writes ask.
    const before = tree(root);
    const rootUri = pathToFileURL(root).href;
    await client.initialize({ processId: null, rootUri, capabilities: { workspace: { applyEdit: true }, window: { showDocument: { support: true } } } });
    const uri = pathToFileURL(path.join(root, 'a.txt')).href;
    client.send(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'plaintext', version: 1, text: 'open\n' } } }));
    let n = 0;
    const seen = new Set();
    for (const v of VALUES) {
      client.onServerRequest = (m) => {
        seen.add(m.method);
        const result = m.method === 'workspace/applyEdit' ? { applied: v, failureReason: v } : { title: v };
        client.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
      };
      // applied: true would be an edit made (the buffer then differs): the
      // other values are all refusals (-32003, the editor refused).
      if (v !== true) {
        const edit = await client.request(`ed-${n}`, JSON.stringify({
          jsonrpc: '2.0', id: `ed-${n++}`, method: 'icotes/files/edit', params: { path: 'a.txt', edits: [{ oldString: 'open', newString: 'shut' }] },
        }), 10000);
        assert.ok(edit, `no answer to the edit after applyEdit answered ${JSON.stringify({ applied: v })}`);
        assert.equal(edit.error?.code, -32003, JSON.stringify(edit));
      }
      const write = await client.request(`wr-${n}`, JSON.stringify({
        jsonrpc: '2.0', id: `wr-${n++}`, method: 'icotes/files/write', params: { path: 'new.txt', content: 'x' },
      }), 10000);
      assert.ok(write, `no answer to the write after showMessageRequest answered ${JSON.stringify({ title: v })}`);
      assert.ok(write.error, `the write was not denied: ${JSON.stringify(write)}`);
    }
    assert.deepEqual([...seen].sort(), ['window/showMessageRequest', 'workspace/applyEdit']);
    assert.deepEqual(client.caught, []);
    assertSameTree(tree(root), before, 'after the refused edits and writes');
  }));

  test('MCP 2026-07-28: _meta, inputResponses and subscriptions/listen, every type of value', () => withClient(root, {}, async (client) => {
    const META = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'hostile', version: '1' },
      'io.modelcontextprotocol/logLevel': 'debug',
    };
    const uri = pathToFileURL(path.join(root, 'a.txt')).href;
    const first = await client.request('d', JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: META } }), 10000);
    assert.ok(first, 'server/discover answered');
    const templates = [
      ['tools/list', { _meta: META }],
      ['tools/call', { name: 'write_file', arguments: { path: 'w.txt', content: 'x' }, _meta: META,
        inputResponses: { permission: { action: 'decline', content: { decision: 'once' } } } }],
      ['resources/read', { uri, _meta: META }],
      ['subscriptions/listen', { notifications: { resourcesListChanged: true, toolsListChanged: true, resourceSubscriptions: [uri] }, _meta: META },
        { stream: true }],
    ];
    const { problems, n } = await sweep(client, templates, 'notifications/cancelled', 's');
    assert.ok(n > 300, `only ${n} variants were sent`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
    await alive(client, 'server/discover', 's');
    assert.equal(fs.existsSync(path.join(root, 'w.txt')), false, 'nothing was allowed to write');
  }));

  test('plain JSON-RPC: numbers no double holds are parse errors, anywhere, and the server goes on', () => withClient(root, {}, async (client) => {
    const texts = [
      ['1', '{"jsonrpc":"2.0","id":"1","method":"icotes/files/read","params":{"path":"a.txt","limit":1e400}}'],
      // A batch that cannot be parsed: id null (JSON-RPC 2.0 section 6).
      [null, '[{"jsonrpc":"2.0","id":"2","method":"ping","params":{"x":-1e999}}]'],
      [null, '{"jsonrpc":"2.0","id":1e400,"method":"ping"}'],
    ];
    for (const [id, text] of texts) {
      const reply = await client.request(id, text, 10000);
      assert.ok(reply, `no answer to ${text}; exit: ${JSON.stringify(client.exit)}; stderr: ${client.stderr}`);
      assert.equal(reply.error?.code, -32700, JSON.stringify(reply));
    }
    const r = await client.request('ok', '{"jsonrpc":"2.0","id":"ok","method":"icotes/files/read","params":{"path":"a.txt"}}', 10000);
    assert.equal(r?.result?.content, 'alpha\nbeta\n', JSON.stringify(r));
  }));
});
