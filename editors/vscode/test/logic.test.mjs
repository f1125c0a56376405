// Unit tests of the extension's logic that needs no VS Code (src/logic.ts,
// src/questions.ts, src/terminal.ts compiled to out/ by `npm run compile`).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const logic = require('../out/logic.js');
const { answerQuestion } = require('../out/questions.js');
const { TerminalRouter } = require('../out/terminal.js');

test('serverArgs: serve --stdio, extra args, the folder as --root (a --root in the args is dropped)', () => {
  assert.deepEqual(logic.serverArgs({ args: [] }, '/w'), ['serve', '--stdio', '--root', '/w']);
  assert.deepEqual(logic.serverArgs({ args: ['--allow', 'Bash(make test)', '--root', '/x', '--root=/y', '--stdio'] }, '/w'), [
    'serve', '--stdio', '--allow', 'Bash(make test)', '--root', '/w',
  ]);
  assert.deepEqual(logic.serverArgs({ args: ['serve', '--standalone'] }, '/w'), ['serve', '--stdio', '--standalone', '--root', '/w']);
  assert.deepEqual(logic.mcpServerArgs('/w'), ['serve', '--root', '/w']);
});

test('initializationOptions: a mode of this editor, none when empty, bypass refused', () => {
  assert.equal(logic.initializationOptions(''), undefined);
  assert.deepEqual(logic.initializationOptions('acceptEdits'), { permissions: { mode: 'acceptEdits' } });
  assert.throws(() => logic.initializationOptions('bypass'), /must be one of default, acceptEdits, readOnly/);
});

test('backoff: doubles from 0.5 s, capped at 30 s; first restart after 0.5 s; healthy after a minute; gives up after 8 quick restarts', () => {
  assert.deepEqual([0, 1, 2, 3, 6, 7, 50].map((a) => logic.backoffMs(a)), [500, 1000, 2000, 4000, 30000, 30000, 30000]);
  assert.equal(logic.backoffMs(-3), 500);
  assert.equal(logic.nextAttempt(-1, 100), 0); // the first restart: after 0.5 s
  assert.equal(logic.nextAttempt(0, 100), 1);
  assert.equal(logic.nextAttempt(5, 60000), 0);
  assert.equal(logic.nextAttempt(6, 10), 7);
  assert.equal(logic.nextAttempt(7, 10), undefined); // 8 quick restarts, then stop
});

test('statusText: mode, shared daemon, questions; the other states', () => {
  const c = logic.statusText({ state: 'connected', folders: 1, clients: 3, mode: 'acceptEdits', questions: 1 });
  assert.equal(c.text, '$(check) icotes: acceptEdits · 3 clients $(question) 1');
  assert.match(c.tooltip, /daemon shared with 2 other clients/);
  assert.match(c.tooltip, /permission mode: acceptEdits \(workspace\)/);
  assert.match(c.tooltip, /1 permission question waiting/);
  const alone = logic.statusText({ state: 'connected', folders: 1, clients: 1, mode: 'default', ownMode: 'readOnly' });
  assert.equal(alone.text, '$(check) icotes: readOnly');
  assert.match(alone.tooltip, /the only client of its daemon/);
  assert.match(alone.tooltip, /readOnly \(this editor, icotes.permissionMode\)/);
  assert.match(logic.statusText({ state: 'restarting', folders: 1, retryInMs: 2000 }).tooltip, /restarting in 2 s/);
  assert.equal(logic.statusText({ state: 'failed', folders: 1 }).text, '$(error) icotes');
  assert.equal(logic.statusText({ state: 'stopped', folders: 1 }).text, '$(debug-disconnect) icotes');
});

const choices = ['Allow once', 'Allow this session', 'Always allow this file', 'Always allow in src/', 'Always allow in this project', 'Deny'];
const actions = choices.map((title) => ({ title }));

test('questionView: a notification sentence; three buttons with Deny, the rest behind More…', () => {
  const v = logic.questionView('icotes: claude-code wants to edit_file (Edit) on src/main.c. Allow it?', actions);
  assert.equal(v.text, 'icotes: claude-code wants to edit_file src/main.c (Edit)');
  assert.deepEqual(v.buttons, ['Allow once', 'Allow this session', 'Deny', logic.MORE]);
  assert.deepEqual(v.more, ['Always allow this file', 'Always allow in src/', 'Always allow in this project']);
  const b = logic.questionView('icotes: codex wants to exec (Bash) running: make test. Allow it?', actions.slice(0, 2));
  assert.equal(b.text, 'icotes: codex wants to run `make test` (exec, Bash)');
  assert.deepEqual(b.buttons, ['Allow once', 'Allow this session']);
  assert.equal(logic.questionView('Something else?', []).text, 'icotes: Something else?');
});

