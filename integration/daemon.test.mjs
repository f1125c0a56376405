// One daemon per workspace (`icotes serve` on stdio attaches by default):
// an editor (vscode-jsonrpc) and an AI (the MCP SDK client) launched at the
// same instant, with different permission flags, share one daemon, its
// buffers and edits, each connection deciding by its own flags; `icotes
// open` reaches the editor or says what is missing; LSP exit codes come back
// from the daemon; --standalone stays alone; a killed daemon is replaced by
// the next launch; an idle daemon exits and removes its socket; `icotes
// daemon list|stop|restart`; no daemon log holds a sanitizer report (the
// daemons' stderr goes there, not to this test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { pollUntil, removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

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

const until = (predicate, what) => pollUntil(predicate, 15000, what, 100);

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
  const daemonArgs = ['--idle-timeout', '1500', '--log-level', 'warn'];
  const args = ['--permission-mode', 'acceptEdits', ...daemonArgs];
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

  test('an editor and an AI launched at once, with other flags, share one daemon, its buffers and edits; icotes open reaches the editor', async () => {
    // The editor asks for nothing; the AI host starts `serve` with
    // --permission-mode acceptEdits: still one daemon for the folder.
    const editor = startEditor(root, env, daemonArgs);
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

      // icotes call goes to the daemon, whatever its flags, and sees the
      // buffer; --in-process reads the disk.
      const viaDaemon = await run(['call', '--root', root, 'files/read', '{"path":"notes.txt"}'], env);
      assert.equal(viaDaemon.status, 0, viaDaemon.stderr);
      assert.match(JSON.parse(viaDaemon.stdout).content, /unsaved one/);
      const local = await run(['call', '--in-process', '--root', root, '--permission-mode', 'acceptEdits', 'files/read', '{"path":"notes.txt"}'], env);
      assert.equal(local.status, 0, local.stderr);
      assert.equal(JSON.parse(local.stdout).content, 'line one\nline two\n');

      // Each connection decides by its own flags. Without a flag a write
      // needs asking (the editor here answers no question: denied); with
      // acceptEdits, or bypass, it is allowed; bypass on one connection
      // leaves the next one asking.
      const write = (extra, content) => run(['call', '--root', root, ...extra, 'files/write', JSON.stringify({ path: 'new.txt', content })], env);
      const asked = await write([], 'x');
      assert.equal(asked.status, 1, asked.stdout);
      assert.match(asked.stderr, /permission denied/);
      const accepted = await write(['--permission-mode', 'acceptEdits'], 'accepted\n');
      assert.equal(accepted.status, 0, accepted.stderr);
      const bypass = await run(['call', '--root', root, '--permission-mode', 'bypass', 'exec/run', '{"argv":["echo","bypassed"]}'], env);
      assert.equal(bypass.status, 0, bypass.stderr);
      assert.equal(JSON.parse(bypass.stdout).stdout, 'bypassed\n');
      const after = await run(['call', '--root', root, 'exec/run', '{"argv":["echo","again"]}'], env);
      assert.equal(after.status, 1, after.stdout);
      assert.match(after.stderr, /permission denied/);
      assert.equal(fs.readFileSync(path.join(root, 'new.txt'), 'utf8'), 'accepted\n');
      assert.equal(daemons(root).length, 1, 'still one daemon');

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
    // Commands allowed for these connections only.
    const bash = ['--allow', 'Bash', '--idle-timeout', '10000', '--log-level', 'warn']; // idle long enough for a loaded machine
    const procs = (needle) => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)
          && !/^Z/m.test(fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:')).slice(7).trim());
      } catch {
        return false;
      }
    });
    // A daemon left by an earlier test idles out after 1.5 s; attached to
    // it, this test's clients would get its timeout, not theirs, and a
    // loaded machine can let it expire between the two clients.
    await run(['daemon', 'stop', '--root', root], env);
    await until(() => daemons(root).length === 0, 'the earlier daemon stops');
    const victim = spawn(requireBinary(), ['serve', '--root', root, ...bash], { stdio: ['pipe', 'pipe', 'inherit'], env });
    victim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'icotes/exec/run', params: { argv: ['sleep', '30.4567'] } }) + '\n');
    await until(() => procs('sleep 30.4567').length > 0, 'the command starts');
    const mine = daemons(root);
    assert.equal(mine.length, 1, 'the one daemon of the folder');
    victim.kill('SIGKILL');
    await until(() => procs('sleep 30.4567').length === 0, 'the killed client\'s command ends');
    const other = await run(['serve', '--root', root, ...bash], env, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'icotes/exec/run', params: { argv: ['echo', 'still here'] } }) + '\n');
    assert.equal(other.status, 0, other.stderr);
    assert.equal(JSON.parse(other.stdout).result.stdout, 'still here\n');
    assert.deepEqual(daemons(root), mine, 'the same daemon served the next client');
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
      assert.match(noEditor.stderr, /no editor is attached to the daemon serving/);
      // An editor attached to the daemon of another folder is named.
      const other = fs.realpathSync(tempDir('daemon-open-other'));
      const editor = startEditor(other, env, ['--idle-timeout', '500']);
      try {
        await withTimeout(editor.conn.sendRequest('initialize', {
          processId: null, rootUri: pathToFileURL(other).href, clientInfo: { name: 'elsewhere-editor' },
          capabilities: { window: { showDocument: { support: true } } },
        }), T, 'initialize');
        const elsewhere = await run(['open', `${path.join(lonely, 'f.c')}:1`], env);
        assert.equal(elsewhere.status, 1);
        assert.match(elsewhere.stderr, /an editor is attached to another daemon: elsewhere-editor \(on [^)]*daemon-open-other/);
      } finally {
        editor.conn.dispose();
        editor.child.stdin.end();
      }
      // An editor that cannot show documents (no window.showDocument).
      const blind = startEditor(lonely, env, ['--idle-timeout', '500']);
      try {
        await withTimeout(blind.conn.sendRequest('initialize', {
          processId: null, rootUri: pathToFileURL(lonely).href, clientInfo: { name: 'blind-editor' }, capabilities: {},
        }), T, 'initialize');
        const lacks = await run(['open', `${path.join(lonely, 'f.c')}:1`], env);
        assert.equal(lacks.status, 1);
        assert.match(lacks.stderr, /the attached editor \(blind-editor\) lacks window\/showDocument/);
      } finally {
        blind.conn.dispose();
        blind.child.stdin.end();
      }
      script.stdin.end();
      await until(() => daemons(lonely).length === 0, 'the second daemon exits');
      await until(() => daemons(other).length === 0, 'the third daemon exits');
      removeDir(other);
    } finally {
      removeDir(lonely);
    }
  });

  test('an MCP client naming its root through roots/list is handed to that folder\'s daemon', async () => {
    const elsewhere = tempDir('daemon-roots-cwd');
    const client = new Client({ name: 'roots-ai', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: pathToFileURL(root).href, name: 'root' }] }));
    const transport = new StdioClientTransport({ command: requireBinary(), args: ['serve', ...daemonArgs], env, cwd: elsewhere });
    try {
      await withTimeout(client.connect(transport), T, 'connect');
      const r = await withTimeout(client.callTool({ name: 'read_file', arguments: { path: 'notes.txt' } }), T, 'read_file');
      assert.match(r.content[0].text, /line two/);
      assert.equal(daemons(root).length, 1, 'the folder\'s daemon');
      const list = await run(['daemon', 'list', '--json', '--root', root], env);
      assert.equal(list.status, 0, list.stderr);
      const [d] = JSON.parse(list.stdout);
      assert.ok(d.clients.some((c) => c.name === 'roots-ai' && c.dialect === 'mcp' && c.transport === 'stdio (attached)'), list.stdout);
    } finally {
      await client.close();
      removeDir(elsewhere);
    }
  });
});

