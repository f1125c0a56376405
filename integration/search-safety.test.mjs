// search/grep and search/glob on the real binary: followed links stay in the
// workspace (a link to /etc or to / shows nothing of the machine, and says
// which links were not followed), and a Read deny rule holds for a search
// of the parent directory, hidden files included (a count, never names).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

function call(root, method, params, rules = []) {
  const r = spawnSync(requireBinary(), ['call', '--in-process', '--root', root, ...rules, method, JSON.stringify(params)], {
    encoding: 'utf8', timeout: 60000, env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function workspace() {
  const root = tempDir('search-safety');
  const outside = tempDir('search-safety-outside');
  dirs.push(root, outside);
  fs.writeFileSync(path.join(outside, 'passwd'), 'root:x:0:0:MARKER\n');
  fs.mkdirSync(path.join(root, 'src'));
  fs.writeFileSync(path.join(root, 'src/a.txt'), 'MARKER in src\n');
  fs.mkdirSync(path.join(root, 'secret'));
  fs.writeFileSync(path.join(root, 'secret/key.txt'), 'MARKER key\n');
  fs.writeFileSync(path.join(root, 'secret/.token'), 'MARKER token\n');
  fs.mkdirSync(path.join(root, '.private'));
  fs.writeFileSync(path.join(root, '.private/p.txt'), 'MARKER private\n');
  return { root, outside };
}

describe('search stays in the workspace and honours Read deny rules', () => {
  test('followSymlinks: links to a directory outside, to /etc and to / are not followed, and are named', () => {
    const { root, outside } = workspace();
    fs.symlinkSync(outside, path.join(root, 'out_link'));
    fs.symlinkSync('/etc', path.join(root, 'etc_link'));
    fs.symlinkSync('/', path.join(root, 'root_link'));
    fs.symlinkSync(path.join(outside, 'passwd'), path.join(root, 'pw'));
    fs.symlinkSync('src', path.join(root, 'src_link'));
    const r = call(root, 'search/grep', { pattern: 'root:x:0:0', followSymlinks: true, outputMode: 'filesWithMatches' });
    assert.deepEqual(r.files, [], JSON.stringify(r));
    assert.match(r.note, /4 symbolic links were not followed: they lead outside the workspace \(etc_link, out_link, pw, root_link\)/);
    assert.ok(r.stats.filesSearched < 20, `searched ${r.stats.filesSearched} files: the walk left the workspace`);
    const inside = call(root, 'search/grep', { pattern: 'MARKER', followSymlinks: true, outputMode: 'filesWithMatches' });
    assert.deepEqual(inside.files, ['secret/key.txt', 'src/a.txt', 'src_link/a.txt']);
  });

  test('a Read deny rule holds for grep of the parent, with and without hidden, and for glob', () => {
    const { root } = workspace();
    const deny = ['--deny', 'Read(secret/**)', '--deny', 'Read(.private/**)'];
    const plain = call(root, 'search/grep', { pattern: 'MARKER', outputMode: 'filesWithMatches' }, deny);
    assert.deepEqual(plain.files, ['src/a.txt']);
    assert.equal(plain.note, '1 file was left out: a Read deny rule covers it.');
    const hidden = call(root, 'search/grep', { pattern: 'MARKER', hidden: true }, deny);
    assert.deepEqual(hidden.matches.map((m) => m.path), ['src/a.txt']);
    assert.equal(hidden.note, '3 files were left out: a Read deny rule covers them.');
    assert.doesNotMatch(JSON.stringify(hidden), /key|token|p\.txt/);
    const counts = call(root, 'search/grep', { pattern: 'MARKER', outputMode: 'count', hidden: true }, deny);
    assert.deepEqual(counts.counts.map((c) => c.path), ['src/a.txt']);
    const globbed = call(root, 'search/glob', { pattern: '**/*.txt', hidden: true }, deny);
    assert.deepEqual(globbed.files, ['src/a.txt']);
    assert.match(globbed.note, /2 files were left out: a Read deny rule covers them/);
    // Through a link, the file is judged where it really is.
    fs.symlinkSync('secret', path.join(root, 'public'));
    const linked = call(root, 'search/grep', { pattern: 'MARKER', followSymlinks: true, outputMode: 'filesWithMatches' }, deny);
    assert.deepEqual(linked.files, ['src/a.txt']);
    // Without a Read deny, nothing is left out and no note is added.
    const free = call(root, 'search/grep', { pattern: 'MARKER', outputMode: 'filesWithMatches', hidden: true });
    assert.deepEqual(free.files, ['.private/p.txt', 'secret/.token', 'secret/key.txt', 'src/a.txt']);
    assert.equal(free.note, undefined);
  });
});
