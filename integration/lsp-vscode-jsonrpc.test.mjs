// vscode-jsonrpc (the library under VS Code's language client) speaking LSP
// with Content-Length framing to `icotes serve` over the child's stdio: the
// lifecycle, the documents overlay (unsaved text wins over the disk),
// edits arriving as workspace/applyEdit, executeCommand, cancellation,
// $/progress, shutdown + exit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CancellationTokenSource, ProgressType, ResponseError, StreamMessageReader, StreamMessageWriter,
  createMessageConnection,
} from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, sha256, tempDir, withTimeout } from './helpers.mjs';

const T = 10000;  // bound for every request

// Offset in a JS (UTF-16) string of an LSP position with utf-16 encoding.
function offsetAt(text, { line, character }) {
  let off = 0;
  for (let l = 0; l < line; ++l) {
    const nl = text.indexOf('\n', off);
    assert.ok(nl >= 0, `line ${line} exists`);
    off = nl + 1;
  }
  const end = text.indexOf('\n', off);
  assert.ok(character <= (end < 0 ? text.length : end) - off, `character ${character} is inside line ${line}`);
  return off + character;
}

function positionAt(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

function applyTextEdits(text, edits) {
  // LSP: ranges refer to the original text; apply from the end.
  const sorted = [...edits].sort((a, b) => offsetAt(text, b.range.start) - offsetAt(text, a.range.start));
  for (const e of sorted) {
    text = text.slice(0, offsetAt(text, e.range.start)) + e.newText + text.slice(offsetAt(text, e.range.end));
  }
  return text;
}

describe('vscode-jsonrpc LSP client', { timeout: 60000 }, () => {
  let tmp;
  let child;
  let conn;
  let stderr = '';
  let exitPromise;
  const logs = [];
  const applyEdits = [];
  let applyEditAnswer = 'apply';  // 'apply' | 'refuse'
  // The client's open document.
  const doc = { uri: '', version: 1, text: '' };
  const DISK = 'héllo 🌍 world\nsecond line\nthird 𝄞 line\n';

  before(async () => {
    tmp = tempDir('lsp');
    fs.writeFileSync(path.join(tmp, 'doc.txt'), DISK);
    fs.writeFileSync(path.join(tmp, 'other.txt'), 'not open\n');
    doc.uri = pathToFileURL(path.join(tmp, 'doc.txt')).href;
    child = spawn(requireBinary(), ['serve', '--standalone', '--root', tmp, '--permission-mode', 'acceptEdits'], {
      env: { ...process.env, ICOTES_TEST_OPERATIONS: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stderr.on('data', (d) => { stderr += d; });
    exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onNotification('window/logMessage', (p) => logs.push(p));
    conn.onRequest('workspace/applyEdit', (params) => {
      applyEdits.push(params);
      if (applyEditAnswer === 'refuse') return { applied: false, failureReason: 'the user said no' };
      const changes = params.edit.documentChanges;
      assert.ok(Array.isArray(changes), 'documentChanges, as the client announced');
      for (const change of changes) {
        assert.equal(change.textDocument.uri, doc.uri);
        assert.equal(change.textDocument.version, doc.version, 'the edit targets the current version');
        const contentChanges = [...change.edits]
          .sort((a, b) => offsetAt(doc.text, b.range.start) - offsetAt(doc.text, a.range.start))
          .map((e) => ({ range: e.range, text: e.newText }));
        doc.text = applyTextEdits(doc.text, change.edits);
        doc.version += 1;
        // Like VS Code: the buffer changed, so didChange follows.
        conn.sendNotification('textDocument/didChange', {
          textDocument: { uri: doc.uri, version: doc.version }, contentChanges,
        });
      }
      return { applied: true };
    });
    conn.listen();
  });

  after(async () => {
    try {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      conn?.dispose();
    } finally {
      removeDir(tmp);
    }
  });

  // (vscode-jsonrpc sends extra arguments as positional params: pass only what is given.)
  const request = (method, ...args) => withTimeout(conn.sendRequest(method, ...args), T, method);
  const readDisk = () => fs.readFileSync(path.join(tmp, 'doc.txt'), 'utf8');

  test('a request before initialize is refused with -32002', async () => {
    await assert.rejects(request('icotes/files/read', { path: 'doc.txt' }), (e) => e.code === -32002);
  });

  test('initialize: utf-16 positions, incremental sync, every operation as a command', async () => {
    const r = await request('initialize', {
      processId: process.pid,
      clientInfo: { name: 'vscode-jsonrpc integration test', version: '8.2.1' },
      rootUri: pathToFileURL(tmp).href,
      workspaceFolders: [{ uri: pathToFileURL(tmp).href, name: 'tmp' }],
      capabilities: {
        general: { positionEncodings: ['utf-16'] },
        workspace: { applyEdit: true, workspaceEdit: { documentChanges: true } },
        window: { workDoneProgress: true },
      },
    });
    const caps = r.capabilities;
    assert.equal(caps.positionEncoding, 'utf-16');
    const sync = typeof caps.textDocumentSync === 'number' ? { change: caps.textDocumentSync } : caps.textDocumentSync;
    assert.equal(sync.change, 2, 'incremental sync');
    assert.equal(sync.openClose, true);
    for (const c of ['icotes.files.read', 'icotes.files.edit', 'icotes.files.stat', 'icotes.files.write'])
      assert.ok(caps.executeCommandProvider.commands.includes(c), `command ${c}`);
    assert.equal(r.serverInfo.name, 'icotes');
    await assert.rejects(request('initialize', { processId: null, rootUri: null, capabilities: {} }), (e) => e.code === -32600);
    await conn.sendNotification('initialized', {});
  });

  test('didOpen + incremental didChange: icotes/files/read returns the unsaved text', async () => {
    doc.text = DISK;
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: doc.uri, languageId: 'plaintext', version: doc.version, text: doc.text },
    });
    // Replace "world" (after an astral char: utf-16 columns differ from code points and bytes).
    const start = doc.text.indexOf('world');
    const range = { start: positionAt(doc.text, start), end: positionAt(doc.text, start + 5) };
    assert.deepEqual(range.start, { line: 0, character: 9 });
    doc.text = `${doc.text.slice(0, start)}wörld 🚀${doc.text.slice(start + 5)}`;
    // And append a line at the end, in a second change of the same notification.
    const endPos = positionAt(doc.text, doc.text.length);
    doc.text += 'unsaved line\n';
    doc.version += 1;
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: doc.uri, version: doc.version },
      contentChanges: [{ range, text: 'wörld 🚀' }, { range: { start: endPos, end: endPos }, text: 'unsaved line\n' }],
    });
    const r = await request('icotes/files/read', { path: 'doc.txt' });
    assert.equal(r.source, 'editor');
    assert.equal(r.content, doc.text);
    assert.equal(r.sha256, sha256(doc.text));
    assert.equal(r.totalLines, 4);
    assert.equal(readDisk(), DISK, 'the disk is unchanged');
    // Absolute paths inside the root work too.
    const abs = await request('icotes/files/read', { path: path.join(tmp, 'doc.txt') });
    assert.equal(abs.content, doc.text);
    assert.deepEqual(logs.filter((l) => l.type <= 2), [], 'no errors or warnings logged');
  });

  test('icotes/files/edit on the open document arrives as workspace/applyEdit', async () => {
    const before = doc.text;
    const r = await request('icotes/files/edit', {
      path: 'doc.txt', edits: [{ oldString: 'third 𝄞 line', newString: 'THIRD 😀 LINE' }],
    });
    assert.equal(applyEdits.length, 1, 'one workspace/applyEdit');
    assert.equal(r.via, 'editor');
    assert.equal(r.applied, true);
    assert.equal(doc.text, before.replace('third 𝄞 line', 'THIRD 😀 LINE'), 'the client buffer got the edit');
    assert.equal(r.sha256, sha256(doc.text));
    assert.equal(readDisk(), DISK, 'the disk is still unchanged');
    const read = await request('icotes/files/read', { path: 'doc.txt' });
    assert.equal(read.source, 'editor');
    assert.equal(read.content, doc.text);

    // write_file on the open document goes to the editor as well.
    const w = await request('icotes/files/write', { path: 'doc.txt', content: 'all new\n' });
    assert.equal(w.via, 'editor');
    assert.equal(doc.text, 'all new\n');
    assert.equal((await request('icotes/files/read', { path: 'doc.txt' })).content, 'all new\n');
    assert.equal(readDisk(), DISK, 'the disk is still unchanged');
  });

  test('workspace/applyEdit answered {applied:false} fails the request; nothing changes', async () => {
    applyEditAnswer = 'refuse';
    const before = doc.text;
    const n = applyEdits.length;
    try {
      await assert.rejects(
        request('icotes/files/edit', { path: 'doc.txt', edits: [{ oldString: 'all new', newString: 'refused' }] }),
        (e) => e instanceof ResponseError && /refused|did not apply|user said no/.test(e.message));
    } finally {
      applyEditAnswer = 'apply';
    }
    assert.equal(applyEdits.length, n + 1);
    assert.equal(doc.text, before);
    assert.equal((await request('icotes/files/read', { path: 'doc.txt' })).content, before);
    assert.equal(readDisk(), DISK);
  });

  test('edits of files that are not open go to the disk', async () => {
    const n = applyEdits.length;
    const r = await request('icotes/files/edit', { path: 'other.txt', edits: [{ oldString: 'not open', newString: 'edited on disk' }] });
    assert.equal(r.via, 'disk');
    assert.equal(applyEdits.length, n);
    assert.equal(fs.readFileSync(path.join(tmp, 'other.txt'), 'utf8'), 'edited on disk\n');
  });

  test('workspace/executeCommand icotes.files.stat and icotes.files.read', async () => {
    const st = await request('workspace/executeCommand', { command: 'icotes.files.stat', arguments: [{ path: 'doc.txt' }] });
    assert.equal(st.type, 'file');
    assert.equal(st.openInEditor, true);
    assert.equal(st.size, Buffer.byteLength(DISK));
    const rd = await request('workspace/executeCommand', { command: 'icotes.files.read', arguments: [{ path: 'doc.txt' }] });
    assert.equal(rd.content, doc.text);
    await assert.rejects(request('workspace/executeCommand', { command: 'icotes.no.such', arguments: [] }), (e) => e.code === -32602);
    await assert.rejects(request('icotes/files/read', { path: 'doc.txt', limit: 'ten' }),
      (e) => e.code === -32602 && /limit/.test(e.message));
    await assert.rejects(request('icotes/no/such', {}), (e) => e.code === -32601);
  });

  test('cancellation: $/cancelRequest rejects a long request with -32800 quickly', async () => {
    const source = new CancellationTokenSource();
    const started = Date.now();
    const pending = request('icotes/test/sleep', { ms: 5000 }, source.token);
    setTimeout(() => source.cancel(), 100);
    await assert.rejects(pending, (e) => e.code === -32800);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `cancelled after ${elapsed} ms`);
    // The connection keeps working.
    assert.equal((await request('icotes/files/read', { path: 'doc.txt' })).source, 'editor');
  });

  test('$/progress with a workDoneToken: begin, reports, end', async () => {
    const token = 'integration-progress-1';
    const values = [];
    const disposable = conn.onProgress(new ProgressType(), token, (v) => values.push(v));
    try {
      const r = await request('icotes/test/sleep', { ms: 200, workDoneToken: token });
      assert.ok(r.sleptMs >= 200);
      // Notifications sent before the response are read before it; allow a moment anyway.
      for (let i = 0; i < 50 && values.at(-1)?.kind !== 'end'; ++i) await new Promise((res) => setTimeout(res, 10));
    } finally {
      disposable.dispose();
    }
    assert.ok(values.length >= 3, JSON.stringify(values));
    assert.equal(values[0].kind, 'begin');
    assert.equal(typeof values[0].title, 'string');
    assert.equal(values.at(-1).kind, 'end');
    const reports = values.slice(1, -1);
    assert.ok(reports.length >= 1 && reports.every((v) => v.kind === 'report'), JSON.stringify(values));
    const pct = reports.map((v) => v.percentage).filter((p) => p !== undefined);
    for (let i = 1; i < pct.length; ++i) assert.ok(pct[i] >= pct[i - 1], 'percentages do not go back');
    assert.ok(pct.every((p) => p >= 0 && p <= 100));
  });

  test('didClose: reads come from the disk again', async () => {
    await conn.sendNotification('textDocument/didClose', { textDocument: { uri: doc.uri } });
    const r = await request('icotes/files/read', { path: 'doc.txt' });
    assert.equal(r.source, 'disk');
    assert.equal(r.content, DISK);
  });

  test('shutdown + exit: the process exits with code 0', async () => {
    assert.equal(await request('shutdown'), null);
    await assert.rejects(request('icotes/files/read', { path: 'doc.txt' }), (e) => e.code === -32600);
    await conn.sendNotification('exit');
    const exit = await withTimeout(exitPromise, 5000, 'process exit');
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${stderr}`);
  });
});

// Offsets with utf-8 positions: character counts bytes of the line.
function utf8Offset(text, { line, character }) {
  const lines = text.split('\n');
  assert.ok(line < lines.length, `line ${line} exists`);
  const before = lines.slice(0, line).join('\n') + (line > 0 ? '\n' : '');
  const lineBytes = Buffer.from(lines[line]);
  assert.ok(character <= lineBytes.length, `character ${character} is inside line ${line}`);
  const head = lineBytes.subarray(0, character).toString('utf8');
  assert.equal(Buffer.byteLength(head), character, 'the position is on a character boundary');
  return before.length + head.length;
}

describe('vscode-jsonrpc LSP client offering utf-8, without documentChanges', { timeout: 30000 }, () => {
  let tmp;
  let child;
  let conn;
  let exitPromise;
  const doc = { uri: '', version: 0, text: 'αβγ 🌍 δ\nzweite Zeile ü\n' };
  const edits = [];

  before(async () => {
    tmp = tempDir('lsp8');
    fs.writeFileSync(path.join(tmp, 'u.txt'), doc.text);
    doc.uri = pathToFileURL(path.join(tmp, 'u.txt')).href;
    child = spawn(requireBinary(), ['serve', '--standalone', '--root', tmp, '--permission-mode', 'acceptEdits'], { stdio: ['pipe', 'pipe', 'ignore'] });
    exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onRequest('workspace/applyEdit', (params) => {
      edits.push(params);
      const list = params.edit.changes?.[doc.uri];
      assert.ok(Array.isArray(list), 'edit.changes keyed by URI (no documentChanges support announced)');
      const sorted = [...list].sort((a, b) => utf8Offset(doc.text, b.range.start) - utf8Offset(doc.text, a.range.start));
      const contentChanges = sorted.map((e) => ({ range: e.range, text: e.newText }));
      for (const e of sorted) {
        doc.text = doc.text.slice(0, utf8Offset(doc.text, e.range.start)) + e.newText + doc.text.slice(utf8Offset(doc.text, e.range.end));
      }
      doc.version += 1;
      conn.sendNotification('textDocument/didChange', { textDocument: { uri: doc.uri, version: doc.version }, contentChanges });
      return { applied: true };
    });
    conn.listen();
  });
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    conn?.dispose();
    removeDir(tmp);
  });
  const request = (method, ...args) => withTimeout(conn.sendRequest(method, ...args), T, method);

  test('utf-8 is chosen when offered; byte columns in didChange and applyEdit', async () => {
    const r = await request('initialize', {
      processId: null, rootUri: pathToFileURL(tmp).href,
      capabilities: { general: { positionEncodings: ['utf-8', 'utf-16'] }, workspace: { applyEdit: true } },
    });
    assert.equal(r.capabilities.positionEncoding, 'utf-8');
    await conn.sendNotification('initialized', {});
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: doc.uri, languageId: 'plaintext', version: 0, text: doc.text } });
    // Replace "δ" (line 0, bytes 12..14 after "αβγ 🌍 ": 6 + 1 + 4 + 1).
    doc.version = 1;
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: doc.uri, version: 1 },
      contentChanges: [{ range: { start: { line: 0, character: 12 }, end: { line: 0, character: 14 } }, text: 'DELTA' }],
    });
    doc.text = doc.text.replace('δ', 'DELTA');
    const read = await request('icotes/files/read', { path: 'u.txt' });
    assert.equal(read.content, 'αβγ 🌍 DELTA\nzweite Zeile ü\n');
    assert.equal(read.source, 'editor');

    const ed = await request('icotes/files/edit', { path: 'u.txt', edits: [{ oldString: 'Zeile ü', newString: 'Zeile 😀 ö' }] });
    assert.equal(ed.via, 'editor');
    assert.equal(edits.length, 1);
    assert.equal(doc.text, 'αβγ 🌍 DELTA\nzweite Zeile 😀 ö\n');
    assert.equal((await request('icotes/files/read', { path: 'u.txt' })).content, doc.text);
    assert.equal(fs.readFileSync(path.join(tmp, 'u.txt'), 'utf8'), 'αβγ 🌍 δ\nzweite Zeile ü\n', 'the disk is unchanged');

    await request('shutdown');
    await conn.sendNotification('exit');
    assert.deepEqual(await withTimeout(exitPromise, 5000, 'exit'), { code: 0, signal: null });
  });
});
