// One daemon per workspace (`icotes serve --attach`): an editor
// (vscode-jsonrpc) and an AI (the MCP SDK client) launched at the same
// instant share one daemon, its buffers and edits; `icotes open` reaches the
// editor; a killed daemon is replaced by the next launch; an idle daemon
// exits and removes its socket.
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

const T = 15000;

// Daemons serving `root`: pids from /proc.
function daemons(root) {
  const out = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let args;
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (args.includes('--daemon') && args.includes(root)) out.push(Number(pid));
  }
  return out;
}

// `icotes ARGS` without blocking the event loop (the editor in this
// process must answer the daemon meanwhile).
function run(args, env) {
  return withTimeout(new Promise((resolve) => {
    const child = spawn(requireBinary(), args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  }), T, `icotes ${args.join(' ')}`);
}

async function until(predicate, what) {
  for (let i = 0; i < 150; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}: not within 15 s`);
}

function startEditor(root, env, args) {
  const child = spawn(requireBinary(), ['serve', '--attach', '--root', root, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const shown = [];
  const applied = [];
  conn.onRequest('window/showDocument', (p) => {
    shown.push(p);
    return { success: true };
  });
  conn.onRequest('workspace/applyEdit', (p) => {
    applied.push(p);
    return { applied: true };
  });
  conn.listen();
  return { child, conn, shown, applied };
}

describe('daemon per workspace', () => {
  let root, runtime, env;
  const args = ['--permission-mode', 'acceptEdits', '--idle-timeout', '1500', '--log-level', 'warn'];
  before(() => {
    root = fs.realpathSync(tempDir('daemon'));
    runtime = tempDir('daemon-run');
    fs.chmodSync(runtime, 0o700);
    env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    fs.writeFileSync(path.join(root, 'notes.txt'), 'line one\nline two\n');
  });
  after(() => {
    for (const pid of daemons(root)) process.kill(pid, 'SIGKILL');
    removeDir(root);
    removeDir(runtime);
  });

  test('an editor and an AI launched at once share one daemon, its buffers and edits; icotes open reaches the editor', async () => {
    const editor = startEditor(root, env, args);
    const client = new Client({ name: 'daemon-ai', version: '1.0.0' });
    const transport = new StdioClientTransport({ command: requireBinary(), args: ['serve', '--attach', '--root', root, ...args], env });
    const uri = pathToFileURL(path.join(root, 'notes.txt')).href;
    try {
      await Promise.all([
        withTimeout(editor.conn.sendRequest('initialize', {
          processId: null, rootUri: pathToFileURL(root).href, clientInfo: { name: 'test-editor' },
          capabilities: { window: { showDocument: { support: true } }, workspace: { applyEdit: true } },
        }), T, 'editor initialize'),
        withTimeout(client.connect(transport), T, 'AI connect'),
      ]);
      assert.equal(daemons(root).length, 1, 'two launches at the same instant start one daemon');
      assert.equal(fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock')).length, 1);
      await editor.conn.sendNotification('initialized', {});
      await editor.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'plaintext', version: 1, text: 'unsaved one\nline two\n' } });
      let text;
      for (let i = 0; i < 50; i++) {
        text = (await client.callTool({ name: 'read_file', arguments: { path: 'notes.txt' } })).content[0].text;
        if (text.includes('unsaved')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(text, /unsaved one/, "the AI reads the editor's unsaved buffer");
      const edit = await client.callTool({ name: 'edit_file', arguments: { path: 'notes.txt', edits: [{ oldString: 'unsaved', newString: 'edited' }] } });
      assert.ok(!edit.isError, JSON.stringify(edit));
      assert.equal(editor.applied.length, 1, "the AI's edit reached the editor as workspace/applyEdit");

      // icotes call goes to the daemon (same settings) and sees the buffer;
      // --in-process reads the disk.
      const viaDaemon = await run(['call', '--root', root, '--permission-mode', 'acceptEdits', 'files/read', '{"path":"notes.txt"}'], env);
      assert.equal(viaDaemon.status, 0, viaDaemon.stderr);
      assert.match(JSON.parse(viaDaemon.stdout).content, /unsaved one/);
      const local = await run(['call', '--in-process', '--root', root, '--permission-mode', 'acceptEdits', 'files/read', '{"path":"notes.txt"}'], env);
      assert.equal(local.status, 0, local.stderr);
      assert.equal(JSON.parse(local.stdout).content, 'line one\nline two\n');

      // icotes open FILE:LINE:COL, from a shell in a subdirectory-less cwd.
      const r = await run(['open', `${path.join(root, 'notes.txt')}:2:3`], env);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /test-editor shows/);
      assert.equal(editor.shown.length, 1);
      assert.equal(editor.shown[0].uri, uri);
      assert.equal(editor.shown[0].takeFocus, true);
      assert.deepEqual(editor.shown[0].selection.start, { line: 1, character: 2 });
    } finally {
      await client.close();
      editor.conn.dispose();
      editor.child.stdin.end();
    }
  });

  test('an idle daemon exits and removes its socket; a killed one is replaced by the next launch', async () => {
    await until(() => daemons(root).length === 0, 'the idle daemon exits');
    assert.equal(fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock')).length, 0);
    // A daemon killed outright leaves its socket behind.
    const first = startEditor(root, env, args);
    await withTimeout(first.conn.sendRequest('initialize', { processId: null, capabilities: {} }), T, 'initialize');
    const [pid] = daemons(root);
    assert.ok(pid);
    const exited = new Promise((resolve) => first.child.on('exit', resolve));
    process.kill(pid, 'SIGKILL');
    await withTimeout(exited, T, 'the launcher ends with its daemon');
    first.conn.dispose();
    assert.equal(fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock')).length, 1, 'stale socket left');
    const second = startEditor(root, env, args);
    try {
      const init = await withTimeout(second.conn.sendRequest('initialize', { processId: null, capabilities: {} }), T, 'initialize again');
      assert.equal(init.serverInfo.name, 'icotes');
      const pids = daemons(root);
      assert.equal(pids.length, 1);
      assert.notEqual(pids[0], pid);
    } finally {
      second.conn.dispose();
      second.child.stdin.end();
    }
  });

  test('icotes open says what is missing: no daemon, or no editor', async () => {
    const lonely = fs.realpathSync(tempDir('daemon-open'));
    try {
      fs.writeFileSync(path.join(lonely, 'f.c'), 'x\n');
      const none = await run(['open', path.join(lonely, 'f.c')], env);
      assert.equal(none.status, 1);
      assert.match(none.stderr, /no icotes daemon serves/);
      // A daemon with only a script attached (no editor).
      const script = spawn(requireBinary(), ['serve', '--attach', '--root', lonely, '--idle-timeout', '500'], { stdio: ['pipe', 'pipe', 'inherit'], env });
      script.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
      await new Promise((resolve) => script.stdout.once('data', resolve));
      const noEditor = await run(['open', `${path.join(lonely, 'f.c')}:1`], env);
      assert.equal(noEditor.status, 1);
      assert.match(noEditor.stderr, /no editor is attached/);
      script.stdin.end();
      await until(() => daemons(lonely).length === 0, 'the second daemon exits');
    } finally {
      removeDir(lonely);
    }
  });
});
