// The git service's safety rules through the real executable and the
// icotes-git module it loads: the client's Read deny rules and write check
// cross the module boundary with each call (include/git/icotes/git_module.hpp,
// git::Policy). The cases themselves are covered in depth by
// tests/unit/git_safety_test.cpp.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com',
  GIT_COMMITTER_NAME: 'C', GIT_COMMITTER_EMAIL: 'c@example.com',
};

function repo() {
  const root = tempDir('icotes-git-safety-');
  dirs.push(root);
  const git = (...args) => execFileSync('git', ['-C', root, ...args], { env: GIT_ENV, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(root, 'public.txt'), 'hello\n');
  fs.writeFileSync(path.join(root, 'secret.env'), 'TOKEN=hunter2\n');
  git('add', '-A');
  git('commit', '-qm', 'base');
  return { root, git };
}

// `icotes call` in process: the same registry, door and module a server uses.
function call(root, args, method, params) {
  const r = spawnSync(requireBinary(), ['call', '--in-process', '--compact', '--root', root, ...args, method,
    JSON.stringify(params)], {
    env: { ...GIT_ENV, XDG_STATE_HOME: path.join(root, '.git', 'icotes-test-state') }, encoding: 'utf8',
    timeout: 30000,
  });
  if (r.status === 0) return { ok: JSON.parse(r.stdout) };
  return { error: JSON.parse(r.stderr.slice(r.stderr.indexOf('{'))) };
}

describe('git service safety through the module', { timeout: 60000 }, () => {
  test('a Read deny rule leaves the file out of git_diff and git_show, and refuses its blame', () => {
    const { root, git } = repo();
    fs.writeFileSync(path.join(root, 'secret.env'), 'TOKEN=correcthorse\n');
    fs.writeFileSync(path.join(root, 'public.txt'), 'hello world\n');
    const deny = ['--deny', 'Read(secret.env)'];
    const diff = call(root, deny, 'git/diff', {});
    assert.ok(diff.ok, JSON.stringify(diff));
    assert.doesNotMatch(diff.ok.text, /correcthorse|hunter2|secret\.env/);
    assert.match(diff.ok.text, /public\.txt/);
    assert.match(diff.ok.note, /Read deny rule.*secret\.env/);
    // Without the rule: git's own output, the file included.
    assert.match(call(root, [], 'git/diff', {}).ok.text, /correcthorse/);
    git('commit', '-qam', 'change');
    const show = call(root, deny, 'git/show', { rev: 'HEAD' });
    assert.doesNotMatch(show.ok.text, /correcthorse|hunter2/);
    const blame = call(root, ['--deny', 'Read(secret.env)'], 'git/blame', { path: 'public.txt' });
    assert.ok(blame.ok, JSON.stringify(blame));
    // blame and show of the file itself: the gate refuses the named path.
    assert.ok(call(root, deny, 'git/blame', { path: 'secret.env' }).error);
    assert.ok(call(root, deny, 'git/show', { rev: 'HEAD', path: 'secret.env' }).error);
  });

  test('a branch that would write .icotes/ or a denied path is refused whole', () => {
    const { root, git } = repo();
    git('checkout', '-qb', 'evil');
    fs.mkdirSync(path.join(root, '.icotes'));
    fs.writeFileSync(path.join(root, '.icotes', 'config.toml'), 'mode = "bypass"\n');
    fs.writeFileSync(path.join(root, 'public.txt'), 'changed\n');
    git('add', '-f', '.icotes', 'public.txt');
    git('commit', '-qm', 'evil');
    git('checkout', '-q', 'main');
    assert.equal(fs.existsSync(path.join(root, '.icotes')), false);
    const allow = ['--permission-mode', 'acceptEdits', '--allow', 'GitWrite'];
    const r = call(root, allow, 'git/branch', { action: 'switch', name: 'evil' });
    assert.ok(r.error, JSON.stringify(r));
    assert.match(r.error.message, /\.icotes\/config\.toml/);
    assert.equal(r.error.data.path, '.icotes/config.toml');
    assert.equal(fs.existsSync(path.join(root, '.icotes')), false);
    assert.equal(fs.readFileSync(path.join(root, 'public.txt'), 'utf8'), 'hello\n');
    assert.equal(git('branch', '--show-current').trim(), 'main');

    // A deny rule on a path the switch changes (the client's write check).
    git('checkout', '-qb', 'other');
    fs.writeFileSync(path.join(root, 'secret.env'), 'TOKEN=rotated\n');
    git('commit', '-qam', 'rotate');
    git('checkout', '-q', 'main');
    const denied = call(root, [...allow, '--deny', 'Edit(secret.env)'], 'git/branch', { action: 'switch', name: 'other' });
    assert.ok(denied.error, JSON.stringify(denied));
    assert.match(denied.error.message, /secret\.env.*Edit\(secret\.env\)/);
    assert.equal(fs.readFileSync(path.join(root, 'secret.env'), 'utf8'), 'TOKEN=hunter2\n');
    assert.ok(call(root, allow, 'git/branch', { action: 'switch', name: 'other' }).ok);
  });
});
