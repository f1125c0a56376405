// The file watcher through real clients: MCP resource subscriptions (the
// SDK client gets notifications/resources/updated and list_changed when
// files change on disk) and an LSP client (vscode-jsonrpc) subscribed to
// files/changed events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  ListRootsRequestSchema, LoggingMessageNotificationSchema, ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { pollUntil, removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;

// Resolves when `predicate` holds for something pushed to `list`.
function waitFor(list, predicate, what) {
  return pollUntil(() => list.find(predicate), T, what);
}

describe('MCP resource subscriptions from the file watcher', () => {
  let root, client;
  const updated = [];
  const listChanged = [];
  before(async () => {
    root = tempDir('watch-mcp');
    fs.writeFileSync(path.join(root, 'a.txt'), 'one\n');
    fs.writeFileSync(path.join(root, 'b.txt'), 'two\n');
    fs.writeFileSync(path.join(root, '.ignore'), 'out/\n');
    client = new Client({ name: 'watch-test', version: '1.0.0' });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => listChanged.push(Date.now()));
    await client.connect(new StdioClientTransport({ command: requireBinary(), args: ['serve', '--standalone', '--root', root, '--log-level', 'warn'] }));
  });
  after(async () => {
    await client?.close();
    removeDir(root);
  });

  test('the server declares resource subscriptions and list changes', () => {
    const caps = client.getServerCapabilities();
    assert.equal(caps.resources.subscribe, true);
    assert.equal(caps.resources.listChanged, true);
  });

  test('a subscribed file changed on disk is announced; an unsubscribed one is not', async () => {
    const a = pathToFileURL(path.join(root, 'a.txt')).href;
    const b = pathToFileURL(path.join(root, 'b.txt')).href;
    assert.deepEqual(await client.subscribeResource({ uri: a }), {});
    assert.deepEqual(await client.subscribeResource({ uri: b }), {});
    fs.appendFileSync(path.join(root, 'a.txt'), 'more\n');
    await waitFor(updated, (u) => u === a, 'resources/updated for a.txt');
    assert.deepEqual(await client.unsubscribeResource({ uri: b }), {});
    updated.length = 0;
    listChanged.length = 0;
    // b changes first, then a file is created: when the list change arrives,
    // any update for b would have come before it.
    fs.appendFileSync(path.join(root, 'b.txt'), 'more\n');
    fs.writeFileSync(path.join(root, 'new.txt'), 'new\n');
    await waitFor(listChanged, () => true, 'resources/list_changed after a file was created');
    assert.deepEqual(updated.filter((u) => u === b), []);
  });

  test('subscribing to a file outside the workspace is refused', async () => {
    await assert.rejects(client.subscribeResource({ uri: 'file:///etc/passwd' }), /outside|workspace/i);
  });
});

describe('MCP roots outside the served workspace', () => {
  test('a client whose root lies elsewhere is told so; one inside is not', async () => {
    const root = tempDir('roots');
    const elsewhere = tempDir('roots-elsewhere');
    const messages = [];
    const connect = async (roots) => {
      const client = new Client({ name: 'roots-test', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
      client.setRequestHandler(ListRootsRequestSchema, () => ({ roots }));
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => messages.push(n.params));
      await client.connect(new StdioClientTransport({ command: requireBinary(), args: ['serve', '--standalone', '--root', root, '--log-level', 'warn'] }));
      return client;
    };
    try {
      const outside = await connect([{ uri: pathToFileURL(elsewhere).href, name: 'elsewhere' }]);
      await waitFor(messages, (m) => m.level === 'error', 'an error-level message about the root');
      assert.match(messages[0].data, /lies outside the workspace this icotes serves/);
      assert.ok(messages[0].data.includes(pathToFileURL(elsewhere).href));
      await outside.close();
      messages.length = 0;
      const inside = await connect([{ uri: pathToFileURL(root).href, name: 'root' }]);
      // A tool call after initialization: any message about roots came before its answer.
      await inside.callTool({ name: 'get_file_info', arguments: { path: '.' } });
      assert.deepEqual(messages.filter((m) => m.level === 'error'), []);
      await inside.close();
    } finally {
      removeDir(root);
      removeDir(elsewhere);
    }
  });
});

describe('MCP roots name the workspace when serve is given no --root', () => {
  // The roots are asked after initialization, as the MCP lifecycle wants:
  // serve answers initialize itself, asks roots/list after `initialized`,
  // then opens (or attaches to the daemon of) the first root; the server's
  // own answer to initialize never reaches the client (the SDK reports a
  // response to an unknown id through onerror).
  for (const how of ['--standalone', '--attach']) {
    test(`${how}: the first root is served, not the current directory`, async () => {
      const root = tempDir('roots-named');
      const cwd = tempDir('roots-cwd');
      const runtime = tempDir('roots-run');
      fs.chmodSync(runtime, 0o700);
      fs.writeFileSync(path.join(root, 'only-in-root.txt'), 'from the root\n');
      fs.writeFileSync(path.join(cwd, 'only-in-cwd.txt'), 'from the current directory\n');
      const errors = [];
      const client = new Client({ name: 'roots-named', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
      client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'https://example.com/not-a-folder' }, { uri: pathToFileURL(root).href, name: 'root' }] }));
      client.onerror = (e) => errors.push(String(e));
      try {
        await client.connect(new StdioClientTransport({
          command: requireBinary(), args: ['serve', how, '--idle-timeout', '300', '--log-level', 'warn'], cwd,
          env: { ...process.env, XDG_RUNTIME_DIR: runtime }, stderr: 'inherit',
        }));
        assert.match(client.getInstructions(), /client's first root/);
        const read = await withTimeout(client.callTool({ name: 'read_file', arguments: { path: 'only-in-root.txt' } }), T, 'read_file');
        assert.equal(read.isError, undefined, JSON.stringify(read).slice(0, 300));
        assert.match(read.content[0].text, /^only-in-root\.txt: line 1 of 1, sha256 [0-9a-f]{64}\nfrom the root\n$/);
        const other = await withTimeout(client.callTool({ name: 'read_file', arguments: { path: 'only-in-cwd.txt' } }), T, 'read_file');
        assert.equal(other.isError, true, 'the current directory is not served');
        await withTimeout(client.ping(), T, 'ping');
        assert.deepEqual(errors, []);
      } finally {
        await client.close();
        removeDir(root);
        removeDir(cwd);
        removeDir(runtime);
      }
    });
  }
});

