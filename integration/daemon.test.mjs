// One daemon per workspace (`icotes serve` on stdio attaches by default):
// an editor (vscode-jsonrpc) and an AI (the MCP SDK client) launched at the
// same instant share one daemon, its buffers and edits; `icotes open`
// reaches the editor; LSP exit codes come back through the forwarder;
// --standalone stays alone; a killed daemon is replaced by the next launch;
// an idle daemon exits and removes its socket; no daemon log holds a
// sanitizer report (the daemons' stderr goes there, not to this test).
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
function run(args, env, input) {
  return withTimeout(new Promise((resolve) => {
    const child = spawn(requireBinary(), args, { env });
    // A process that exits without reading (a refused flag) closes its
    // stdin: EPIPE on writing it is not this test's failure.
    child.stdin.on('error', () => {});
    if (input) child.stdin.end(input);
    else if (input !== undefined) child.stdin.end();
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

// The editor starts `icotes serve` as editors do: no flag, it attaches.
function startEditor(root, env, args) {
  const child = spawn(requireBinary(), ['serve', '--root', root, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
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
    // Every daemon of this run wrote its stderr to a log beside its socket:
    // a sanitizer report there fails the run as it would in a test's own
    // process.
    const dir = path.join(runtime, 'icotes');
    const logs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.log')) : [];
    try {
      assert.ok(logs.length >= 2, `daemon logs: ${logs}`);
      for (const f of logs) {
        const text = fs.readFileSync(path.join(dir, f), 'utf8');
        assert.doesNotMatch(text, /AddressSanitizer|LeakSanitizer|runtime error:/, `${f}:\n${text}`);
      }
    } finally {
      removeDir(root);
      removeDir(runtime);
    }
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

  test('LSP exit codes come back through the forwarder: 0 after shutdown, 1 without', async () => {
    const lsp = async (withShutdown) => {
      const child = spawn(requireBinary(), ['serve', '--root', root, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
      conn.listen();
      try {
        await withTimeout(conn.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {} }), T, 'initialize');
        await conn.sendNotification('initialized', {});
        if (withShutdown) await withTimeout(conn.sendRequest('shutdown'), T, 'shutdown');
        await conn.sendNotification('exit');
        return await withTimeout(exited, T, 'the launcher exits after exit');
      } finally {
        conn.dispose();
      }
    };
    assert.deepEqual(await lsp(true), { code: 0, signal: null });
    assert.deepEqual(await lsp(false), { code: 1, signal: null });
    assert.equal(daemons(root).length, 1, 'the daemon stays for other clients');
  });

  test('without --root, the folder the LSP client names is the workspace (attached and standalone)', async () => {
    const elsewhere = tempDir('daemon-cwd');
    try {
      for (const mode of [[], ['--standalone']]) {
        const child = spawn(requireBinary(), ['serve', ...mode, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env, cwd: elsewhere });
        const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
        conn.listen();
        try {
          const folder = { uri: pathToFileURL(root).href, name: 'root' };
          await withTimeout(conn.sendRequest('initialize', { processId: null, rootUri: folder.uri, workspaceFolders: [folder], capabilities: {} }), T, 'initialize');
          const r = await withTimeout(conn.sendRequest('icotes/files/read', { path: 'notes.txt' }), T, 'read');
          assert.match(r.content, /line two/, `served ${root}, not the current directory (${mode})`);
          if (mode.length === 0) assert.equal(daemons(root).length, 1, 'attached to the daemon of that folder');
        } finally {
          conn.dispose();
          child.stdin.end();
        }
      }
    } finally {
      removeDir(elsewhere);
    }
  });

  test('--standalone serves alone; an unusable runtime directory falls back to it, saying why', async () => {
    const before = daemons(root);
    const alone = await run(['serve', '--standalone', '--root', root, '--log-level', 'warn'], env, '{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    assert.equal(alone.status, 0, alone.stderr);
    assert.match(alone.stdout, /"result":\{\}/);
    // (A daemon of an earlier test may meanwhile reach its idle timeout.)
    assert.deepEqual(daemons(root).filter((pid) => !before.includes(pid)), [], 'no daemon started');
    // A runtime directory whose icotes/ others may enter: refused, it would
    // hold sockets and tokens.
    const open = tempDir('daemon-open-run');
    fs.mkdirSync(path.join(open, 'icotes'), { mode: 0o755 });
    fs.chmodSync(path.join(open, 'icotes'), 0o755);
    try {
      const r = await run(['serve', '--root', root, '--log-level', 'warn'], { ...env, XDG_RUNTIME_DIR: open }, '{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /"result":\{\}/);
      assert.match(r.stderr, /cannot attach to a shared daemon: .*0700[\s\S]*serving standalone instead/);
      const strict = await run(['serve', '--attach', '--root', root], { ...env, XDG_RUNTIME_DIR: open }, '');
      assert.equal(strict.status, 2, '--attach fails rather than serving alone');
    } finally {
      removeDir(open);
    }
  });

  test('a client killed mid-command: its command ends, the daemon serves on', async () => {
    // A daemon of its own (other permission flags): commands allowed.
    const bash = ['--allow', 'Bash', '--idle-timeout', '10000', '--log-level', 'warn']; // idle long enough for a loaded machine
    const procs = (needle) => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)
          && !/^Z/m.test(fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:')).slice(7).trim());
      } catch {
        return false;
      }
    });
    // Daemons of earlier tests (other flags) may reach their idle timeout
    // meanwhile: only the daemon this test starts is followed.
    const daemonsBefore = daemons(root);
    const added = () => daemons(root).filter((pid) => !daemonsBefore.includes(pid));
    const victim = spawn(requireBinary(), ['serve', '--root', root, ...bash], { stdio: ['pipe', 'pipe', 'inherit'], env });
    victim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'icotes/exec/run', params: { argv: ['sleep', '30.4567'] } }) + '\n');
    await until(() => procs('sleep 30.4567').length > 0, 'the command starts');
    const mine = added();
    assert.equal(mine.length, 1, 'a daemon for these settings');
    victim.kill('SIGKILL');
    await until(() => procs('sleep 30.4567').length === 0, 'the killed client\'s command ends');
    const other = await run(['serve', '--root', root, ...bash], env, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'icotes/exec/run', params: { argv: ['echo', 'still here'] } }) + '\n');
    assert.equal(other.status, 0, other.stderr);
    assert.equal(JSON.parse(other.stdout).result.stdout, 'still here\n');
    assert.deepEqual(added(), mine, 'the same daemon served the next client');
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
