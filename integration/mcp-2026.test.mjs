// MCP 2026-07-28 ("stateless" requests: no initialize; every request names
// the revision and the client's capabilities in _meta) over stdio, every
// server message checked against specs/mcp/2026-07-28/schema.json,
// next to an older-revision client on the same daemon.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;
const VERSION = '2026-07-28';
const SPEC = path.join(process.env.ICOTES_SOURCE_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'),
  'specs', 'mcp', VERSION, 'schema.json');

const schema = JSON.parse(fs.readFileSync(SPEC, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(schema, 'mcp');
function check(name, value) {
  const validate = ajv.getSchema(`mcp#/$defs/${name}`);
  assert.ok(validate, `${VERSION} defines ${name}`);
  assert.ok(validate(value), `${name}: ${JSON.stringify(validate.errors?.slice(0, 3))} in ${JSON.stringify(value).slice(0, 400)}`);
}

const META = {
  'io.modelcontextprotocol/protocolVersion': VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'stateless-test', version: '1.0.0' },
};

class Client {
  constructor(root, args = [], env = process.env) {
    // One process per client unless the test attaches clients to a daemon.
    const alone = args.includes('--attach') ? [] : ['--standalone'];
    this.child = spawn(requireBinary(), ['serve', ...alone, '--root', root, '--log-level', 'warn', ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
    this.buffer = '';
    this.messages = [];
    this.waiters = [];
    this.nextId = 1;
    this.child.stdout.on('data', (d) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim()) this.messages.push(JSON.parse(line));
        for (const w of [...this.waiters]) w();
      }
    });
  }
  waitFor(predicate, what) {
    return withTimeout(new Promise((resolve) => {
      const check = () => {
        const hit = this.messages.find(predicate);
        if (hit) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(hit);
        }
      };
      this.waiters.push(check);
      check();
    }), T, what);
  }
  send(message) { this.child.stdin.write(JSON.stringify(message) + '\n'); }
  request(method, params = {}, meta = META) {
    const id = this.nextId++;
    this.send({ jsonrpc: '2.0', id, method, params: meta ? { ...params, _meta: { ...meta, ...(params._meta ?? {}) } } : params });
    return this.waitFor((m) => m.id === id && !('method' in m), method);
  }
  close() { this.child.stdin.end(); }
}