describe('files/changed events to an LSP client', () => {
  let root, child, conn;
  const events = [];
  before(async () => {
    root = tempDir('watch-lsp');
    fs.mkdirSync(path.join(root, 'src'));
    fs.mkdirSync(path.join(root, 'out'));
    fs.writeFileSync(path.join(root, '.ignore'), 'out/\n*.o\n');
    child = spawn(requireBinary(), ['serve', '--stdio', '--standalone', '--root', root, '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'inherit'] });
    conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onNotification('icotes/event', (p) => events.push(p));
    conn.listen();
    await withTimeout(conn.sendRequest('initialize', { processId: null, rootUri: pathToFileURL(root).href, capabilities: {} }), T, 'initialize');
    await conn.sendNotification('initialized', {});
  });
  after(() => {
    conn?.dispose();
    child?.kill();
    removeDir(root);
  });

  test('creating, changing and deleting files arrive as coalesced events with sequence numbers', async () => {
    const sub = await withTimeout(conn.sendRequest('icotes/events/subscribe', { topics: ['files/*'] }), T, 'subscribe');
    assert.ok(sub.subscription > 0);
    fs.writeFileSync(path.join(root, 'src', 'main.c'), 'int main(void) { return 0; }\n');
    const created = await waitFor(events, (e) => e.data.changes?.some((c) => c.path === 'src/main.c' && c.type === 'created'), 'created');
    assert.equal(created.topic, 'files/changed');
    assert.equal(created.subscription, sub.subscription);
    assert.equal(created.data.mode, 'inotify');
    fs.rmSync(path.join(root, 'src', 'main.c'));
    const deleted = await waitFor(events, (e) => e.data.changes?.some((c) => c.path === 'src/main.c' && c.type === 'deleted'), 'deleted');
    assert.ok(deleted.seq > created.seq);
    // A new directory and its files.
    fs.mkdirSync(path.join(root, 'lib', 'util'), { recursive: true });
    fs.writeFileSync(path.join(root, 'lib', 'util', 'u.c'), 'int u;\n');
    await waitFor(events, (e) => e.data.changes?.some((c) => c.path === 'lib/util/u.c'), 'a file in a new directory');
    // Ignored paths raise nothing: written first, they would be in the same
    // event as the visible file or an earlier one.
    fs.writeFileSync(path.join(root, 'out', 'x.bin'), 'x');
    fs.writeFileSync(path.join(root, 'src', 'main.o'), 'x');
    fs.writeFileSync(path.join(root, 'src', 'visible.c'), 'v');
    await waitFor(events, (e) => e.data.changes?.some((c) => c.path === 'src/visible.c'), 'visible.c');
    const paths = events.flatMap((e) => e.data.changes?.map((c) => c.path) ?? []);
    assert.ok(!paths.includes('out/x.bin') && !paths.includes('src/main.o'), paths.join(' '));
    assert.deepEqual(await conn.sendRequest('icotes/events/unsubscribe', { subscription: sub.subscription }), { removed: true });
  });
});
