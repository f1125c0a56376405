// The agent end to end (issue 18): a scripted model (the `mock` provider of
// the user's config, $XDG_CONFIG_HOME/icotes/config.toml) reads, greps,
// edits and runs the tests of a real small C project (an off-by-one in
// sum.c, a header, a Makefile whose `test` target builds and runs a check),
// every tool call through the permission gate as the asking client:
//   (a) agent/run from a vscode-jsonrpc editor client that answers
//       window/showMessageRequest; sum.c is open in the editor, so the edit
//       arrives as workspace/applyEdit; the steps stream as partial results;
//   (b) the MCP tool `delegate` from an MCP SDK client that answers
//       elicitation/create;
//   (c) the user denies the edit: the file is unchanged, the run goes on, and
//       the model's next request carries the refusal (an OpenAI-compatible
//       model on loopback records what it was sent).
// Loopback only; every wait bounded.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ProgressType, StreamMessageReader, StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;  // bound for a plain request
const RUN_T = 90000;  // bound for an agent run (it compiles and runs a C program)
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

// --- The C project ------------------------------------------------------------

const BUGGY_LOOP = 'for (int i = 1; i < n; ++i)';
const FIXED_LOOP = 'for (int i = 1; i <= n; ++i)';
const SUM_C = `#include "sum.h"

int sum_to(int n) {
  int total = 0;
  ${BUGGY_LOOP} total += i;
  return total;
}
`;
const SUM_H = `#ifndef SUM_H
#define SUM_H
/* 1 + 2 + ... + n; 0 when n < 1. */
int sum_to(int n);
#endif
`;
const TEST_C = `#include <stdio.h>

#include "sum.h"

int main(void) {
  static const int cases[][2] = {{0, 0}, {1, 1}, {3, 6}, {10, 55}};
  int failed = 0;
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const int got = sum_to(cases[i][0]);
    if (got != cases[i][1]) {
      printf("FAIL sum_to(%d) = %d, want %d\\n", cases[i][0], got, cases[i][1]);
      failed = 1;
    }
  }
  if (!failed) printf("all tests passed\\n");
  return failed;
}
`;
const MAKEFILE = `CC ?= cc
CFLAGS ?= -Wall -Wextra -O1

test: test_sum
\t./test_sum

test_sum: test_sum.c sum.c sum.h
\t$(CC) $(CFLAGS) -o $@ test_sum.c sum.c

clean:
\trm -f test_sum

.PHONY: test clean
`;

// make test, run here: {ok, out}.
function makeTest(root) {
  try {
    return { ok: true, out: execFileSync('make', ['-s', 'test'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 }) };
  } catch (e) {
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  } finally {
    fs.rmSync(path.join(root, 'test_sum'), { force: true });
  }
}

// A scenario's folders: the project (its root), the user's config, state.
function scenario(prefix) {
  const tmp = tempDir(`agent-${prefix}`);
  dirs.push(tmp);
  const root = path.join(tmp, 'project');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'sum.c'), SUM_C);
  fs.writeFileSync(path.join(root, 'sum.h'), SUM_H);
  fs.writeFileSync(path.join(root, 'test_sum.c'), TEST_C);
  fs.writeFileSync(path.join(root, 'Makefile'), MAKEFILE);
  const config = path.join(tmp, 'config');
  fs.mkdirSync(path.join(config, 'icotes'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'state'));
  const env = { ...process.env, XDG_CONFIG_HOME: config, XDG_STATE_HOME: path.join(tmp, 'state') };
  delete env.ICOTES_TEST_OPERATIONS;
  return { tmp, root, config, env };
}

// The user's config: the mock provider playing `script`, and optionally an
// OpenAI-compatible provider on loopback; `agent` names the default.
function writeConfig(s, script, { recorderUrl, agent = 'mock' } = {}) {
  const scriptPath = path.join(s.config, 'icotes', 'script.json');
  fs.writeFileSync(scriptPath, JSON.stringify(script, null, 1));
  let toml = `[providers.mock]\nkind = "mock"\nmodel = "scripted"\nscript = ${JSON.stringify(scriptPath)}\n\n`;
  if (recorderUrl) {
    toml += `[providers.recorder]\nkind = "openai"\nbase_url = ${JSON.stringify(recorderUrl)}\nmodel = "recorder"\nmax_retries = 0\n\n`;
  }
  toml += `[agent]\nprovider = ${JSON.stringify(agent)}\n`;
  fs.writeFileSync(path.join(s.config, 'icotes', 'config.toml'), toml);
}

