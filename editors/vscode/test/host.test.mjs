// The extension host side against the real binary: the extension's own
// modules (out/, `npm run compile`) on a vscode-jsonrpc connection (the
// transport vscode-languageclient runs on) to `icotes serve --stdio --root
// WS` as the extension starts it, with VS Code's UI replaced by recorders:
//  - an MCP SDK client (integration/nvim/mcp-client.mjs) reads the editor's
//    unsaved text; its edit_file asks a permission question that arrives as
//    window/showMessageRequest, is shown as the notification the extension
//    shows (its wording and buttons), answered by "clicking" Allow once, and
//    the edit arrives as workspace/applyEdit on the open document (disk
//    unchanged);
//  - `icotes open` reaches the editor as window/showDocument;
//  - the terminal (TerminalRouter, as the Pseudoterminal uses it): creating
//    it asks for Bash, typed keys run, the output arrives, terminal_read of
//    an MCP client sees the same output;
//  - the status text from icotes/workspace/info and icotes/permissions/list;
//  - icotes/editor/context: the server advertises it, so 'auto' sends it;
//    an MCP client then reads the selection with editor_context.
// Needs ICOTES_BINARY; node resolves the MCP SDK from integration/node_modules.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const rpc = require('vscode-jsonrpc/node');
const logic = require('../out/logic.js');
const { answerQuestion } = require('../out/questions.js');
const { TerminalRouter } = require('../out/terminal.js');

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '../../..');
const mcpClient = path.join(source, 'integration/nvim/mcp-client.mjs');
const bin = process.env.ICOTES_BINARY;

let tmp, ws, env, server, conn, initResult;
const questions = []; // what the notification showed
const edits = []; // workspace/applyEdit params
const shown = []; // window/showDocument params
let click = 'Allow once'; // the button the "user" clicks
const docUri = () => pathToFileURL(path.join(ws, 'src/main.c')).href;
let docText = '';
let docVersion = 1;

function until(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = pred();
      if (v) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function mcp(steps) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [mcpClient, ws, JSON.stringify(steps)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`mcp-client exited ${code}: ${out}`));
      resolve(out.trim().split('\n').map((l) => JSON.parse(l)));
    });
  });
}

// A text edit applied as VS Code applies it (line/UTF-16 positions).
function applyTextEdit(text, e) {
  const lines = text.split('\n');
  const off = (p) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return text.slice(0, off(e.range.start)) + e.newText + text.slice(off(e.range.end));
}

before(async () => {
  assert.ok(bin, 'ICOTES_BINARY is not set');
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'icotes-vscode-')));
  ws = path.join(tmp, 'ws');
  fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'run'), { mode: 0o700 });
  fs.writeFileSync(path.join(ws, 'src/main.c'), 'int main(void) {\n  return 0;\n}\n');
  env = { ...process.env, XDG_RUNTIME_DIR: path.join(tmp, 'run'), XDG_STATE_HOME: path.join(tmp, 'state'), SHELL: '/bin/sh' };
  // As the extension starts it (icotes.path, icotes.args).
  server = spawn(bin, logic.serverArgs({ args: [] }, ws), { cwd: ws, env, stdio: ['pipe', 'pipe', 'inherit'] });
  conn = rpc.createMessageConnection(new rpc.StreamMessageReader(server.stdout), new rpc.StreamMessageWriter(server.stdin));
  conn.onRequest('window/showMessageRequest', (params, token) =>
    answerQuestion(
      params,
      {
        notify: async (text, buttons) => (questions.push({ text, buttons, message: params.message }), click),
        pick: async () => undefined,
      },
      token,
    ),
  );
  conn.onRequest('workspace/applyEdit', (params) => {
    edits.push(params);
    const changes = params.edit.documentChanges
      ? params.edit.documentChanges.filter((c) => c.textDocument?.uri === docUri()).flatMap((c) => c.edits)
      : params.edit.changes?.[docUri()] ?? [];
    // Applied from the end, as a WorkspaceEdit's edits are non-overlapping.
    const sorted = [...changes].sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character);
    for (const e of sorted) docText = applyTextEdit(docText, e);
    docVersion++;
    conn.sendNotification('textDocument/didChange', { textDocument: { uri: docUri(), version: docVersion }, contentChanges: [{ text: docText }] });
    return { applied: true };
  });
  conn.onRequest('window/showDocument', (params) => (shown.push(params), { success: true }));
  const events = new TerminalRouter();
  conn.onNotification('icotes/event', (p) => events.onEvent(p));
  conn.events = events;
  conn.listen();
  initResult = await conn.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'Visual Studio Code', version: '1.101.0' },
    rootUri: pathToFileURL(ws).href,
    workspaceFolders: [{ uri: pathToFileURL(ws).href, name: 'ws' }],
    initializationOptions: logic.initializationOptions(''),
    capabilities: {
      workspace: { applyEdit: true, workspaceEdit: { documentChanges: true } },
      window: { showDocument: { support: true }, showMessage: { messageActionItem: { additionalPropertiesSupport: true } } },
      general: { positionEncodings: ['utf-16'] },
    },
  });
  conn.sendNotification('initialized', {});
});

after(async () => {
  try {
    await Promise.race([conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 3000))]);
    await conn.sendNotification('exit').catch(() => {});
  } catch {}
  conn.dispose();
  server?.kill();
  try {
    execFileSync(bin, ['daemon', 'stop', '--root', ws], { env, stdio: 'ignore', timeout: 10000 });
  } catch {}
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('editor context: the server advertises it, so auto sends it', () => {
  assert.equal(logic.contextEnabled('auto', initResult.capabilities), true);
  assert.equal(logic.contextEnabled('off', initResult.capabilities), false);
});

