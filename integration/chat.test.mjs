// `icotes chat` from a script (standard input not a terminal): prompts piped
// in, one per line, against the workspace's real daemon and the `mock`
// provider (a scripted model, src/services/providers/mock.cpp) named in a
// temporary user config ($XDG_CONFIG_HOME/icotes/config.toml). The model's
// text streams out, its tool calls show as one line each, a permission
// question takes the next line as its answer ("Deny" leaves the file as it
// was), the conversation carries across prompts and is named at the end;
// with no provider configured the error says where to configure one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 60000;

// Runs `icotes chat` with `input` on stdin: {code, stdout, stderr}.
function chat(env, args, input) {
  const child = spawn(requireBinary(), ['chat', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input);
  return withTimeout(
    new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
    T,
    'icotes chat',
  );
}

function writeConfig(dir, text) {
  fs.mkdirSync(path.join(dir, 'icotes'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'icotes', 'config.toml'), text);
}

describe('icotes chat', () => {
  let root, runtime, config, state, env;
  before(() => {
    root = fs.realpathSync(tempDir('chat'));
    runtime = tempDir('chat-run');
    fs.chmodSync(runtime, 0o700);
    config = tempDir('chat-config');
    state = tempDir('chat-state');
    env = { ...process.env, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: config, XDG_STATE_HOME: state, NO_COLOR: '1' };
    delete env.ICOTES_TEST_OPERATIONS;
    fs.writeFileSync(path.join(root, 'notes.txt'), 'original text\n');
    // The mock plays its script from the start on each run (each prompt):
    // read the file, try to edit it (the user denies), say so.
    const script = [
      {
        reasoning: 'Thinking it over.',
        chunks: ['Let me ', 'look.'],
        tool_calls: [{ id: 'c1', name: 'read_file', arguments: { path: 'notes.txt' } }],
      },
      {
        chunks: ['The notes ', 'say: original text.'],
        tool_calls: [
          {
            id: 'c2',
            name: 'edit_file',
            arguments: { path: 'notes.txt', edits: [{ oldString: 'original', newString: 'changed' }] },
          },
        ],
      },
      { text: 'The edit was denied; nothing changed.' },
    ];
    // Each model call reports its tokens and cost (as OpenRouter does).
    for (const r of script) r.usage = { input_tokens: 10, output_tokens: 2, cost: 0.001 };
    fs.mkdirSync(path.join(config, 'icotes'), { recursive: true });
    fs.writeFileSync(path.join(config, 'icotes', 'script.json'), JSON.stringify(script));
    writeConfig(config, '[providers.m]\nkind = "mock"\nscript = "script.json"\n\n[agent]\nprovider = "m"\n');
  });
  after(() => {
    spawnSync(requireBinary(), ['daemon', 'stop', '--root', root], { env, stdio: 'ignore' });
    for (const d of [root, runtime, config, state]) removeDir(d);
  });

  test('streams the answers, shows tool calls, asks in the terminal; Deny leaves the file unchanged', async () => {
    // Each prompt asks once: answered by its words, then by its words in
    // lower case (a number works too).
    const r = await chat(env, ['--root', root], 'what do the notes say?\nDeny\nchange original to changed\ndeny\n');
    const out = r.stdout;
    assert.equal(r.code, 0, `exit status 0\nstdout:\n${out}\nstderr:\n${r.stderr}`);
    // The streamed text, in order, across both model calls of the first prompt.
    assert.match(out, /Let me look\./);
    assert.match(out, /The notes say: original text\./);
    assert.ok(out.indexOf('Let me look.') < out.indexOf('The notes say'), out);
    // A model's thinking is for a person at a terminal: not in piped output.
    assert.doesNotMatch(out, /Thinking it over/, out);
    // Tool calls, one plain-ASCII line each (stdout is no terminal, NO_COLOR).
    assert.match(out, /^\* read_file.*notes\.txt/m, out);
    assert.match(out, /^ {2}ok: /m, out);
    assert.match(out, /^\* edit_file.*notes\.txt/m, out);
    // The question with its numbered options, answered "Deny" from stdin.
    assert.match(out, /^\? .*notes\.txt/m, out);
    assert.match(out, /^ {2}\d\) Deny$/m, out);
    // The denied call's result line says so (the model is told too).
    assert.match(out.slice(out.indexOf('1) Allow once')), /^ {2}(failed|ok): .*denied/im, out);
    assert.match(out, /The edit was denied; nothing changed\./);
    assert.equal(out.match(/^\? /gm).length, 2, out);
    assert.equal(out.match(/nothing changed/g).length, 2, out);
    // After each run: its tokens and cost, summed over its three model calls.
    assert.equal(out.match(/^\(30 tokens in, 6 out, \$0\.0030\)$/gm)?.length, 2, out);
    assert.equal(fs.readFileSync(path.join(root, 'notes.txt'), 'utf8'), 'original text\n');
    // One conversation across both prompts, named at the end.
    const m = out.match(/resume with: icotes chat --resume (\S+)/);
    assert.ok(m, out);
    const list = spawnSync(requireBinary(), ['call', '--root', root, 'agent/list', '{}'], { env, encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    const conversations = JSON.parse(list.stdout).conversations;
    assert.equal(conversations.length, 1, list.stdout);
    assert.equal(conversations[0].id, m[1]);
  });

  test('no provider configured: the server says so and the README section is named', async () => {
    // A workspace and runtime of its own: its daemon reads this (empty) config.
    const empty = tempDir('chat-noconfig');
    const other = fs.realpathSync(tempDir('chat-other'));
    const otherRuntime = tempDir('chat-other-run');
    fs.chmodSync(otherRuntime, 0o700);
    const otherEnv = { ...env, XDG_CONFIG_HOME: empty, XDG_RUNTIME_DIR: otherRuntime };
    try {
      const r = await chat(otherEnv, ['--root', other], 'hello\n');
      assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.match(r.stdout, /error: .*provider/i);
      assert.match(r.stdout, /README\.md, "Providers"/);
    } finally {
      spawnSync(requireBinary(), ['daemon', 'stop', '--root', other], { env: otherEnv, stdio: 'ignore' });
      for (const d of [empty, other, otherRuntime]) removeDir(d);
    }
  });

  test('--help explains the chat', () => {
    const r = spawnSync(requireBinary(), ['chat', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const s of ['--provider', '--model', '--resume', '/new', 'Ctrl-C', 'Providers']) assert.ok(r.stdout.includes(s), s);
  });
});
