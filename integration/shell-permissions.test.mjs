// Bash permission rules on the real binary (`icotes call`, which nobody can
// be asked from: what needs asking is denied). Each attack is a command an
// AI could send with only harmless-looking rules in place; it must be
// refused and leave no trace, while the harmless form still runs:
//  - `$'\c'` ending where the shell ends it (bash and dash alike), so the
//    `touch` after it is a command of its own; a backslash-newline joined
//    before the line is read (`<<\<newline>-EOF` is `<<-EOF`);
//  - a client-supplied environment (GIT_CONFIG_* turning `git status` into
//    any command) through run_command and terminal_create, which runs
//    unsandboxed and could write outside the workspace;
//  - a `for` loop setting PATH before an allowed command;
//  - a line of several commands, each allowed by a different rule;
//  - a deny rule naming any command of the line, even with an allow-all rule.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const T = 60000;
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

function workspace(prefix) {
  const root = tempDir(prefix);
  dirs.push(root);
  fs.mkdirSync(path.join(root, '.state'));
  execFileSync('git', ['init', '-q', root]);
  return root;
}

// `icotes call` with rules; returns {status, stdout, stderr}.
function call(root, rules, method, params) {
  const args = ['call', '--root', root];
  for (const r of rules.allow ?? []) args.push('--allow', r);
  for (const r of rules.deny ?? []) args.push('--deny', r);
  args.push(method, JSON.stringify(params));
  const env = { ...process.env, XDG_STATE_HOME: path.join(root, '.state') };
  for (const k of Object.keys(env)) if (k.startsWith('GIT_')) delete env[k];
  return spawnSync(requireBinary(), args, { env, encoding: 'utf8', timeout: T });
}

const denied = (r) => {
  assert.equal(r.status, 1, `expected a denial, got ${r.status}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /permission denied/);
};
const ran = (r) => assert.equal(r.status, 0, `expected it to run: ${r.stdout}${r.stderr}`);

describe('Bash rules on the real binary', { timeout: 120000 }, () => {
  test("$'\\c' does not hide the command after it", () => {
    const root = workspace('shell-ansi-c');
    const rules = { allow: ['Bash(echo:*)'] };
    const r = call(root, rules, 'exec/run', { command: "echo $'\\c'; touch PWNED; echo '\\'" });
    denied(r);
    assert.match(r.stderr, /touch PWNED/);
    assert.equal(fs.existsSync(path.join(root, 'PWNED')), false, 'touch must not have run');
    ran(call(root, rules, 'exec/run', { command: "echo $'a\\tb'" }));
  });

  test('a line continuation is joined before the line is read: <<\\<newline>- is <<-', () => {
    const root = workspace('shell-continuation');
    const rules = { allow: ['Bash(cat:*)'] };
    const r = call(root, rules, 'exec/run', { command: 'cat <<\\\n-EOF\n\tEOF\ntouch PWNED\n-EOF' });
    denied(r);
    assert.equal(fs.existsSync(path.join(root, 'PWNED')), false, 'touch must not have run');
    ran(call(root, rules, 'exec/run', { command: 'cat <<-EOF\n\tbody\n\tEOF' }));
  });

  test('a client environment is part of the command: run_command and terminal_create', () => {
    const root = workspace('shell-env');
    const outside = tempDir('shell-env-outside');
    dirs.push(outside);
    const marker = path.join(outside, 'PWNED');
    const env = {
      GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.fsmonitor', GIT_CONFIG_VALUE_0: `touch ${marker}; false`,
    };
    const rules = { allow: ['Bash(git status:*)'] };
    let r = call(root, rules, 'exec/run', { command: 'git status', env });
    denied(r);
    assert.match(r.stderr, /env GIT_CONFIG_COUNT=1/);
    r = call(root, rules, 'exec/run', { argv: ['git', 'status'], env });
    denied(r);
    r = call(root, rules, 'terminal/create', { shell: 'git', args: ['status'], env });
    denied(r);
    assert.equal(fs.existsSync(marker), false, 'the fsmonitor command must not have run');
    // Harmless variables need no rule; without the environment it runs.
    ran(call(root, rules, 'exec/run', { command: 'git status', env: { TERM: 'dumb', LC_ALL: 'C', NO_COLOR: '1' } }));
    ran(call(root, rules, 'exec/run', { argv: ['git', 'status'] }));
    // Names execve cannot carry are refused.
    r = call(root, { allow: ['Bash'] }, 'exec/run', { command: 'true', env: { 'A=B': 'c' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'A=B' is not a variable name/);
  });

  test('a loop variable such as PATH is an assignment the rules must name', () => {
    const root = workspace('shell-for');
    fs.mkdirSync(path.join(root, 'evil'));
    fs.writeFileSync(path.join(root, 'evil/ls'), '#!/bin/sh\n/usr/bin/touch PWNED\n', { mode: 0o755 });
    const rules = { allow: ['Bash(ls:*)'] };
    const r = call(root, rules, 'exec/run', { command: 'for PATH in ./evil; do ls; done' });
    denied(r);
    assert.equal(fs.existsSync(path.join(root, 'PWNED')), false, './evil/ls must not have run');
    ran(call(root, rules, 'exec/run', { command: 'for d in evil .; do ls $d; done' }));
  });

  test('each command of a line by one of the rules; deny rules name any of them', () => {
    const root = workspace('shell-each');
    fs.writeFileSync(path.join(root, 'keep.txt'), 'x');
    const r = call(root, { allow: ['Bash(ls:*)', 'Bash(echo:*)'] }, 'exec/run', { command: 'ls; echo hi' });
    ran(r);
    assert.match(JSON.parse(r.stdout).stdout, /keep\.txt\nhi\n/);
    const deny = { allow: ['Bash(*)'], deny: ['Bash(rm:*)'] };
    for (const command of ['ls; rm -f keep.txt', 'ls && FOO=1 /bin/rm -f keep.txt', 'ls | xargs rm -f']) {
      const d = call(root, deny, 'exec/run', { command });
      denied(d);
      assert.match(d.stderr, /rule Bash\(rm:\*\)/);
    }
    // An opaque line cannot be checked against the deny rule: asked (so denied here), not allowed by Bash(*).
    const opaque = call(root, deny, 'exec/run', { command: 'case x in x) rm -f keep.txt;; esac' });
    denied(opaque);
    assert.match(opaque.stderr, /deny rules cannot judge/);
    assert.equal(fs.readFileSync(path.join(root, 'keep.txt'), 'utf8'), 'x');
  });
});