// The scripted model's steps (the mock's response format).
const call = (id, name, args) => ({ tool_calls: [{ id, name, arguments: args }], usage: { input_tokens: 100, output_tokens: 10 } });
const READ = call('call_read', 'read_file', { path: 'sum.c' });
const GREP = call('call_grep', 'grep', { pattern: 'sum_to\\(', outputMode: 'content' });
const EDIT = call('call_edit', 'edit_file', { path: 'sum.c', edits: [{ oldString: 'i < n', newString: 'i <= n' }] });
const MAKE = call('call_make', 'run_command', { command: 'make test' });
const FIXED = { text: 'Fixed the off-by-one in sum_to: the loop now includes n. make test passes.', chunks: ['Fixed the off-by-one in sum_to', ': the loop now includes n. make test passes.'], usage: { input_tokens: 120, output_tokens: 20 } };
const GAVE_UP = { text: 'I was not allowed to edit sum.c, so the bug remains: the loop in sum_to stops before n.', usage: { input_tokens: 110, output_tokens: 15 } };

// --- Clients ------------------------------------------------------------------

// An editor (vscode-jsonrpc) on `icotes serve`: answers permission questions
// with answer(params) (an action title), applies workspace/applyEdit to its
// open documents and saves them, as an editor with auto-save does.
async function startEditor(s, answer) {
  const child = spawn(requireBinary(), ['serve', '--standalone', '--root', s.root], { env: s.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const questions = [];
  const applied = [];
  const docs = new Map();  // uri -> {file, version, text}
  conn.onRequest('window/showMessageRequest', (params) => {
    questions.push(params);
    const title = answer(params);
    assert.ok(params.actions.some((a) => a.title === title), `"${title}" offered in ${JSON.stringify(params.actions)}`);
    return { title };
  });
  conn.onRequest('workspace/applyEdit', (params) => {
    applied.push(params);
    for (const change of params.edit.documentChanges ?? []) {
      const doc = docs.get(change.textDocument.uri);
      if (!doc) return { applied: false, failureReason: `${change.textDocument.uri} is not open` };
      doc.text = applyEdits(doc.text, change.edits);
      doc.version += 1;
      conn.sendNotification('textDocument/didChange', {
        textDocument: { uri: change.textDocument.uri, version: doc.version }, contentChanges: [{ text: doc.text }],
      });
      fs.writeFileSync(doc.file, doc.text);
      conn.sendNotification('textDocument/didSave', { textDocument: { uri: change.textDocument.uri } });
    }
    return { applied: true };
  });
  conn.listen();
  await withTimeout(conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(s.root).href,
    clientInfo: { name: 'agent-e2e editor', version: '1.0.0' },
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      window: { showMessage: {}, workDoneProgress: true },
      workspace: { applyEdit: true, workspaceEdit: { documentChanges: true } },
    },
  }), T, 'initialize');
  conn.sendNotification('initialized', {});
  return {
    conn, questions, applied, docs, stderr: () => stderr,
    open(rel) {
      const file = path.join(s.root, rel);
      const uri = pathToFileURL(file).href;
      const text = fs.readFileSync(file, 'utf8');
      docs.set(uri, { file, version: 1, text });
      conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text } });
      return uri;
    },
    // agent/run with partial results: {result, events}.
    async run(params, token) {
      const events = [];
      const sub = conn.onProgress(new ProgressType(), token, (v) => events.push(...(Array.isArray(v) ? v : [v])));
      try {
        const result = await withTimeout(conn.sendRequest('icotes/agent/run', { ...params, partialResultToken: token }), RUN_T, 'agent/run');
        return { result, events };
      } finally {
        sub.dispose();
      }
    },
    async stop() {
      try {
        await withTimeout(conn.sendRequest('shutdown'), T, 'shutdown');
        conn.sendNotification('exit');
      } finally {
        setTimeout(() => { if (child.exitCode === null) child.kill('SIGKILL'); }, 2000).unref();
        conn.dispose();
      }
    },
  };
}

// LSP text edits (utf-16 positions; these files are ASCII), applied from the end.
function applyEdits(text, edits) {
  const offset = ({ line, character }) => {
    let off = 0;
    for (let l = 0; l < line; ++l) off = text.indexOf('\n', off) + 1;
    return off + character;
  };
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  for (const e of sorted) text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  return text;
}

