// Terminals through real clients:
//  - the MCP SDK client drives a Python REPL with terminal_write and
//    terminal_read's waitFor, and reads nvim's screen as rendered text;
//  - a vscode-jsonrpc (LSP) client subscribes to terminal/*/output and gets
//    the output and the exit as icotes/event notifications.
// Terminals are allowed with `--allow Bash` (nobody is asked).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 30000;  // every request is bounded

describe('MCP SDK client', { timeout: 180000 }, () => {
  let root;
  let client;
  before(async () => {
    root = tempDir('terminal-mcp');
    fs.writeFileSync(path.join(root, 'notes.txt'), 'first line\nsecond line\n');
    const transport = new StdioClientTransport({
      command: requireBinary(),
      args: ['serve', '--standalone', '--root', root, '--allow', 'Bash', '--structured-output'],
      env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
      stderr: 'pipe',
    });
    client = new Client({ name: 'terminal-test', version: '1.0.0' }, { capabilities: {} });
    await client.connect(transport, { timeout: T });
  });
  after(async () => {
    await client?.close();
    removeDir(root);
  });

  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout: T });
    assert.ok(!r.isError, `${name}: ${r.content?.[0]?.text}`);
    return r.structuredContent;
  };

  test('the terminal tools are listed with their permission-relevant hints', async () => {
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
    for (const name of ['terminal_create', 'terminal_write', 'terminal_read', 'terminal_resize', 'terminal_kill', 'terminal_list'])
      assert.ok(tools.has(name), name);
    assert.equal(tools.get('terminal_read').annotations.readOnlyHint, true);
    assert.equal(tools.get('terminal_list').annotations.readOnlyHint, true);
    assert.deepEqual(tools.get('terminal_read').inputSchema.properties.mode.enum, ['screen', 'scrollback', 'raw']);
  });

  test('a Python REPL answers 2+3 with 5', async () => {
    const made = await call('terminal_create', { shell: 'python3', args: ['-i', '-q'] });
    assert.match(made.id, /^\d+$/);
    assert.equal(made.command, 'python3 -i -q');
    assert.equal(made.alive, true);
    const prompt = await call('terminal_read', { id: made.id, mode: 'raw', since: 0, waitFor: { regex: '^>>> ', timeoutMs: 20000 } });
    assert.equal(prompt.wait.result, 'matched');
    const written = await call('terminal_write', { id: made.id, data: '2+3\n' });
    assert.equal(written.bytes, 4);
    assert.equal(written.offset, prompt.offset);
    // No since: the answer is looked for after the last write.
    // Up to the next prompt, so the screen holds it too.
    const answer = await call('terminal_read', { id: made.id, waitFor: { regex: '^(\\d+)\\n>>> ', timeoutMs: 20000 } });
    assert.equal(answer.wait.result, 'matched');
    assert.equal(answer.wait.match, '5\n>>> ');
    assert.equal(answer.mode, 'screen');
    assert.deepEqual(answer.lines.slice(0, 3), ['>>> 2+3', '5', '>>>']);
    // What the REPL wrote, byte for byte, is in the raw stream.
    const raw = await call('terminal_read', { id: made.id, mode: 'raw', since: written.offset });
    assert.ok(raw.data.startsWith('2+3\r\n5\r\n>>> '), JSON.stringify(raw.data));
    // Ctrl-D ends it: exit code 0.
    await call('terminal_write', { id: made.id, data: '\u0004' });
    const ended = await call('terminal_read', { id: made.id, waitFor: { timeoutMs: 20000 } });
    assert.equal(ended.wait.result, 'exited');
    assert.equal(ended.alive, false);
    assert.equal(ended.exitCode, 0);
    const late = await client.callTool({ name: 'terminal_write', arguments: { id: made.id, data: '1\n' } }, undefined, { timeout: T });
    assert.equal(late.isError, true);
    assert.match(late.content[0].text, /has exited \(exit code 0\)/);
  });

  test('nvim --clean renders as text, then :q! leaves an exited terminal', async () => {
    const made = await call('terminal_create', { shell: 'nvim', args: ['--clean', 'notes.txt'], cols: 80, rows: 24 });
    const shown = await call('terminal_read', {
      id: made.id, waitFor: { regex: '^notes\\.txt +1,1 +All$', on: 'screen', timeoutMs: 20000 },
    });
    assert.equal(shown.wait.result, 'matched', JSON.stringify(shown.lines));
    assert.equal(shown.altScreen, true);
    assert.equal(shown.lines.length, 24);
    assert.equal(shown.lines[0], 'first line');
    assert.equal(shown.lines[1], 'second line');
    for (let row = 2; row < 22; ++row) assert.equal(shown.lines[row], '~', `row ${row}`);
    // nvim's status line (laststatus=2): the file name, the ruler; then an
    // empty command line.
    assert.match(shown.lines[22], /^notes\.txt {20,}1,1 {6,}All$/);
    assert.equal(shown.lines[23], '');
    assert.deepEqual(shown.cursor, { row: 0, col: 0, visible: true });
    // Editing shows on the screen: jump to the end of line 2 and type.
    await call('terminal_write', { id: made.id, data: 'jAX\u001b' });
    const edited = await call('terminal_read', { id: made.id, waitFor: { regex: '^second lineX$', on: 'screen', timeoutMs: 20000 } });
    assert.equal(edited.wait.result, 'matched');
    assert.equal(edited.lines[1], 'second lineX');
    await call('terminal_write', { id: made.id, data: ':q!\r' });
    const gone = await call('terminal_read', { id: made.id, waitFor: { timeoutMs: 20000 } });
    assert.equal(gone.wait.result, 'exited');
    assert.equal(gone.alive, false);
    assert.equal(gone.exitCode, 0);
    assert.equal(fs.readFileSync(path.join(root, 'notes.txt'), 'utf8'), 'first line\nsecond line\n');
    const listed = (await call('terminal_list', {})).terminals.find((t) => t.id === made.id);
    assert.equal(listed.alive, false);
    assert.equal(listed.command, 'nvim --clean notes.txt');
  });

  test('a cwd outside the workspace is refused', async () => {
    const r = await client.callTool({ name: 'terminal_create', arguments: { shell: '/bin/sh', cwd: '../' } }, undefined, { timeout: T });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /cwd/);
  });
});

