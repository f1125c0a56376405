// Permissions with real clients (issue 7): vscode-jsonrpc answering
// window/showMessageRequest, the MCP SDK client answering elicitation, an
// MCP client that cannot be asked, a grant that survives a restart, and
// concurrent identical requests producing one question.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  CancellationTokenSource, StreamMessageReader, StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;  // bound for every request
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

function workspace(prefix) {
  const root = tempDir(prefix);
  dirs.push(root);
  fs.mkdirSync(path.join(root, 'src'));
  fs.mkdirSync(path.join(root, 'other'));
  fs.mkdirSync(path.join(root, '.state'));
  return root;
}

// An LSP client (vscode-jsonrpc) on `icotes serve`; `onAsk(params, token)`
// answers window/showMessageRequest.
async function startLsp(root, onAsk, args = []) {
  const child = spawn(requireBinary(), ['serve', '--standalone', '--root', root, ...args], {
    env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const questions = [];
  conn.onRequest('window/showMessageRequest', (params, token) => {
    questions.push(params);
    return onAsk(params, token);
  });
  conn.listen();
  await withTimeout(conn.sendRequest('initialize', {
    processId: process.pid, rootUri: null, capabilities: { window: { showMessage: {} } },
    clientInfo: { name: 'perm-test' },
  }), T, 'initialize');
  conn.sendNotification('initialized', {});
  const write = (p, content, token) =>
    withTimeout(token ? conn.sendRequest('icotes/files/write', { path: p, content }, token)
      : conn.sendRequest('icotes/files/write', { path: p, content }), T, `write ${p}`);
  return {
    conn, questions, write, stderr: () => stderr,
    async stop() {
      await withTimeout(conn.sendRequest('shutdown'), T, 'shutdown');
      conn.sendNotification('exit');
      const code = await exited;
      conn.dispose();
      return code;
    },
  };
}

const title = (label) => ({ title: label });

describe('LSP client answering window/showMessageRequest', { timeout: 90000 }, () => {
  test('deny, allow in a directory, ask outside it, remember across a restart', async () => {
    const root = workspace('perm-lsp');
    execFileSync('git', ['init', '-q', root]);
    const answers = [];
    const lsp = await startLsp(root, async (params) => {
      const a = answers.shift();
      assert.ok(a, `an unexpected question: ${params.message}`);
      assert.ok(params.actions.some((x) => x.title === a), `"${a}" offered in ${JSON.stringify(params.actions)}`);
      return title(a);
    });
    // Deny → error, nothing written.
    answers.push('Deny');
    await assert.rejects(lsp.write('src/a.txt', 'A'), (e) => {
      assert.equal(e.code, -32004);
      assert.match(e.message, /permission denied/);
      assert.match(e.message, /Edit\(src\/a\.txt\)|asked/);
      return true;
    });
    assert.equal(lsp.questions.length, 1);
    assert.match(lsp.questions[0].message, /src\/a\.txt/);
    assert.equal(fs.existsSync(path.join(root, 'src/a.txt')), false, 'a denied write leaves no file');
    // Always allow in src/ → written; a second write in src is not asked.
    answers.push('Always allow in src/');
    await lsp.write('src/a.txt', 'A');
    assert.equal(fs.readFileSync(path.join(root, 'src/a.txt'), 'utf8'), 'A');
    await lsp.write('src/b.txt', 'B');
    assert.equal(lsp.questions.length, 2, 'src/b.txt was not asked about');
    // Outside that directory: asked again.
    answers.push('Deny');
    await assert.rejects(lsp.write('other/c.txt', 'C'));
    assert.equal(lsp.questions.length, 3);
    assert.equal(fs.existsSync(path.join(root, 'other/c.txt')), false);
    // The grant and the decisions are visible to the editor (not to MCP).
    const listed = await lsp.conn.sendRequest('icotes/permissions/list', {});
    assert.ok(listed.grants.some((g) => g.scope === 'directory' && g.value === 'src' && g.kind === 'WriteFile'),
      JSON.stringify(listed.grants));
    const log = await lsp.conn.sendRequest('icotes/permissions/log', { limit: 20 });
    assert.ok(log.records.length >= 4, JSON.stringify(log.records));
    assert.ok(log.records.some((r) => r.target === 'src/b.txt' && r.answer === 'allow' && /saved grant directory src/.test(r.decidedBy)),
      JSON.stringify(log.records));
    assert.equal(await lsp.stop(), 0);
    // .icotes/ is local state, kept out of git; the grant survives a restart.
    assert.match(fs.readFileSync(path.join(root, '.git/info/exclude'), 'utf8'), /^\/\.icotes\/$/m);
    assert.equal(execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' })
      .split('\n').filter((l) => l.includes('.icotes')).length, 0, 'git status does not show .icotes/');
    const again = await startLsp(root, () => assert.fail('a remembered grant must not ask'));
    await again.write('src/d.txt', 'D');
    assert.equal(fs.readFileSync(path.join(root, 'src/d.txt'), 'utf8'), 'D');
    assert.equal(again.questions.length, 0);
    assert.equal(await again.stop(), 0);
  });

  test('concurrent identical requests produce one question; a cancelled one withdraws it', async () => {
    const root = workspace('perm-lsp2');
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    let withdrawn = 0;
    const lsp = await startLsp(root, async (params, token) => {
      if (/withdrawn\.txt/.test(params.message)) {
        // Never answered: the request is cancelled, the question withdrawn.
        await new Promise((resolve) => token.onCancellationRequested(() => { ++withdrawn; resolve(); }));
        return null;
      }
      await gate;
      return title('Allow once');
    });
    const both = Promise.all([lsp.write('src/same.txt', 'one'), lsp.write('src/same.txt', 'one')]);
    // Let both requests reach the server before answering.
    for (let i = 0; i < 100 && lsp.questions.length === 0; ++i) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    release();
    await both;
    assert.equal(lsp.questions.length, 1, 'one question for two identical requests');
    assert.equal(fs.readFileSync(path.join(root, 'src/same.txt'), 'utf8'), 'one');
    // Allow once: asked again next time.
    const cts = new CancellationTokenSource();
    const cancelled = lsp.write('src/withdrawn.txt', 'x', cts.token);
    for (let i = 0; i < 100 && lsp.questions.length < 2; ++i) await new Promise((r) => setTimeout(r, 20));
    assert.equal(lsp.questions.length, 2);
    cts.cancel();
    await assert.rejects(cancelled);
    for (let i = 0; i < 100 && withdrawn === 0; ++i) await new Promise((r) => setTimeout(r, 20));
    assert.equal(withdrawn, 1, 'the server withdrew the question ($/cancelRequest)');
    assert.equal(fs.existsSync(path.join(root, 'src/withdrawn.txt')), false);
    assert.equal(await lsp.stop(), 0);
  });

  test('readOnly from initializationOptions denies without asking; bypass there is refused', async () => {
    const root = workspace('perm-lsp3');
    const child = spawn(requireBinary(), ['serve', '--standalone', '--root', root], {
      env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') }, stdio: ['pipe', 'pipe', 'ignore'],
    });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    let asked = 0;
    conn.onRequest('window/showMessageRequest', () => { ++asked; return null; });
    conn.listen();
    await assert.rejects(conn.sendRequest('initialize', {
      processId: null, rootUri: null, capabilities: {}, initializationOptions: { permissions: { mode: 'bypass' } },
    }), /bypass/);
    child.kill();
    conn.dispose();
    const child2 = spawn(requireBinary(), ['serve', '--standalone', '--root', root], {
      env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') }, stdio: ['pipe', 'pipe', 'ignore'],
    });
    const c2 = createMessageConnection(new StreamMessageReader(child2.stdout), new StreamMessageWriter(child2.stdin));
    c2.onRequest('window/showMessageRequest', () => { ++asked; return null; });
    c2.listen();
    await c2.sendRequest('initialize', {
      processId: null, rootUri: null, capabilities: {},
      initializationOptions: { permissions: { mode: 'readOnly', allow: ['Edit(src/**)'] } },
    });
    c2.sendNotification('initialized', {});
    await assert.rejects(c2.sendRequest('icotes/files/write', { path: 'src/x.txt', content: 'x' }), /readOnly/);
    const read = await c2.sendRequest('icotes/files/list', { path: '.' });
    assert.ok(Array.isArray(read.entries), 'reads still work');
    assert.equal(asked, 0);
    child2.kill();
    c2.dispose();
  });
});

async function startMcp(root, { elicitation, answer, args = [] }) {
  const transport = new StdioClientTransport({
    command: requireBinary(),
    args: ['serve', '--standalone', '--root', root, ...args],
    env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'perm-mcp', version: '1.0.0' },
    { capabilities: elicitation ? { elicitation: {} } : {} });
  const asked = [];
  if (elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return answer(req.params);
    });
  }
  await client.connect(transport, { timeout: T });
  return { client, asked };
}