// `icotes daemon list | stop | restart`, and what attached clients see
// when their daemon is stopped under them.
describe('icotes daemon', () => {
  let root, runtime, env;
  before(() => {
    root = fs.realpathSync(tempDir('daemon-admin'));
    runtime = tempDir('daemon-admin-run');
    fs.chmodSync(runtime, 0o700);
    env = { ...process.env, XDG_RUNTIME_DIR: runtime, ICOTES_TEST_OPERATIONS: '1' };
    fs.writeFileSync(path.join(root, 'notes.txt'), 'notes\n');
  });
  after(() => {
    for (const pid of daemons(root)) process.kill(pid, 'SIGKILL');
    const dir = path.join(runtime, 'icotes');
    try {
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.log')) : []) {
        const text = fs.readFileSync(path.join(dir, f), 'utf8');
        assert.doesNotMatch(text, /AddressSanitizer|LeakSanitizer|runtime error:/, `${f}:\n${text}`);
      }
    } finally {
      removeDir(root);
      removeDir(runtime);
    }
  });

  // An MCP client speaking lines through `icotes serve`, as the hostile
  // transport test does.
  function mcpLauncher(name, extra = []) {
    const child = spawn(requireBinary(), ['serve', '--root', root, '--idle-timeout', '60000', '--log-level', 'warn', ...extra],
      { stdio: ['pipe', 'pipe', 'pipe'], env });
    let err = '';
    let buffer = '';
    const seen = [];
    let notify;
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        seen.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
        notify?.();
      }
    });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = (pred, what) => withTimeout(new Promise((resolve) => {
      notify = () => { const m = seen.find(pred); if (m) resolve(m); };
      notify();
    }), T, what);
    const send = (m) => child.stdin.write(JSON.stringify(m) + '\n');
    const start = async () => {
      send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '1' } } });
      await waitFor((m) => m.id === 1, 'initialize');
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    };
    return { child, exited, waitFor, send, start, stderr: () => err };
  }

  test('list shows each daemon\'s folder, pid, start, log and clients; stop is graceful; restart starts a fresh one', async () => {
    const none = await run(['daemon', 'stop', '--root', root], env);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no icotes daemon runs for/);

    const ai = mcpLauncher('admin-ai', ['--permission-mode', 'acceptEdits']);
    await ai.start();
    const editor = startEditor(root, env, ['--idle-timeout', '60000']);
    await withTimeout(editor.conn.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, clientInfo: { name: 'admin-editor' }, capabilities: {} }), T, 'editor initialize');
    const editorExit = new Promise((resolve) => editor.child.on('exit', (code) => resolve(code)));
    const [pid] = daemons(root);
    assert.ok(pid, 'a daemon');

    const list = await run(['daemon', 'list'], env);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${root}\n  pid ${pid}, icotes \\S+, since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d`, 'm'));
    assert.match(list.stdout, /log {5}\S+\.log/);
    assert.match(list.stdout, /client {2}admin-ai, mcp over stdio \(attached\), since .*, pid \d+, permission mode acceptEdits/);
    assert.match(list.stdout, /client {2}admin-editor, lsp over stdio \(attached\)/);
    const json = JSON.parse((await run(['daemon', 'list', '--json'], env)).stdout);
    assert.equal(json.length, 1);
    assert.equal(json[0].root, root);
    assert.equal(json[0].pid, pid);
    assert.equal(json[0].clients.length, 2, JSON.stringify(json[0].clients));

    // The AI has a request running when the daemon is stopped: it gets an
    // error naming the reason and the log; both launchers exit 1.
    ai.child.stdin.write('{"method":"tools/call","params":{"name":"test_sleep","arguments":{"ms":60000},"_meta":{"progressToken":"p"}},"jsonrpc":"2.0","id":7}\n');
    await ai.waitFor((m) => m.method === 'notifications/progress', 'the sleep is running');
    const stop = await run(['daemon', 'stop', '--root', root], env);
    assert.equal(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`stopped the daemon serving ${root} \\(pid ${pid}\\); its 2 client\\(s\\) were told`));
    const answer = await ai.waitFor((m) => m.id === 7, 'an answer to the running request');
    assert.equal(answer.error?.code, -32603, JSON.stringify(answer));
    assert.match(answer.error.message, /daemon serving this workspace stopped before answering \(`icotes daemon stop`\); its log is \S+\.log/);
    assert.equal(await withTimeout(ai.exited, T, 'the AI launcher exits'), 1);
    assert.match(ai.stderr(), /icotes: the daemon serving this workspace stopped before answering \(`icotes daemon stop`\)/);
    assert.equal(await withTimeout(editorExit, T, 'the editor launcher exits'), 1);
    editor.conn.dispose();
    assert.deepEqual(daemons(root), []);
    assert.deepEqual(fs.readdirSync(path.join(runtime, 'icotes')).filter((f) => f.endsWith('.sock')), [], 'its socket is removed');

    // restart: the next daemon is started at once (a client attaches to it).
    const again = mcpLauncher('admin-ai-2');
    await again.start();
    const [second] = daemons(root);
    const restart = await run(['daemon', 'restart', '--root', root], env);
    assert.equal(restart.status, 0, restart.stderr);
    assert.match(restart.stdout, /stopped the daemon serving .*\n.*started a new daemon for /);
    assert.equal(await withTimeout(again.exited, T, 'the launcher exits'), 1);
    const [third] = daemons(root);
    assert.ok(third && third !== second, `a fresh daemon: ${second} -> ${third}`);
    const after = JSON.parse((await run(['daemon', 'list', '--json', '--root', root], env)).stdout);
    assert.equal(after[0].pid, third);
    assert.deepEqual(after[0].clients, []);
    const last = await run(['daemon', 'stop', '--root', root], env);
    assert.equal(last.status, 0, last.stderr);
  });
});

// `icotes call` is a JSON-RPC client of the daemon's socket: here a fake
// daemon at that socket answers in pieces, after a notification, with an
// error, or not at all.
describe('icotes call through the daemon socket', () => {
  let root, runtime, env, socket, log;
  before(async () => {
    root = fs.realpathSync(tempDir('daemon-call'));
    runtime = tempDir('daemon-call-run');
    fs.chmodSync(runtime, 0o700);
    env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    // A real daemon names the socket; then it stops and the fake takes its place.
    const daemon = spawn(requireBinary(), ['serve', '--daemon', '--root', root, '--idle-timeout', '60000'], { env, stdio: 'ignore' });
    await until(() => {
      const dir = path.join(runtime, 'icotes');
      return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.sock'));
    }, 'the daemon listens');
    socket = JSON.parse((await run(['daemon', 'list', '--json', '--root', root], env)).stdout)[0].socket;
    log = socket.replace(/\.sock$/, '.log');
    const stop = await run(['daemon', 'stop', '--root', root], env);
    assert.equal(stop.status, 0, stop.stderr);
    await withTimeout(new Promise((resolve) => (daemon.exitCode !== null ? resolve() : daemon.on('exit', resolve))), T, 'the daemon exits');
  });
  after(() => {
    removeDir(root);
    removeDir(runtime);
  });

  // Serves one connection at `socket` with `answer(request, connection)`
  // once the request line has come (after the attach line); returns what
  // `icotes call ARGS` did and the lines the fake read.
  async function callWith(args, answer) {
    const lines = [];
    const server = net.createServer((c) => {
      let buf = '';
      c.on('data', (d) => {
        buf += d;
        for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          const message = JSON.parse(line);
          if (message.method) answer(message, c);
        }
      });
      c.on('error', () => {});
    });
    await new Promise((resolve) => server.listen(socket, resolve));
    try {
      return { ...(await run(['call', '--root', root, ...args], env)), lines };
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  test('an answer in pieces after a notification is the result; the flags ride on the attach line', async () => {
    const r = await callWith(['--allow', 'Read(notes.txt)', '--compact', 'files/read', '{"path":"notes.txt"}'], (m, c) => {
      const reply = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: 'from the fake', path: m.params.path } }) + '\n';
      c.write('{"jsonrpc":"2.0","method":"notifications/message","params":{}}\n' + reply.slice(0, 10));
      setTimeout(() => c.end(reply.slice(10)), 50);
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '{"content":"from the fake","path":"notes.txt"}\n');
    assert.deepEqual(JSON.parse(r.lines[0]).icotesAttach?.profile?.allow, ['Read(notes.txt)'], r.lines[0]);
    assert.equal(JSON.parse(r.lines[1]).method, 'icotes/files/read');
  });

  test('an error answer is printed as a JSON-RPC error object, exit 1', async () => {
    const r = await callWith(['files/read', '{"path":"x"}'], (m, c) => {
      c.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32001, message: 'not here', data: { path: 'x' } } }) + '\n');
    });
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stderr), { code: -32001, message: 'not here', data: { path: 'x' } });
  });

  test('a daemon that closes without answering: exit 1, the message names its log', async () => {
    const r = await callWith(['files/read', '{"path":"x"}'], (_m, c) => c.end());
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stderr), {
      code: -32006,
      message: `no answer from the daemon at ${socket} (it exited or was killed? see ${log})`,
    });
  });
});
