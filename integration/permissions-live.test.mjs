// Permission changes reach a running daemon at once: an MCP client (the
// SDK) attached to the workspace's daemon is denied, `icotes permissions
// allow` grants, the next call passes without a restart; a deny added to
// .icotes/config.toml while it runs applies to the next call; revoke takes
// the grant back. Patterns are saved as rules; an unreadable grant database
// leaves reads working.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const T = 15000;
const dirs = [];
const roots = [];
after(() => {
  for (const r of roots) spawnSync(requireBinary(), ['daemon', 'stop', '--root', r], { env: envOf(r), timeout: T });
  for (const d of dirs) removeDir(d);
});

function envOf(root) {
  return { ...process.env, XDG_STATE_HOME: path.join(path.dirname(root), 'state'), XDG_RUNTIME_DIR: path.join(path.dirname(root), 'run') };
}

function workspace(prefix) {
  const dir = tempDir(prefix);
  dirs.push(dir);
  const root = path.join(dir, 'ws');
  fs.mkdirSync(path.join(root, 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o700 });
  fs.writeFileSync(path.join(root, 'src/a.txt'), 'alpha\n');
  roots.push(root);
  return root;
}

async function mcp(root) {
  const transport = new StdioClientTransport({ command: requireBinary(), args: ['serve', '--root', root], env: envOf(root), stderr: 'inherit' });
  const client = new Client({ name: 'live-test', version: '1.0.0' });
  await client.connect(transport);
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout: T });
    return { error: r.isError === true, text: r.content.map((c) => c.text).join('\n') };
  };
  return { client, call };
}

const cli = (root, ...args) => spawnSync(requireBinary(), ['permissions', '--root', root, ...args], { env: envOf(root), encoding: 'utf8', timeout: T });