describe('MCP SDK client', { timeout: 60000 }, () => {
  test('answers elicitation: accept writes, decline does not', async () => {
    const root = workspace('perm-mcp');
    let next = 'Allow once';
    const { client, asked } = await startMcp(root, {
      elicitation: true,
      answer: (params) => {
        assert.equal(params.requestedSchema.type, 'object');
        const choices = params.requestedSchema.properties.decision.enum;
        assert.ok(choices.includes(next), `${next} in ${choices}`);
        return next === 'decline' ? { action: 'decline' } : { action: 'accept', content: { decision: next } };
      },
    });
    const ok = await client.callTool({ name: 'write_file', arguments: { path: 'src/m.txt', content: 'M' } }, undefined, { timeout: T });
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
    assert.equal(fs.readFileSync(path.join(root, 'src/m.txt'), 'utf8'), 'M');
    next = 'decline';
    const no = await client.callTool({ name: 'write_file', arguments: { path: 'src/n.txt', content: 'N' } }, undefined, { timeout: T });
    assert.equal(no.isError, true);
    assert.match(no.content[0].text, /permission denied/);
    assert.equal(fs.existsSync(path.join(root, 'src/n.txt')), false);
    assert.equal(asked.length, 2);
    // Permission administration is not a tool an AI can call.
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(!tools.some((n) => /permission/i.test(n)), tools.join(','));
    await client.close();
  });

  test('a client that cannot be asked gets a denial that says how to allow it', async () => {
    const root = workspace('perm-mcp2');
    const { client } = await startMcp(root, { elicitation: false });
    const r = await client.callTool({ name: 'write_file', arguments: { path: 'src/q.txt', content: 'Q' } }, undefined, { timeout: T });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /cannot be asked/);
    assert.match(r.content[0].text, /icotes permissions allow 'Edit\(src\/q\.txt\)'/);
    assert.equal(fs.existsSync(path.join(root, 'src/q.txt')), false);
    // Reads need no question.
    const read = await client.callTool({ name: 'list_directory', arguments: { path: '.' } }, undefined, { timeout: T });
    assert.notEqual(read.isError, true);
    await client.close();
    // --permission-mode acceptEdits (the MCP client's config) allows it.
    const { client: c2 } = await startMcp(root, { elicitation: false, args: ['--permission-mode', 'acceptEdits'] });
    const w = await c2.callTool({ name: 'write_file', arguments: { path: 'src/q.txt', content: 'Q' } }, undefined, { timeout: T });
    assert.notEqual(w.isError, true, JSON.stringify(w));
    assert.equal(fs.readFileSync(path.join(root, 'src/q.txt'), 'utf8'), 'Q');
    await c2.close();
  });
});

