// `icotes mcp-config --host HOST`: each host's snippet parsed the way the
// host reads it (JSON for Cursor, VS Code, Gemini CLI and Zed; TOML for
// Codex; a shell command line for Claude Code), naming this binary and the
// canonical root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

function config(host, root) {
  const r = spawnSync(requireBinary(), ['mcp-config', '--host', host, '--root', root], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stderr.length > 0, 'says where the snippet goes');
  return r.stdout;
}

// POSIX sh word splitting for what the command uses: bare words, single
// quotes, and the '\'' idiom.
function shellSplit(line) {
  const words = [];
  let w = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated quote in ${line}`);
      w = (w ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      w = (w ?? '') + line[++i];
    } else if (c === ' ' || c === '\n') {
      if (w !== null) words.push(w);
      w = null;
    } else {
      assert.ok(!'"$`;&|<>(){}*?#~'.includes(c), `unquoted ${c} in ${line}`);
      w = (w ?? '') + c;
    }
  }
  if (w !== null) words.push(w);
  return words;
}

// The TOML the Codex snippet uses (TOML 1.0): table headers, keys with a
// basic string or an array of basic strings; anything else fails.
function parseToml(text) {
  const out = {};
  let table = out;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    let m = /^\[([A-Za-z0-9_.-]+)\]$/.exec(line);
    if (m) {
      table = out;
      for (const k of m[1].split('.')) table = table[k] ??= {};
      continue;
    }
    m = /^([A-Za-z0-9_-]+) = (.*)$/.exec(line);
    assert.ok(m, `not TOML this test reads: ${line}`);
    // TOML basic strings escape as JSON strings do (\" \\ \n \uXXXX).
    table[m[1]] = JSON.parse(m[2]);
    const v = table[m[1]];
    assert.ok(typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')), line);
  }
  return out;
}

describe('icotes mcp-config', () => {
  let root, binary;
  before(() => {
    // A root with a space and a quote, reached through a symlink: the
    // snippet names the canonical directory, quoted where it must be.
    const base = fs.realpathSync(tempDir('mcp-config'));
    root = path.join(base, "my 'work\"space");
    fs.mkdirSync(root);
    fs.symlinkSync(root, path.join(base, 'link'));
    binary = fs.realpathSync(requireBinary());
  });
  after(() => removeDir(path.dirname(root)));

  const expectServer = (s) => {
    assert.equal(s.command, binary);
    assert.deepEqual(s.args, ['serve', '--root', root]);
  };
  const link = () => path.join(path.dirname(root), 'link');

  test('claude-code: a command that splits into claude mcp add icotes -- BINARY serve --root ROOT', () => {
    const out = config('claude-code', link());
    assert.deepEqual(shellSplit(out.trim()), ['claude', 'mcp', 'add', 'icotes', '--', binary, 'serve', '--root', root]);
  });
  test('codex: a [mcp_servers.icotes] table', () => {
    expectServer(parseToml(config('codex', link())).mcp_servers.icotes);
  });
  test('cursor and gemini-cli: mcpServers', () => {
    for (const host of ['cursor', 'gemini-cli']) expectServer(JSON.parse(config(host, link())).mcpServers.icotes);
  });
  test('vscode: servers with type stdio', () => {
    const s = JSON.parse(config('vscode', link())).servers.icotes;
    assert.equal(s.type, 'stdio');
    expectServer(s);
  });
  test('zed: context_servers', () => {
    const s = JSON.parse(config('zed', link())).context_servers.icotes;
    assert.equal(s.source, 'custom');
    expectServer(s);
  });
  test('an unknown host or a missing root is refused', () => {
    assert.notEqual(spawnSync(requireBinary(), ['mcp-config', '--host', 'emacs'], { encoding: 'utf8' }).status, 0);
    const r = spawnSync(requireBinary(), ['mcp-config', '--host', 'codex', '--root', path.join(root, 'nope')], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
  });
});