test('unsaved text read by an MCP client; its edit asks through a notification, then arrives as workspace/applyEdit', async () => {
  docText = 'int main(void) {\n  /* unsaved */\n  return 0;\n}\n';
  conn.sendNotification('textDocument/didOpen', { textDocument: { uri: docUri(), languageId: 'c', version: docVersion, text: docText } });
  const [read, edit] = await mcp([
    { tool: 'read_file', args: { path: 'src/main.c' } },
    { tool: 'edit_file', args: { path: 'src/main.c', edits: [{ oldString: 'return 0;', newString: 'return 42;' }] } },
  ]);
  assert.ok(!read.isError && read.text.includes('/* unsaved */'), `read_file sees the unsaved text: ${read.text}`);
  assert.equal(questions.length, 1, JSON.stringify(questions));
  const q = questions[0];
  assert.match(q.text, /^icotes: mcp:nvim-plugin-test wants to files\/edit src\/main\.c \(EditFile\)$/, q.text);
  assert.deepEqual(q.buttons, ['Allow once', 'Allow this session', 'Deny', logic.MORE]);
  assert.ok(!edit.isError, `edit_file ran after the answer: ${edit.text}`);
  assert.equal(edits.length, 1, 'one workspace/applyEdit');
  assert.equal(docText, 'int main(void) {\n  /* unsaved */\n  return 42;\n}\n');
  assert.equal(fs.readFileSync(path.join(ws, 'src/main.c'), 'utf8'), 'int main(void) {\n  return 0;\n}\n', 'disk unchanged');
});

test('a Deny click denies the MCP call', async () => {
  click = 'Deny';
  const before = questions.length;
  const [w] = await mcp([{ tool: 'write_file', args: { path: 'denied.txt', content: 'x' } }]);
  click = 'Allow once';
  assert.equal(questions.length, before + 1);
  assert.ok(w.isError, `write_file denied: ${w.text}`);
  assert.ok(!fs.existsSync(path.join(ws, 'denied.txt')));
});

test('icotes open reaches the editor as window/showDocument', async () => {
  // Not execFileSync: this process answers the request meanwhile.
  const open = new Promise((resolve, reject) =>
    execFile(bin, ['open', '--root', ws, `${ws}/src/main.c:2:3`], { env, timeout: 20000 }, (e) => (e ? reject(e) : resolve())),
  );
  await open;
  await until(() => shown.length, 5000, 'window/showDocument');
  assert.equal(shown[0].uri, docUri());
  assert.deepEqual(shown[0].selection?.start, { line: 1, character: 2 });
});

test('terminal: creating asks for Bash; keys typed run; an MCP client reads the same terminal', async () => {
  const before = questions.length;
  let out = '';
  let exited;
  const t = conn.events.create({ request: (m, p) => conn.sendRequest(m, p) }, { output: (s) => (out += s), exit: (c, how) => (exited = how) });
  const id = await t.open(90, 20);
  assert.equal(questions.length, before + 1);
  assert.match(questions.at(-1).text, /^icotes: .+ wants to run `.+` \(terminal\/create, Bash\)$/, questions.at(-1).text);
  await t.write('echo icotes-term-$((6*7))\r');
  await until(() => out.includes('icotes-term-42'), 10000, `the output (got ${JSON.stringify(out)})`);
  const [r] = await mcp([{ tool: 'terminal_read', args: { id } }]);
  assert.ok(r.text.includes('icotes-term-42'), `terminal_read: ${r.text}`);
  await t.resize(100, 30);
  const list = await conn.sendRequest('icotes/terminal/list', {});
  const mine = list.terminals.find((x) => x.id === id);
  assert.equal(mine.cols ?? mine.size?.cols, 100, JSON.stringify(mine));
  await t.write('exit\r');
  await until(() => exited, 10000, 'the exit event');
  await t.close();
});

test('status text from workspace/info and permissions/list', async () => {
  const info = await conn.sendRequest('icotes/workspace/info', {});
  const perms = await conn.sendRequest('icotes/permissions/list', {});
  const s = logic.statusText({ state: 'connected', folders: 1, clients: info.clients.length, mode: perms.mode });
  assert.equal(s.text, '$(check) icotes: default');
  execFileSync(bin, ['permissions', 'mode', 'acceptEdits', '--root', ws], { env, timeout: 10000 });
  await conn.sendRequest('icotes/workspace/info', {});
  const after = await conn.sendRequest('icotes/permissions/list', {});
  assert.equal(after.mode, 'acceptEdits');
});

test('icotes/editor/context reaches an MCP client through editor_context', async () => {
  const ctx = logic.buildEditorContext({
    activeUri: docUri(),
    selections: [{ start: { line: 2, character: 2 }, end: { line: 2, character: 8 }, text: 'return' }],
    visibleRanges: [{ uri: docUri(), range: { start: { line: 0, character: 0 }, end: { line: 3, character: 1 } } }],
    openTabs: [docUri()],
    diagnostics: [],
    roots: [pathToFileURL(ws).href],
  });
  conn.sendNotification('icotes/editor/context', ctx);
  await conn.sendRequest('icotes/workspace/info', {});  // the notification is handled before this answer
  const [read] = await mcp([{ tool: 'editor_context', args: {} }]);
  assert.ok(!read.isError, read.text);
  assert.match(read.text, /src\/main\.c:3:3-3:9 \(selected\)/);
  assert.match(read.text, /return/);
});