describe(`MCP ${VERSION}`, () => {
  let root, client;
  before(() => {
    root = tempDir('mcp2026');
    fs.writeFileSync(path.join(root, 'a.txt'), 'alpha\n');
    client = new Client(root);
  });
  after(() => {
    client?.close();
    removeDir(root);
  });

  test('server/discover lists the revisions and capabilities', async () => {
    const r = await client.request('server/discover');
    check('JSONRPCResultResponse', r);
    check('DiscoverResult', r.result);
    assert.equal(r.result.resultType, 'complete');
    assert.ok(r.result.supportedVersions.includes(VERSION));
    assert.ok(r.result.supportedVersions.includes('2025-11-25'));
    assert.equal(r.result._meta['io.modelcontextprotocol/serverInfo'].name, 'icotes');
  });

  test('tools, resources and completion answer with resultType and cache hints', async () => {
    const tools = await client.request('tools/list');
    check('ListToolsResult', tools.result);
    assert.ok(tools.result.tools.some((t) => t.name === 'read_file'));
    const call = await client.request('tools/call', { name: 'read_file', arguments: { path: 'a.txt' } });
    check('CallToolResult', call.result);
    // read_file's text: a header line, then the file.
    assert.match(call.result.content[0].text, /^a\.txt: line 1 of 1, sha256 [0-9a-f]{64}\nalpha\n$/);
    const failed = await client.request('tools/call', { name: 'read_file', arguments: { path: 'missing.txt' } });
    check('CallToolResult', failed.result);
    assert.equal(failed.result.isError, true);
    check('ListResourcesResult', (await client.request('resources/list')).result);
    check('ListResourceTemplatesResult', (await client.request('resources/templates/list')).result);
    const read = await client.request('resources/read', { uri: pathToFileURL(path.join(root, 'a.txt')).href });
    check('ReadResourceResult', read.result);
    const complete = await client.request('completion/complete', { ref: { type: 'ref/resource', uri: 'file:///{+path}' }, argument: { name: 'path', value: 'a' } });
    check('CompleteResult', complete.result);
  });

  test('log messages only for a request that asks, at its logLevel', async () => {
    const before = client.messages.filter((m) => m.method === 'notifications/message').length;
    await client.request('tools/call', { name: 'read_file', arguments: { path: 'missing.txt' } });
    assert.equal(client.messages.filter((m) => m.method === 'notifications/message').length, before, 'no logLevel: no messages');
    await client.request('tools/call', { name: 'read_file', arguments: { path: 'missing.txt' } }, { ...META, 'io.modelcontextprotocol/logLevel': 'warning' });
    const logged = await client.waitFor((m) => m.method === 'notifications/message', 'a log message');
    check('ServerNotification', logged);
    assert.equal(logged.params.level, 'warning');
    assert.match(JSON.stringify(logged.params.data), /missing\.txt/);
  });

  test('an unsupported revision or missing capabilities is refused with the 2026 errors', async () => {
    const old = await client.request('tools/list', {}, { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' });
    check('UnsupportedProtocolVersionError', old);
    assert.deepEqual(old.error.data.requested, '2099-01-01');
    assert.ok(old.error.data.supported.includes(VERSION));
    const bare = await client.request('tools/list', {}, { 'io.modelcontextprotocol/protocolVersion': VERSION });
    assert.equal(bare.error.code, -32602);
    assert.match(bare.error.message, /clientCapabilities/);
    const gone = await client.request('resources/subscribe', { uri: 'file:///x' });
    assert.equal(gone.error.code, -32601);
  });

  test('a permission question is an input-required result; the retry with the answer runs the call', async () => {
    const asking = { ...META, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    const args = { name: 'write_file', arguments: { path: 'new.txt', content: 'written\n' } };
    const first = await client.request('tools/call', args, asking);
    check('InputRequiredResult', first.result);
    assert.equal(first.result.resultType, 'input_required');
    const form = first.result.inputRequests.permission;
    check('ElicitRequest', form);
    const choices = form.params.requestedSchema.properties.decision.enum;
    const once = choices.find((c) => /once/i.test(c));
    assert.ok(once, choices.join(', '));
    assert.equal(fs.existsSync(path.join(root, 'new.txt')), false, 'nothing written before the answer');
    const retry = await client.request('tools/call', { ...args, inputResponses: { permission: { action: 'accept', content: { decision: once } } } }, asking);
    check('CallToolResult', retry.result);
    assert.ok(!retry.result.isError, JSON.stringify(retry.result));
    assert.equal(fs.readFileSync(path.join(root, 'new.txt'), 'utf8'), 'written\n');
    // Declined: denied, nothing written.
    const declined = await client.request('tools/call', { name: 'write_file', arguments: { path: 'no.txt', content: 'x' }, inputResponses: { permission: { action: 'decline' } } }, asking);
    assert.equal(declined.result.isError, true);
    assert.equal(fs.existsSync(path.join(root, 'no.txt')), false);
    // A client that cannot be asked is told how to allow it.
    const mute = await client.request('tools/call', { name: 'write_file', arguments: { path: 'no.txt', content: 'x' } });
    assert.equal(mute.result.isError, true);
    assert.match(mute.result.content[0].text, /permission denied/);
  });

  test('subscriptions/listen acknowledges, then carries the opted-in notifications with the subscription id', async () => {
    const uri = pathToFileURL(path.join(root, 'a.txt')).href;
    const id = client.nextId;
    client.send({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: META, notifications: { resourcesListChanged: true, resourceSubscriptions: [uri], toolsListChanged: true } } });
    client.nextId++;
    const ack = await client.waitFor((m) => m.method === 'notifications/subscriptions/acknowledged', 'acknowledged');
    check('SubscriptionsAcknowledgedNotification', ack);
    assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], id);
    assert.deepEqual(ack.params.notifications, { resourcesListChanged: true, resourceSubscriptions: [uri] }, 'tool list changes are not offered');
    fs.appendFileSync(path.join(root, 'a.txt'), 'more\n');
    const updated = await client.waitFor((m) => m.method === 'notifications/resources/updated', 'resources/updated');
    check('ServerNotification', updated);
    assert.equal(updated.params.uri, uri);
    assert.equal(updated.params._meta['io.modelcontextprotocol/subscriptionId'], id);
    fs.writeFileSync(path.join(root, 'b.txt'), 'b\n');
    const listChanged = await client.waitFor((m) => m.method === 'notifications/resources/list_changed', 'list_changed');
    check('ServerNotification', listChanged);
    assert.equal(listChanged.params._meta['io.modelcontextprotocol/subscriptionId'], id);
    assert.equal(client.messages.find((m) => m.id === id), undefined, 'the listen request stays open');
  });

  test('older revisions keep working side by side on one server', async () => {
    const runtime = tempDir('mcp2026-run');
    fs.chmodSync(runtime, 0o700);
    const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    // Two clients of one daemon: a 2026-07-28 one and a 2025-11-25 one.
    const modern = new Client(root, ['--attach', '--idle-timeout', '500'], env);
    const classic = new Client(root, ['--attach', '--idle-timeout', '500'], env);
    try {
      const tools = await modern.request('tools/list');
      check('ListToolsResult', tools.result);
      const init = await classic.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'classic', version: '1' } }, null);
      assert.equal(init.result.protocolVersion, '2025-11-25');
      assert.equal(init.result.resultType, undefined);
      classic.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const list = await classic.request('tools/list', {}, null);
      assert.equal(list.result.resultType, undefined);
      assert.ok(list.result.tools.length > 10);
    } finally {
      modern.close();
      classic.close();
      removeDir(runtime);
    }
  });
});