function fakeUi(notifyAnswer, pickAnswer) {
  const seen = [];
  return {
    seen,
    notify: async (text, buttons) => (seen.push({ text, buttons }), notifyAnswer),
    pick: async (titles, placeHolder) => (seen.push({ titles, placeHolder }), pickAnswer),
  };
}

test('answerQuestion: a button, More… then a pick, a dismissal, a withdrawn question', async () => {
  const message = 'icotes: x wants to edit_file (Edit) on a.txt. Allow it?';
  assert.deepEqual(await answerQuestion({ message, actions }, fakeUi('Deny')), { title: 'Deny' });
  const ui = fakeUi(logic.MORE, 'Always allow in this project');
  assert.deepEqual(await answerQuestion({ message, actions }, ui), { title: 'Always allow in this project' });
  assert.deepEqual(ui.seen[1].titles, choices);
  assert.equal(await answerQuestion({ message, actions }, fakeUi(undefined)), null);
  assert.equal(await answerQuestion({ message, actions }, fakeUi('Not a choice')), null);
  // Withdrawn ($/cancelRequest) while on screen: null at once.
  let cancel;
  const token = { isCancellationRequested: false, onCancellationRequested: (l) => ((cancel = l), { dispose() {} }) };
  const never = { notify: () => new Promise(() => {}), pick: () => new Promise(() => {}) };
  const p = answerQuestion({ message, actions }, never, token);
  token.isCancellationRequested = true;
  cancel();
  assert.equal(await p, null);
});

const root = 'file:///w';
const pos = (line, character) => ({ line, character });

test('buildEditorContext: UTF-16 ranges kept, files outside the folder left out, limits applied', () => {
  const ctx = logic.buildEditorContext(
    {
      activeUri: `${root}/src/a.ts`,
      languageId: 'typescript',
      selections: [{ start: pos(1, 2), end: pos(1, 6), text: 'é😀x' }],
      visibleRanges: [
        { uri: `${root}/src/a.ts`, range: { start: pos(0, 0), end: pos(40, 3) } },
        { uri: 'file:///elsewhere/b.ts', range: { start: pos(0, 0), end: pos(1, 0) } },
      ],
      openTabs: [`${root}/src/a.ts`, `${root}/b.md`, `${root}/src/a.ts`, 'file:///wx/c.ts'],
      diagnostics: [
        { uri: `${root}/b.md`, range: { start: pos(0, 0), end: pos(0, 1) }, severity: 1, message: 'other file' },
        { uri: `${root}/src/a.ts`, range: { start: pos(2, 0), end: pos(2, 1) }, severity: 2, message: 'warn here' },
        { uri: 'file:///elsewhere/b.ts', range: { start: pos(0, 0), end: pos(0, 1) }, severity: 1, message: 'outside' },
      ],
      roots: [root],
    },
    { ...logic.CONTEXT_LIMITS, selectionChars: 2 },
  );
  assert.equal(ctx.uri, `${root}/src/a.ts`);
  assert.equal(ctx.languageId, 'typescript');
  // Clipped at 2 UTF-16 units, never inside a surrogate pair.
  assert.deepEqual(ctx.selection, { start: pos(1, 2), end: pos(1, 6), text: 'é', truncated: true });
  assert.equal(ctx.selections.length, 1);
  assert.deepEqual(ctx.visibleRanges.map((v) => v.uri), [`${root}/src/a.ts`]);
  assert.deepEqual(ctx.openBuffers, [`${root}/src/a.ts`, `${root}/b.md`]);
  assert.deepEqual(ctx.diagnostics.map((d) => d.message), ['warn here', 'other file']);
  const outside = logic.buildEditorContext({ activeUri: 'file:///elsewhere/x', selections: [{ start: pos(0, 0), end: pos(0, 1), text: 's' }], visibleRanges: [], openTabs: [], diagnostics: [], roots: [root] });
  assert.equal(outside.uri, null);
  assert.equal(outside.selection, null);
});

test('contextEnabled: on/off, or advertised by the initialize result', () => {
  assert.equal(logic.contextEnabled('on', {}), true);
  assert.equal(logic.contextEnabled('off', { experimental: { icotesEditorContext: true } }), false);
  assert.equal(logic.contextEnabled('auto', { experimental: { icotes: { operations: true } } }), false);
  assert.equal(logic.contextEnabled('auto', { experimental: { icotesEditorContext: true } }), true);
  assert.equal(logic.contextEnabled('auto', { experimental: { icotes: { editorContext: true } } }), true);
  assert.equal(logic.contextEnabled('auto', undefined), false);
});