describe('permission changes reach the running daemon', { timeout: 120000 }, () => {
  test('CLI allow, config.toml deny, revoke: each decides the next call', async () => {
    const root = workspace('live');
    const { client, call } = await mcp(root);
    let r = await call('write_file', { path: 'src/b.txt', content: 'B' });
    assert.equal(r.error, true, r.text);
    // The tool the model called, a useful scope, nothing about an editor it has not got.
    assert.match(r.text, /^Error: write_file: permission denied/);
    assert.doesNotMatch(r.text, /files\/write|your editor/);
    assert.match(r.text, /icotes permissions allow 'Edit\(src\/\)'/);
    assert.match(r.text, /icotes permissions mode acceptEdits/);
    // A pattern is a rule: it matches from the next call on.
    let c = cli(root, 'allow', 'Edit(src/**)');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /allowed Edit\(src\/\*\*\): a rule for file writes and edits \(EditFile, WriteFile\), paths matching src\/\*\*/);
    r = await call('write_file', { path: 'src/b.txt', content: 'B' });
    assert.equal(r.error, false, r.text);
    assert.equal(fs.readFileSync(path.join(root, 'src/b.txt'), 'utf8'), 'B');
    // Revoked: denied again.
    c = cli(root, 'revoke', 'Edit(src/**)');
    assert.equal(c.status, 0, c.stderr);
    r = await call('write_file', { path: 'src/c.txt', content: 'C' });
    assert.equal(r.error, true, r.text);
    // A grant of one file.
    c = cli(root, 'allow', 'Edit(src/c.txt)');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /scope specific: the file src\/c\.txt/);
    r = await call('write_file', { path: 'src/c.txt', content: 'C' });
    assert.equal(r.error, false, r.text);
    // A deny rule added to config.toml while the daemon runs.
    r = await call('read_file', { path: 'src/a.txt' });
    assert.equal(r.error, false, r.text);
    fs.writeFileSync(path.join(root, '.icotes/config.toml'), '[permissions]\ndeny = ["Read(src/a.txt)"]\n');
    r = await call('read_file', { path: 'src/a.txt' });
    assert.equal(r.error, true, r.text);
    assert.match(r.text, /read_file: permission denied .*rule Read\(src\/a\.txt\)/);
    fs.writeFileSync(path.join(root, '.icotes/config.toml'), '[permissions]\n');
    r = await call('read_file', { path: 'src/a.txt' });
    assert.equal(r.error, false, r.text);
    // Bash rules; the denial quotes the line as the shell reads it and offers the program's rule.
    r = await call('run_command', { command: "python3 -c 'print(1+1)'" });
    assert.equal(r.error, true, r.text);
    assert.ok(r.text.includes(`icotes permissions allow 'Bash(python3 -c '\\''print(1+1)'\\'')'`), r.text);
    assert.ok(r.text.includes(`icotes permissions allow 'Bash(python3:*)'`), r.text);
    const quoted = r.text.match(/`(icotes permissions allow 'Bash\(python3 -c [^`]*)`/)[1];
    const argv = execFileSync('bash', ['-c', `printf '%s\\n' ${quoted.slice('icotes permissions allow '.length)}`], { encoding: 'utf8' });
    assert.equal(argv, "Bash(python3 -c 'print(1+1)')\n", 'the suggested command is one shell word');
    c = cli(root, 'allow', 'Bash(echo:*)');
    assert.equal(c.status, 0, c.stderr);
    r = await call('run_command', { command: 'echo hi' });
    assert.equal(r.error, false, r.text);
    assert.match(r.text, /hi/);
    // A saved deny is called a deny.
    c = cli(root, 'deny', 'Edit(src/d.txt)');
    assert.equal(c.status, 0, c.stderr);
    c = cli(root, 'mode', 'acceptEdits');
    assert.equal(c.status, 0, c.stderr);
    r = await call('write_file', { path: 'src/e.txt', content: 'E' });
    assert.equal(r.error, false, `mode acceptEdits applies at once: ${r.text}`);
    r = await call('write_file', { path: 'src/d.txt', content: 'D' });
    assert.equal(r.error, true, r.text);
    assert.match(r.text, /a saved deny/);  // saved as a rule: judged before anything allows
    assert.match(r.text, /icotes permissions revoke 'Edit\(src\/d\.txt\)'/);
    // Nothing a client asks for on its own command line lifts a deny saved for the workspace.
    for (const flags of [['--allow', 'Edit(src/**)'], ['--permission-mode', 'bypass']]) {
      const w = spawnSync(requireBinary(), ['call', '--root', root, ...flags, 'files/write', JSON.stringify({ path: 'src/d.txt', content: 'D' })],
        { env: envOf(root), encoding: 'utf8', timeout: T });
      assert.notEqual(w.status, 0, `${flags.join(' ')}: ${w.stdout}`);
      assert.match(w.stderr + w.stdout, /permission denied/, flags.join(' '));
    }
    assert.equal(fs.existsSync(path.join(root, 'src/d.txt')), false);
    await client.close();
  });

  test('invalid rules are refused with what to write', () => {
    const root = workspace('live-bad');
    for (const [what, re] of [['Bash()', /names nothing/], ['Frob(x)', /unknown kind 'Frob'/], ['Edit(src', /missing '\)'/],
      ['Bash(ls; rm:*)', /one command/], ['Bash(git:*diff)', /':\*' must end/]]) {
      const c = cli(root, 'allow', what);
      assert.equal(c.status, 2, `${what}: ${c.stdout}`);
      assert.match(c.stderr, re, what);
    }
    const c = cli(root, 'mode', 'bypass');
    assert.equal(c.status, 2);
    assert.equal(cli(root, 'list').status, 0);
    assert.deepEqual(JSON.parse(cli(root, 'list').stdout).grants, [], 'nothing was saved');
  });

  test('an unreadable grant database leaves reads working', () => {
    const root = workspace('live-ro');
    assert.equal(cli(root, 'allow', 'Edit(src/a.txt)').status, 0);
    const db = path.join(root, '.icotes/permissions.sqlite');
    // root reads any file: a directory in its place is unreadable as a database to everyone.
    fs.rmSync(db);
    fs.mkdirSync(db);
    const r = spawnSync(requireBinary(), ['call', '--root', root, 'files/read', '{"path":"src/a.txt"}'], { env: envOf(root), encoding: 'utf8', timeout: T });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /alpha/);
    assert.match(r.stderr, /saved grants unavailable/);
    const g = cli(root, 'allow', 'Edit(src/b.txt)');
    assert.notEqual(g.status, 0);
    assert.match(g.stderr, /permission store/);
  });
});