describe('LSP client (vscode-jsonrpc) subscribed to terminal events', { timeout: 120000 }, () => {
  let root;
  let child;
  let conn;
  const events = [];
  let onEvent = () => {};
  before(async () => {
    root = tempDir('terminal-lsp');
    child = spawn(requireBinary(), ['serve', '--standalone', '--root', root, '--allow', 'Bash', '--structured-output'], {
      env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onNotification('icotes/event', (e) => {
      events.push(e);
      onEvent();
    });
    conn.listen();
    await withTimeout(conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(root).href, capabilities: {} }), T, 'initialize');
    conn.sendNotification('initialized', {});
  });
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    conn?.dispose();
    removeDir(root);
  });
  const request = (method, params) => withTimeout(conn.sendRequest(method, params), T, method);

  test('output and exit arrive as icotes/event notifications, in order', async () => {
    const sub = await request('icotes/events/subscribe', { topics: ['terminal/*/output', 'terminal/*/exit'] });
    assert.ok(sub);
    const exited = new Promise((resolve) => {
      onEvent = () => { if (events.some((e) => e.topic.endsWith('/exit'))) resolve(); };
    });
    const made = await request('icotes/terminal/create', {
      shell: '/bin/sh', args: ['-c', 'for i in 1 2 3; do echo line-$i; done; printf "\\303\\251t\\303\\251\\n"; exit 5'],
    });
    await withTimeout(exited, T, 'the exit event');
    const output = events.filter((e) => e.topic === `terminal/${made.id}/output`);
    assert.ok(output.length >= 1);
    let offset = 0;
    let text = '';
    output.forEach((e, i) => {
      assert.equal(e.seq, i + 1, 'per-topic sequence numbers from 1');
      assert.equal(e.data.offset, offset, 'offsets follow one another');
      offset += e.data.bytes;
      text += e.data.data;
    });
    assert.equal(text, 'line-1\r\nline-2\r\nline-3\r\nété\r\n');
    const exit = events.find((e) => e.topic === `terminal/${made.id}/exit`);
    assert.deepEqual(exit.data, { exitCode: 5, signal: null, offset });
    assert.equal(events.indexOf(exit), events.length - 1, 'the exit comes after the last output');
    // The LSP door reads the same terminal.
    const raw = await request('icotes/terminal/read', { id: made.id, mode: 'raw', since: 0 });
    assert.equal(raw.data, text);
    assert.equal(raw.exitCode, 5);
  });

  test('keystrokes sent as separate requests without waiting reach the terminal in order', async () => {
    // The daemon runs requests on a pool of workers: terminal/write is
    // serialBy its id, so 300 pipelined one-key writes arrive as sent.
    const made = await request('icotes/terminal/create', { shell: '/bin/sh', args: ['-c', 'cat > typed.txt'] });
    const keys = Array.from({ length: 300 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36]);
    const writes = keys.map((k) => request('icotes/terminal/write', { id: made.id, data: k }));
    writes.push(request('icotes/terminal/write', { id: made.id, data: '\n\u0004' }));
    const offsets = (await Promise.all(writes)).map((w) => w.offset);
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'each write after the one before');
    const ended = await request('icotes/terminal/read', { id: made.id, waitFor: { timeoutMs: 20000 } });
    assert.equal(ended.wait.result, 'exited');
    assert.equal(fs.readFileSync(path.join(root, 'typed.txt'), 'utf8'), keys.join('') + '\n');
  });
});