describe('icotes permissions (CLI)', { timeout: 60000 }, () => {
  test('allow, list, revoke; icotes call is gated the same way', () => {
    const root = workspace('perm-cli');
    const env = { ...process.env, XDG_STATE_HOME: path.join(root, '.state') };
    const run = (...args) => spawnSyncText(requireBinary(), args, env);
    // Nobody to ask from a script: denied, with the command that allows it.
    let r = run('call', '--root', root, 'files/write', '{"path":"src/c.txt","content":"C"}');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /icotes permissions allow 'Edit\(src\/c\.txt\)'/);
    assert.equal(fs.existsSync(path.join(root, 'src/c.txt')), false);
    r = run('permissions', '--root', root, 'allow', 'Edit(src/)');
    assert.equal(r.status, 0, r.stderr);
    r = run('permissions', '--root', root, 'list');
    const listed = JSON.parse(r.stdout);
    assert.deepEqual(listed.grants.filter((g) => g.value === 'src').map((g) => `${g.kind}:${g.scope}`).sort(),
      ['EditFile:directory', 'WriteFile:directory']);
    r = run('call', '--root', root, 'files/write', '{"path":"src/c.txt","content":"C"}');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(root, 'src/c.txt'), 'utf8'), 'C');
    r = run('permissions', '--root', root, 'revoke', 'Edit(src/)');
    assert.equal(r.status, 0, r.stderr);
    r = run('call', '--root', root, 'files/write', '{"path":"src/d.txt","content":"D"}');
    assert.equal(r.status, 1, 'denied again after revoke');
    r = run('permissions', '--root', root, 'log', '--limit', '3');
    const log = JSON.parse(r.stdout);
    assert.equal(log.records[0].target, 'src/d.txt');
    assert.equal(log.records[0].answer, 'deny');
    assert.equal(log.records[0].client, 'cli');
    // Rules on the command line, one per flag, before the positionals.
    r = run('call', '--root', root, '--allow', 'Edit(src/e.txt)', '--allow', 'Read(x)', 'files/write',
      '{"path":"src/e.txt","content":"E"}');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(root, 'src/e.txt'), 'utf8'), 'E');
    // Bad input gets a clear error.
    r = run('permissions', '--root', root, 'allow', 'Delete(x)');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown kind/);
  });
});

function spawnSyncText(cmd, args, env) {
  return spawnSync(cmd, args, { env, encoding: 'utf8', timeout: T });
}