// An OpenAI-compatible Chat Completions server on loopback that streams the
// scripted steps (the mock's format) and records every request it gets.
async function startRecorder(steps) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      requests.push(JSON.parse(body));
      const step = steps[requests.length - 1];
      if (!step) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"the script is over"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const base = { id: `chatcmpl-${requests.length}`, object: 'chat.completion.chunk', created: 1765000000, model: 'recorder' };
      const send = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
      send([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
      if (step.text) send([{ index: 0, delta: { content: step.text }, finish_reason: null }]);
      (step.tool_calls ?? []).forEach((c, index) => {
        const args = JSON.stringify(c.arguments);
        const cut = Math.floor(args.length / 2);  // the arguments arrive in two pieces
        send([{ index: 0, delta: { tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: args.slice(0, cut) } }] }, finish_reason: null }]);
        send([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: args.slice(cut) } }] }, finish_reason: null }]);
      });
      send([{ index: 0, delta: {}, finish_reason: step.tool_calls ? 'tool_calls' : 'stop' }]);
      const u = step.usage ?? { input_tokens: 1, output_tokens: 1 };
      send([], { usage: { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens, total_tokens: u.input_tokens + u.output_tokens } });
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/v1`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// --- The runs -----------------------------------------------------------------

describe('agent end to end on a small C project', { timeout: 240000 }, () => {
  test('the fixture fails its tests before any run (the bug is real)', () => {
    const s = scenario('fixture');
    const before = makeTest(s.root);
    assert.equal(before.ok, false, before.out);
    assert.match(before.out, /FAIL sum_to\(1\) = 0, want 1/);
  });

  test('(a) agent/run from an editor: read, grep, edit (as workspace/applyEdit), make test; questions answered in the editor', async () => {
    const s = scenario('editor');
    writeConfig(s, [READ, GREP, EDIT, MAKE, FIXED]);
    const answers = [];
    const editor = await startEditor(s, (params) => {
      answers.push(params.message);
      return 'Allow once';
    });
    try {
      const uri = editor.open('sum.c');
      const { result: r, events } = await editor.run({ prompt: 'The tests fail (make test). Find the bug in sum_to and fix it.' }, 'agent-e2e-a');
      assert.equal(r.stop, 'end_turn', JSON.stringify(r));
      assert.equal(r.turns, 5);
      assert.equal(r.text, FIXED.text);
      assert.deepEqual(r.toolCalls.map((c) => c.name), ['read_file', 'grep', 'edit_file', 'run_command']);
      for (const c of r.toolCalls) assert.equal(c.ok, true, `${c.name}: ${c.summary}`);
      assert.deepEqual(JSON.parse(r.toolCalls[2].arguments), EDIT.tool_calls[0].arguments);
      assert.match(r.toolCalls[0].summary, /sum\.c/);
      assert.deepEqual(r.usage, { inputTokens: 520, outputTokens: 60 });
      assert.match(r.conversation, /^[0-9a-f]{32}$/);
      // Reads asked nothing; the edit and the command were asked, in the editor.
      assert.equal(editor.questions.length, 2, JSON.stringify(editor.questions.map((q) => q.message)));
      assert.match(answers[0], /sum\.c/);
      assert.match(answers[1], /make test/);
      // The open document was edited through the editor (undoable there).
      assert.equal(editor.applied.length, 1);
      assert.equal(editor.applied[0].edit.documentChanges[0].textDocument.uri, uri);
      const onDisk = fs.readFileSync(path.join(s.root, 'sum.c'), 'utf8');
      assert.ok(onDisk.includes(FIXED_LOOP), onDisk);
      assert.equal(editor.docs.get(uri).text, onDisk);
      // The model's make test ran in the workspace (its binary is there) and passes now.
      assert.ok(fs.existsSync(path.join(s.root, 'test_sum')), 'make test built test_sum in the workspace');
      const now = makeTest(s.root);
      assert.equal(now.ok, true, now.out);
      // Every step streamed as partial results, in order.
      const kinds = events.map((e) => e.type);
      assert.equal(kinds.filter((k) => k === 'turn').length, 5, kinds.join());
      const calls = events.filter((e) => e.type === 'tool_call');
      const results = events.filter((e) => e.type === 'tool_result');
      assert.deepEqual(calls.map((e) => e.name), ['read_file', 'grep', 'edit_file', 'run_command']);
      assert.deepEqual(results.map((e) => [e.id, e.ok]), [['call_read', true], ['call_grep', true], ['call_edit', true], ['call_make', true]]);
      for (const e of [...calls, ...results]) assert.ok(typeof e.summary === 'string' && e.summary.length > 0 && !e.summary.includes('\n'), JSON.stringify(e));
      assert.ok(kinds.indexOf('tool_call') < kinds.indexOf('tool_result'));
      assert.equal(events.filter((e) => e.type === 'text').map((e) => e.text).join(''), FIXED.text);
      // The conversation is saved: agent/list shows it.
      const listed = await withTimeout(editor.conn.sendRequest('icotes/agent/list', {}), T, 'agent/list');
      const mine = listed.conversations.find((c) => c.id === r.conversation);
      assert.ok(mine, JSON.stringify(listed));
      assert.equal(mine.turns, 5);
      assert.match(mine.title, /The tests fail/);
    } finally {
      await editor.stop();
    }
  });

  test('(b) delegate from an MCP client: the questions arrive as elicitation', async () => {
    const s = scenario('mcp');
    writeConfig(s, [READ, GREP, EDIT, MAKE, FIXED]);
    const transport = new StdioClientTransport({
      command: requireBinary(), args: ['serve', '--standalone', '--root', s.root], env: s.env, stderr: 'pipe',
    });
    const client = new Client({ name: 'agent-e2e host', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      const choices = req.params.requestedSchema.properties.decision.enum;
      assert.ok(choices.includes('Allow once'), JSON.stringify(choices));
      return { action: 'accept', content: { decision: 'Allow once' } };
    });
    await client.connect(transport, { timeout: T });
    try {
      const tools = (await client.listTools()).tools;
      const delegate = tools.find((t) => t.name === 'delegate');
      assert.ok(delegate, `delegate in ${tools.map((t) => t.name)}`);
      assert.deepEqual(delegate.inputSchema.required, ['task']);
      for (const hidden of ['agent_run', 'agent_list', 'agent_resume']) assert.ok(!tools.some((t) => t.name === hidden), hidden);
      const r = await client.callTool({ name: 'delegate', arguments: { task: 'make test fails in this C project; fix sum_to.', provider: 'mock' } },
        undefined, { timeout: RUN_T });
      const text = r.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
      assert.notEqual(r.isError, true, text);
      assert.ok(text.startsWith(FIXED.text), text);
      for (const name of ['read_file', 'grep', 'edit_file', 'run_command']) assert.match(text, new RegExp(`^- ${name}`, 'm'), text);
      assert.doesNotMatch(text, /\(failed\)/);
      assert.equal(asked.length, 2, JSON.stringify(asked.map((a) => a.message)));
      assert.match(asked[0].message, /sum\.c/);
      assert.match(asked[1].message, /make test/);
      assert.ok(fs.readFileSync(path.join(s.root, 'sum.c'), 'utf8').includes(FIXED_LOOP));
      const now = makeTest(s.root);
      assert.equal(now.ok, true, now.out);
    } finally {
      await client.close();
    }
  });

  test('(c) the user denies the edit: the file is unchanged and the model is told why', async () => {
    const s = scenario('deny');
    const recorder = await startRecorder([READ, EDIT, GAVE_UP]);
    writeConfig(s, [READ, EDIT, GAVE_UP], { recorderUrl: recorder.url });
    const editor = await startEditor(s, (params) => {
      assert.match(params.message, /sum\.c/);
      return 'Deny';
    });
    try {
      for (const provider of ['mock', 'recorder']) {
        const { result: r, events } = await editor.run({ prompt: 'Fix sum_to in sum.c.', provider }, `agent-e2e-c-${provider}`);
        assert.equal(r.stop, 'end_turn', JSON.stringify(r));
        assert.equal(r.turns, 3, `${provider}: the run went on after the refusal`);
        assert.equal(r.text, GAVE_UP.text);
        assert.deepEqual(r.toolCalls.map((c) => [c.name, c.ok]), [['read_file', true], ['edit_file', false]]);
        assert.match(r.toolCalls[1].summary, /denied/, r.toolCalls[1].summary);
        const refused = events.find((e) => e.type === 'tool_result' && e.name === 'edit_file');
        assert.equal(refused?.ok, false, JSON.stringify(events));
        assert.equal(fs.readFileSync(path.join(s.root, 'sum.c'), 'utf8'), SUM_C, `${provider}: sum.c unchanged`);
      }
      assert.equal(editor.questions.length, 2, 'one question per run, for the edit');
      assert.equal(editor.applied.length, 0, 'no edit reached the editor');
      // What the model was sent: the tools (no delegate), then after the
      // refusal a tool message saying the user denied it.
      assert.equal(recorder.requests.length, 3);
      const offered = recorder.requests[0].tools.map((t) => t.function.name);
      for (const name of ['read_file', 'grep', 'edit_file', 'run_command']) assert.ok(offered.includes(name), offered.join());
      assert.ok(!offered.includes('delegate'), 'delegate is not offered to the delegate');
      assert.equal(recorder.requests[0].stream, true);
      const last = recorder.requests[2].messages;
      const toolMsg = last.find((m) => m.role === 'tool' && m.tool_call_id === 'call_edit');
      assert.ok(toolMsg, JSON.stringify(last));
      assert.match(toolMsg.content, /denied by the user/);
      assert.match(toolMsg.content, /sum\.c/);
      const readMsg = last.find((m) => m.role === 'tool' && m.tool_call_id === 'call_read');
      assert.match(readMsg.content, /i < n/, 'the model read the file');
    } finally {
      await editor.stop();
      await recorder.close();
    }
  });
});