test('debounce: one call after the last of a burst; cancel drops it', () => {
  const timers = [];
  const fake = { set: (fn, ms) => (timers.push({ fn, ms, live: true }), timers.length - 1), clear: (i) => (timers[i].live = false) };
  let calls = 0;
  const d = logic.debounce(() => calls++, 300, fake);
  d();
  d();
  d();
  assert.deepEqual(timers.map((t) => t.live), [false, false, true]);
  timers[2].fn();
  assert.equal(calls, 1);
  d();
  d.cancel();
  assert.equal(timers[3].live, false);
});

test('grantText and logLine', () => {
  assert.equal(logic.grantText({ kind: 'Edit', scope: 'file', value: 'src/a.c', answer: 'allow' }), 'allow Edit file src/a.c');
  assert.equal(logic.grantText({ kind: 'Edit', scope: 'project' }), 'allow Edit project');
  assert.equal(
    logic.logLine({ time: 0, client: 'c', operation: 'files/edit', kind: 'Edit', target: 'a', answer: 'allow', decidedBy: 'grant' }),
    '1970-01-01 00:00:00Z  c  files/edit  Edit  a  allow  grant',
  );
});

test('TerminalRouter: keys typed early kept, create, subscribe from 0, output and exit routed by id, close kills and unsubscribes', async () => {
  const calls = [];
  const rpc = {
    request: async (method, params) => {
      calls.push([method, params]);
      if (method === 'icotes/terminal/create') return { id: 't1' };
      if (method === 'icotes/events/subscribe') return { subscription: 7 };
      return {};
    },
  };
  const router = new TerminalRouter();
  const got = [];
  const t = router.create(rpc, { output: (s) => got.push(s), exit: (code, how) => got.push(`exit ${code} ${how}`) });
  await t.write('typed early\r'); // before the terminal exists: kept
  assert.equal(calls.length, 0);
  assert.equal(await t.open(100, 30), 't1');
  assert.deepEqual(calls[0], ['icotes/terminal/create', { cols: 100, rows: 30 }]);
  assert.deepEqual(calls.splice(1, 1), [['icotes/terminal/write', { id: 't1', data: 'typed early\r' }]]);
  assert.deepEqual(calls[1], ['icotes/events/subscribe', { topics: ['terminal/t1/output', 'terminal/t1/exit'], since: 0 }]);
  router.onEvent({ topic: 'terminal/t1/output', data: { data: 'hi\r\n', offset: 0 } });
  router.onEvent({ topic: 'terminal/t2/output', data: { data: 'not mine' } });
  await t.write('ls\r');
  await t.resize(100, 30); // unchanged: not sent
  await t.resize(120, 40);
  assert.deepEqual(calls.slice(2), [['icotes/terminal/write', { id: 't1', data: 'ls\r' }], ['icotes/terminal/resize', { id: 't1', cols: 120, rows: 40 }]]);
  router.onEvent({ topic: 'terminal/t1/exit', data: { exitCode: 0, signal: null } });
  assert.deepEqual(got, ['hi\r\n', 'exit 0 code 0']);
  await t.close();
  assert.deepEqual(calls.slice(4), [['icotes/events/unsubscribe', { subscription: 7 }]]); // exited: no kill
});

test('TerminalCore: one write in flight; keys typed meanwhile go after it, together, in order', async () => {
  const sent = [];
  const replies = [];
  const rpc = {
    request: (method, params) => {
      if (method === 'icotes/terminal/create') return Promise.resolve({ id: 't1' });
      if (method === 'icotes/events/subscribe') return Promise.resolve({ subscription: 1 });
      sent.push(params.data);
      return new Promise((resolve) => replies.push(resolve));
    },
  };
  const t = new TerminalRouter().create(rpc, { output: () => {}, exit: () => {} });
  await t.open(80, 24);
  const first = t.write('e');
  t.write('c');
  const last = t.write('ho\r');
  assert.deepEqual(sent, ['e']); // the others wait for its reply
  replies.shift()({});
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, ['e', 'cho\r']);
  replies.shift()({});
  await Promise.all([first, last]);
  t.write('x');
  assert.deepEqual(sent, ['e', 'cho\r', 'x']); // idle again: sent at once
  replies.shift()({});
});
