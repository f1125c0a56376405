// A generated workspace with the shapes that make tool results large, for
// the result-budget test (budget.test.mjs) and bench/text_bytes.mjs (not a
// test file). Deterministic: the same files and the same commit ids on every
// machine (seeded content, fixed identities and dates).
//
//   big/                 12,000 small files in one folder
//   node_modules/        git-ignored, three levels deep (2,100 entries)
//   src/                 763 code files over 38 folders, all changed by one
//                        commit (tag big-commit) and 150 small commits after it
//   README.md            772 lines written by 4 authors over 24 commits (blame)
//   data/large-{1,2,3}.log  300 KB each
//   a working-tree change of about 85 KB of patch (git diff)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const VERSION = '1';  // bump when the layout changes: a kept copy is remade
const AUTHORS = [['Ada Lovelace', 'ada@example.org'], ['Alan Turing', 'alan@example.org'],
  ['Grace Hopper', 'grace@example.org'], ['Edsger Dijkstra', 'edsger@example.org']];
const WORDS = ('buffer cache client config cursor daemon editor engine entry event file folder handler index item '
  + 'kernel limit line module offset option page parser path process queue reader record request result root '
  + 'schema search server session socket source status stream table task text token tree value worker writer').split(' ');

function prng(seed) {  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function words(rand, n) {
  const out = [];
  for (let i = 0; i < n; ++i) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  return out.join(' ');
}

function codeFile(rand, name, lines) {
  const out = [`// ${name}: ${words(rand, 6)}`, '#include "common.h"', ''];
  while (out.length < lines) {
    const fn = `${WORDS[Math.floor(rand() * WORDS.length)]}_${WORDS[Math.floor(rand() * WORDS.length)]}_${out.length}`;
    out.push(`int ${fn}(struct ctx *c, int n) {`);
    out.push(`  /* ${words(rand, 8)} */`);
    out.push(`  if (n > ${Math.floor(rand() * 1000)}) return c->${WORDS[Math.floor(rand() * WORDS.length)]}(n - 1);`);
    out.push(`  return n * ${Math.floor(rand() * 97)};`, '}', '');
  }
  return `${out.join('\n')}\n`;
}

/// Creates the workspace at `root` (which must not exist, or hold one made by
/// this version: then it is kept). Returns what the callers need by name.
export function makeLargeWorkspace(root) {
  const info = { root, bigDir: 'big', bigCommitTag: 'big-commit', blameFile: 'README.md',
    largeFiles: ['data/large-1.log', 'data/large-2.log', 'data/large-3.log'] };
  const stamp = path.join(root, '.git', 'icotes-large-workspace');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === VERSION) return info;
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const rand = prng(16);
  let clock = Date.UTC(2025, 0, 6, 9) / 1000;
  let who = 0;
  const git = (...args) => {
    clock += 3600 + Math.floor(rand() * 7200);
    const [name, email] = AUTHORS[who % AUTHORS.length];
    const date = `${clock} +0000`;
    return execFileSync('git', ['-c', 'core.autocrlf=false', '-c', 'commit.gpgsign=false', ...args], {
      cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name,
        GIT_COMMITTER_EMAIL: email, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: '1',
        HOME: root },
    });
  };
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  git('init', '-q', '-b', 'main');
  write('.gitignore', 'node_modules/\n');

  // README.md: 772 lines over 24 commits, some earlier lines reworded.
  let readme = [];
  for (let c = 0; c < 24; ++c) {
    who = c;
    const add = c === 23 ? 772 - readme.length : 32;
    for (let i = 0; i < add; ++i) readme.push(i % 9 === 0 ? `## ${words(rand, 3)}` : words(rand, 4 + Math.floor(rand() * 10)));
    for (let i = 0; i < 4 && readme.length > 10; ++i) readme[Math.floor(rand() * readme.length)] = words(rand, 8);
    write('README.md', `${readme.join('\n')}\n`);
    git('add', '-A');
    git('commit', '-q', '-m', `README: ${words(rand, 4)}`);
  }

  // src/: 763 files, then one commit changing every one of them.
  const sources = [];
  for (let d = 0; d < 38; ++d)
    for (let f = 0; f < (d < 3 ? 21 : 20); ++f) sources.push(`src/${WORDS[d]}/${WORDS[(d + f) % WORDS.length]}_${f}.c`);
  for (const rel of sources) write(rel, codeFile(rand, rel, 40 + Math.floor(rand() * 60)));
  write('src/common.h', '#pragma once\nstruct ctx;\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'src: the first sources');
  who = 1;
  for (const rel of sources) {
    const text = fs.readFileSync(path.join(root, rel), 'utf8');
    write(rel, text.replace(/struct ctx \*c/g, 'struct context *c').replace(/^\/\/ /, '// (renamed) '));
  }
  git('add', '-A');
  git('commit', '-q', '-m', 'rename struct ctx to struct context everywhere\n\nEvery source file changes.');
  git('tag', 'big-commit');

  // 150 small commits after it (git_log's default page is smaller).
  for (let c = 0; c < 150; ++c) {
    who = c;
    const rel = sources[Math.floor(rand() * sources.length)];
    const lines = fs.readFileSync(path.join(root, rel), 'utf8').split('\n');
    lines[3 + Math.floor(rand() * (lines.length - 5))] = `  /* ${words(rand, 6)} */`;
    write(rel, lines.join('\n'));
    git('commit', '-q', '-am', `${WORDS[c % WORDS.length]}: ${words(rand, 5)}\n\n${words(rand, 20)}\n${words(rand, 14)}`);
  }

  // big/ and data/, one commit.
  for (let i = 1; i <= 12000; ++i) write(`big/entry-${String(i).padStart(5, '0')}.txt`, `entry ${i}\n`);
  for (const rel of info.largeFiles) {
    const out = [];
    let size = 0;
    for (let i = 0; size < 300 * 1024; ++i) {
      const line = `2025-01-06T09:${String(i % 60).padStart(2, '0')}:00Z ${['INFO', 'WARN', 'DEBUG'][i % 3]} ${words(rand, 10)}`;
      out.push(line);
      size += line.length + 1;
    }
    write(rel, `${out.join('\n')}\n`);
  }
  git('add', '-A');
  git('commit', '-q', '-m', 'big/: 12,000 entries; data/: three large logs');

  // node_modules/ (ignored), three levels deep.
  for (let p = 0; p < 300; ++p) {
    write(`node_modules/pkg-${p}/package.json`, `{"name": "pkg-${p}", "version": "1.0.${p}"}\n`);
    for (let f = 0; f < 5; ++f) write(`node_modules/pkg-${p}/lib/part-${f}.js`, `module.exports = ${p * 10 + f};\n`);
  }

  // An uncommitted change of about 85 KB of patch.
  for (const rel of sources.slice(0, 30)) {
    const lines = fs.readFileSync(path.join(root, rel), 'utf8').split('\n');
    for (let i = 4; i < lines.length; i += 6) lines[i] = lines[i].replace('/*', '/* edited:');
    write(rel, lines.join('\n'));
  }
  fs.writeFileSync(stamp, VERSION);
  return info;
}
