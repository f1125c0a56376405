// Git differential tier (issue 5): git 2.39 and icotes answer the same
// questions on the same repositories, and every answer must be equal.
//
// usage: node differential.mjs [--seeds 1-10|none] [--only status,diff,...] [--no-real] [--keep] [--verbose]
// env:   ICOTES_BINARY (required); ICOTES_SOURCE_DIR (this project's checkout,
//        cloned with `git clone --no-local` for the real-repository case)
//
// Repositories: one per seed from generate.mjs (adds, edits, deletes,
// renames, chmod, symlinks, binary files, .gitattributes line endings,
// merges, an unresolved conflict, detached HEAD, upstreams, a submodule,
// a nested repository, uncommitted index and work-tree changes), an empty
// repository, an unborn one with staged files, and a clone of this project
// with a few edits (a repository nobody here wrote).
//
// Each repository gets one `icotes serve --standalone --root REPO` (JSON-RPC over stdio)
// and these comparisons, every paged answer fetched to the end first:
//   status  entries and branch header vs `git status --porcelain=v2 --branch -z`
//           (untracked no/normal/all, --ignored, --no-renames, a path, small pages)
//   diff    text byte for byte vs `git diff` (worktree, --cached, A B, A, -U0,
//           -U1, --stat, --name-only, --no-renames, -- paths, small pages);
//           `files` vs `git diff --raw -z` and `--numstat -z`
//   log     commit fields vs `git log -z --format=...` (rev, paths, -n/--skip,
//           --author, --grep, --since/--until as times and as "N days ago",
//           "N weeks ago", "N months ago"... (approxidate), pages)
//   show    text vs `git show` for every commit (the generated merges are
//           clean: git's combined diff is empty),
//           -U1, --no-renames, small pages; `git show REV:PATH` for files and
//           directories
//   blame   every line (commit, original line and path, text) and the commits'
//           details vs `git blame --porcelain` (work tree, a revision, -L, pages)
//   branch  list vs `git for-each-ref refs/heads refs/remotes`
//   safety  revisions that look like options, `..`, absolute paths and a
//           symlinked directory leading out of the root: refused
// Any difference is printed (repository, op, params, the git command, the
// first differing line) and fails the run, unless it is a deliberate
// divergence listed in DIVERGENCES (and in the README's "Git" section).
import { spawn } from 'node:child_process';
import {
  appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generate, generateEmpty, generateRenames, git, gitEnv, features } from './generate.mjs';

const OPS = ['status', 'diff', 'log', 'show', 'blame', 'branch', 'safety'];

// Deliberate divergences from git, each documented in the README ("Git"):
// { op, when(repo, params) -> bool, why }. A difference on a comparison that
// an entry matches is printed as "diverge" and does not fail the run; `repo`
// has name and info.features (generate.mjs features()) for generated seeds.
const DIVERGENCES = [
  {
    op: 'diff',
    // A path conflicted on both sides (index stages 2 and 3) in a patch of
    // the working tree: git prints a combined diff (diff --cc).
    when: (repo, p) => (p.target ?? 'worktree') === 'worktree' && !p.stat && !p.nameOnly &&
      repo.gitText(['ls-files', '-u', '-z', '--', ...(p.paths ?? [])]).split('\0').filter(Boolean)
        .some((e) => / 3\t/.test(e) && repo.gitText(['ls-files', '-u', '--', e.split('\t')[1]]).includes(' 2\t')),
    why: 'conflicted file with both sides: icotes shows "* Unmerged path" and ours -> working tree, not git\'s diff --cc',
  },
  {
    op: 'show',
    // A merge whose result differs from both parents somewhere (a conflict
    // resolved by hand, as in this project's own history): git prints a
    // combined diff (diff --cc) after the message, icotes none.
    // `show {}` is HEAD's: a clone whose HEAD is such a merge.
    when: (repo, p) => typeof (p.rev ?? 'HEAD') === 'string' && !(p.rev ?? 'HEAD').includes(':') &&
      repo.gitText(['rev-list', '--parents', '-n', '1', p.rev ?? 'HEAD']).trim().split(' ').length > 2 &&
      repo.gitText(['diff-tree', '--cc', '--no-commit-id', '--format=', p.rev ?? 'HEAD']).trim() !== '',
    why: 'merge commit with a combined diff: git prints diff --cc, icotes no combined diff (README "Git")',
  },
];

function parseArgs(argv) {
  const a = { seeds: range('1-10'), only: new Set(OPS), real: true, keep: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seeds') a.seeds = range(argv[++i]);
    else if (argv[i] === '--only') a.only = new Set(argv[++i].split(','));
    else if (argv[i] === '--no-real') a.real = false;
    else if (argv[i] === '--keep') a.keep = true;
    else if (argv[i] === '--verbose') a.verbose = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

function range(spec) {
  const out = [];
  if (spec === 'none') return out;
  for (const part of spec.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    for (let s = lo; s <= (hi ?? lo); s++) out.push(s);
  }
  return out;
}

// --- icotes over JSON-RPC ------------------------------------------------------
class Icotes {
  constructor(root, env) {
    // git/branch is one operation for list and writes, so it needs GitWrite
    // even to list; the tier only lists.
    const argv = ['serve', '--standalone', '--root', root, '--log-level', 'warn', '--allow', 'GitWrite'];
    this.proc = spawn(process.env.ICOTES_BINARY, argv, { env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.pending = new Map();
    this.next = 1;
    // A server that dies fails every pending and later call at once.
    this.exited = null;
    this.proc.stdin.on('error', () => {});
    this.proc.on('exit', (code, signal) => {
      this.exited = `icotes serve exited (${signal ?? code})`;
      for (const p of this.pending.values()) p({ error: { code: 'exit', message: this.exited } });
      this.pending.clear();
    });
    createInterface({ input: this.proc.stdout, crlfDelay: Infinity }).on('line', (l) => {
      const m = JSON.parse(l);
      const p = this.pending.get(m.id);
      if (p) {
        this.pending.delete(m.id);
        p(m);
      }
    });
  }
  call(method, params) {
    const id = this.next++;
    if (this.exited) return Promise.resolve({ error: { code: 'exit', message: this.exited } });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout on ${method}`)), 60000);
      this.pending.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }
  close() {
    if (this.exited) return Promise.resolve();
    this.proc.stdin.end();
    return new Promise((resolve) => this.proc.on('exit', resolve));
  }
}

// Calls icotes/git/<verb> and follows nextCursor to the end; `merge` folds
// the pages. Returns {pages: [...]} or {error}.
async function fetchAll(ic, verb, params) {
  const pages = [];
  let cursor;
  for (let i = 0; i < 10000; i++) {
    const m = await ic.call(`icotes/git/${verb}`, cursor ? { ...params, cursor } : params);
    if (m.error) return { error: m.error };
    pages.push(m.result);
    if (!m.result.truncated) return { pages };
    if (!m.result.nextCursor) return { error: { message: `page ${i + 1} is truncated but has no nextCursor` } };
    cursor = m.result.nextCursor;
  }
  return { error: { message: 'more than 10000 pages' } };
}

// --- reporting -------------------------------------------------------------------
class Report {
  constructor(verbose) {
    this.verbose = verbose;
    this.byOp = new Map();
    this.failures = 0;
    this.divergences = 0;
  }
  count(op, ok) {
    const c = this.byOp.get(op) || { ok: 0, fail: 0 };
    c[ok ? 'ok' : 'fail']++;
    this.byOp.set(op, c);
  }
  ok(repo, op, params, what) {
    this.count(op, true);
    if (this.verbose) console.log(`ok   [${repo}] ${op} ${JSON.stringify(params)}: ${what}`);
  }
  diverge(repo, op, params, why, lines) {
    this.count(op, true);
    this.divergences++;
    console.log(`diverge [${repo}] ${op} ${JSON.stringify(params)}: ${why}`);
    if (this.verbose) for (const l of lines.slice(0, 4)) console.log('     ' + clip(l));
  }
  fail(repo, op, params, gitCmd, lines) {
    this.count(op, false);
    this.failures++;
    console.log(`FAIL [${repo}] ${op} ${JSON.stringify(params)} vs \`${gitCmd}\``);
    for (const l of lines.slice(0, 12)) console.log('     ' + clip(l));
  }
  summary() {
    const parts = [...this.byOp.entries()].map(([op, c]) => `${op} ${c.ok}/${c.ok + c.fail}`);
    console.log(`comparisons passed per op: ${parts.join(', ')}`);
  }
}

function clip(s) { return s.length > 300 ? s.slice(0, 300) + '…' : s; }
const show = (s) => JSON.stringify(s);

// The first difference between two texts, line by line.
function textDiff(want, got) {
  if (want === got) return null;
  const a = want.split('\n');
  const b = got.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [
    `text differs at line ${i + 1} (git ${a.length} lines, ${want.length} bytes; ` +
      `icotes ${b.length} lines, ${got.length} bytes)`,
    `git:    ${i < a.length ? show(a[i]) : '(end)'}`,
    `icotes: ${i < b.length ? show(b[i]) : '(end)'}`,
    ...(i > 0 ? [`after:  ${show(a[i - 1])}`] : []),
  ];
}

// Two lists of keys in order.
function listDiff(want, got, what) {
  let i = 0;
  while (i < want.length && i < got.length && want[i] === got[i]) i++;
  if (i === want.length && i === got.length) return null;
  const wantSet = new Set(want);
  const gotSet = new Set(got);
  return [
    `${what} differ at #${i} (git ${want.length}, icotes ${got.length})`,
    `git:    ${i < want.length ? want[i] : '(end)'}`,
    `icotes: ${i < got.length ? got[i] : '(end)'}`,
    ...want.filter((k) => !gotSet.has(k)).slice(0, 4).map((k) => `only git:    ${k}`),
    ...got.filter((k) => !wantSet.has(k)).slice(0, 4).map((k) => `only icotes: ${k}`),
  ];
}

// --- the comparisons ---------------------------------------------------------------
class Repo {
  constructor(name, dir, env, ic, report, info = {}) {
    Object.assign(this, { name, dir, env, ic, report, info });
  }
  git(args, opts) { return git(this.dir, this.env, args, opts); }
  gitText(args) { return this.git(args).toString('utf8'); }
  hasCommits() { return this.git(['rev-parse', '-q', '--verify', 'HEAD'], { allowFail: true }).status === 0; }
  revExists(rev) {
    return this.git(['rev-parse', '-q', '--verify', `${rev}^{commit}`], { allowFail: true }).status === 0;
  }

  // One comparison: run icotes (all pages), then `check(pages)` returns null
  // or the difference lines.
  async compare(op, params, gitCmd, check) {
    let r;
    try {
      r = await fetchAll(this.ic, op, params);
    } catch (e) {
      this.report.fail(this.name, op, params, gitCmd, [`icotes: ${e.message}`]);
      return;
    }
    if (r.error) {
      this.report.fail(this.name, op, params, gitCmd, [`icotes error ${r.error.code}: ${r.error.message}`]);
      return;
    }
    let diff;
    try {
      diff = check(r.pages);
    } catch (e) {
      diff = [`comparison threw: ${e.stack}`];
    }
    const excused = Array.isArray(diff) && DIVERGENCES.find((d) => d.op === op && d.when(this, params));
    if (excused) this.report.diverge(this.name, op, params, excused.why, diff);
    else if (diff && !Array.isArray(diff)) this.report.ok(this.name, op, params, diff);
    else if (diff) this.report.fail(this.name, op, params, gitCmd, diff);
    else this.report.ok(this.name, op, params, 'equal');
  }

  // ---- status ----
  gitStatus(params) {
    const args = ['status', '--porcelain=v2', '--branch', '-z', `--untracked-files=${params.untracked || 'normal'}`];
    if (params.ignored) args.push('--ignored');
    if (params.findRenames === false) args.push('--no-renames');
    if (params.path) args.push('--', params.path);
    const fields = this.git(args).toString('utf8').split('\0');
    const header = [];
    const entries = [];
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (!f) continue;
      if (f.startsWith('# ')) {
        header.push(f.slice(2));
        continue;
      }
      const t = f[0];
      if (t === '?' || t === '!') {
        entries.push(`${t === '?' ? 'untracked' : 'ignored'} ${t}${t} ${f.slice(2)}`);
        continue;
      }
      const parts = f.split(' ');
      const xy = parts[1];
      const sub = parts[2] === 'N...' ? '' : ` ${parts[2]}`;
      if (t === '1') entries.push(`changed ${xy} ${parts.slice(8).join(' ')}${sub}`);
      else if (t === '2') {
        const path = parts.slice(9).join(' ');
        const orig = fields[++i];
        entries.push(`renamed ${xy} ${path} <- ${orig} ${parts[8]}${sub}`);
      } else if (t === 'u') entries.push(`unmerged ${xy} ${parts.slice(10).join(' ')}${sub}`);
      else throw new Error(`unknown porcelain v2 line ${show(f)}`);
    }
    return { header, entries, cmd: `git ${args.join(' ')}` };
  }

  async status(params) {
    const want = this.gitStatus(params);
    await this.compare('status', params, want.cmd, (pages) => {
      const b = pages[0].branch;
      const header = [`branch.oid ${b.oid ?? '(initial)'}`, `branch.head ${b.detached ? '(detached)' : b.head}`];
      if (b.upstream !== undefined) header.push(`branch.upstream ${b.upstream}`);
      if (b.ahead !== undefined || b.behind !== undefined) header.push(`branch.ab +${b.ahead} -${b.behind}`);
      const entries = [];
      for (const p of pages) {
        for (const e of p.entries) {
          const xy = `${e.index}${e.worktree}`;
          const m = e.submodule;
          const s = m ? ` S${m.commitChanged ? 'C' : '.'}${m.modified ? 'M' : '.'}${m.untracked ? 'U' : '.'}` : '';
          if (e.kind === 'renamed') entries.push(`renamed ${xy} ${e.path} <- ${e.origPath} ${e.index}${e.score}${s}`);
          else entries.push(`${e.kind} ${xy} ${e.path}${s}`);
        }
      }
      const d = listDiff(want.header, header, 'branch headers') || listDiff(want.entries, entries, 'entries');
      if (d) return d;
      const total = pages[0].total;
      if (total !== want.entries.length) return [`total ${total}, git listed ${want.entries.length}`];
      if (params.untracked !== 'no' && !params.path) {
        const clean = !want.entries.some((e) => !e.startsWith('ignored'));
        if (pages[0].clean !== clean) return [`clean is ${pages[0].clean}, git: ${clean}`];
      }
      return `${entries.length} entries in ${pages.length} page(s)`;
    });
  }

  // ---- diff ----
  diffArgs(params) {
    const a = [];
    const t = params.target ?? 'worktree';
    if (t === 'staged') a.push('--cached');
    else if (typeof t === 'object') a.push(t.from, ...(t.to ? [t.to] : []));
    if (params.contextLines !== undefined) a.push(`-U${params.contextLines}`);
    if (params.findRenames === false) a.push('--no-renames');
    return a;
  }

  async diff(params) {
    const base = ['diff', '--no-color', '--no-ext-diff', ...this.diffArgs(params)];
    const mode = params.stat ? ['--stat'] : params.nameOnly ? ['--name-only'] : [];
    const paths = params.paths ? ['--', ...params.paths] : [];
    const cmd = [...base, ...mode, ...paths];
    // git 2.39 prints an unmerged path's --stat line without its line break
    // (" a.txt | Unmerged b.txt | 4 ++"); compare with the intended text.
    let want = this.gitText(cmd);
    if (params.stat) want = want.replace(/ \| Unmerged(?= )/g, ' | Unmerged\n');
    // -U<n> implies -p, which --raw would print too.
    const files = params.stat || params.nameOnly ? null : this.gitFiles(base.filter((a) => !a.startsWith('-U')), paths);
    await this.compare('diff', params, `git ${cmd.join(' ')}`, (pages) => {
      const text = pages.map((p) => p.text).join('');
      const d = textDiff(want, text);
      if (d) return d;
      const total = pages[0].total;
      const got = pages.flatMap((p) => p.files);
      if (files) {
        const fd = listDiff(files, got.map(fileKey), 'files');
        if (fd) return fd;
      }
      if (total !== got.length) return [`total ${total} but ${got.length} files in the pages`];
      return `${want.length} bytes, ${got.length} files, ${pages.length} page(s)`;
    });
  }

  // `git diff --raw -z` + `--numstat -z` as the keys fileKey() makes of icotes' files.
  gitFiles(base, paths) {
    const raw = this.git([...base, '--raw', '-z', ...paths]).toString('utf8').split('\0');
    const num = this.git([...base, '--numstat', '-z', ...paths]).toString('utf8').split('\0');
    const counts = new Map();  // new path -> '+a -d' or 'binary'
    for (let i = 0; i < num.length; i++) {
      if (!num[i]) continue;
      const [add, del, path] = num[i].split('\t');
      const key = path === '' ? num[(i += 2)] : path;  // a rename: old and new path follow
      counts.set(key, add === '-' ? 'binary' : `+${add} -${del}`);
    }
    const out = [];
    const names = {
      A: 'added', D: 'deleted', M: 'modified', R: 'renamed', C: 'copied', T: 'typechange', U: 'unmerged',
    };
    for (let i = 0; i < raw.length; i++) {
      if (!raw[i]) continue;
      const [oldMode, newMode, , , status] = raw[i].slice(1).split(' ');
      const letter = status[0];
      const k = { status: names[letter] ?? letter };
      if (letter === 'R' || letter === 'C') {
        k.oldPath = raw[++i];
        k.path = raw[++i];
        k.similarity = Number(status.slice(1));
      } else k.path = raw[++i];
      if (oldMode !== newMode && oldMode !== '000000' && newMode !== '000000') Object.assign(k, { oldMode, newMode });
      k.count = counts.get(k.path) ?? '(no numstat)';
      out.push(k);
    }
    return out.map(fileKey);
  }

  // ---- log ----
  async log(params) {
    const args = ['log', '-z', '--format=%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%s%x1f%b',
      `-n${params.limit ?? 50}`];
    if (params.skip) args.push(`--skip=${params.skip}`);
    if (params.author) args.push(`--author=${params.author}`);
    if (params.grep) args.push(`--grep=${params.grep}`);
    if (params.since) args.push(`--since=${params.since}`);
    if (params.until) args.push(`--until=${params.until}`);
    args.push(params.rev ?? 'HEAD');
    if (params.paths) args.push('--', ...params.paths);
    const want = this.gitText(args).split('\0').filter(Boolean).map((r) => r.split('\x1f').join(' | '));
    const all = params.limit ?? 50;
    await this.compare('log', params, `git ${args.join(' ')}`, (pages) => {
      const got = pages.flatMap((p) => p.commits).map((c) => [c.hash, c.parents.join(' '), c.author.name,
        c.author.email, c.author.date, c.committer.name, c.committer.email, c.committer.date, c.subject,
        c.body].join(' | '));
      // limit bounds one call; pages beyond the first continue past it,
      // so only the first `all` commits are git's answer.
      return listDiff(want, got.slice(0, all), 'commits') || `${want.length} commits`;
    });
  }

  // log in pages of `size`: the pages, concatenated, are `git log -n total`.
  async logPaged(size, total) {
    const params = { limit: size };
    const args = ['log', '-z', '--format=%H', `-n${total}`, 'HEAD'];
    const want = this.gitText(args).split('\0').filter(Boolean);
    let r;
    const got = [];
    let cursor;
    while (got.length < total) {
      r = await this.ic.call('icotes/git/log', cursor ? { ...params, cursor } : params);
      if (r.error) break;
      got.push(...r.result.commits.map((c) => c.hash));
      if (!r.result.truncated) break;
      cursor = r.result.nextCursor;
    }
    const label = { ...params, pagedTo: total };
    if (r.error) {
      const error = `icotes error ${r.error.code}: ${r.error.message}`;
      this.report.fail(this.name, 'log', label, `git ${args.join(' ')}`, [error]);
    } else {
      const d = listDiff(want, got.slice(0, total), 'commits');
      if (d) this.report.fail(this.name, 'log', label, `git ${args.join(' ')}`, d);
      else this.report.ok(this.name, 'log', label, `${want.length} commits in pages of ${size}`);
    }
  }

  // ---- show ----
  async show(params) {
    const args = ['show', '--no-color', '--no-ext-diff'];
    if (params.contextLines !== undefined) args.push(`-U${params.contextLines}`);
    if (params.findRenames === false) args.push('--no-renames');
    args.push(params.path !== undefined ? `${params.rev ?? 'HEAD'}:${params.path}` : params.rev ?? 'HEAD');
    const want = this.git(args);
    const binary = params.path !== undefined && want.includes(0);
    await this.compare('show', params, `git ${args.join(' ')}`, (pages) => {
      if (binary) {
        if (!pages[0].binary) return [`git's blob holds NUL bytes, icotes says binary: ${pages[0].binary}`];
        if (pages[0].size !== want.length) return [`size ${pages[0].size}, git ${want.length}`];
        return `binary, ${want.length} bytes`;
      }
      const text = pages.map((p) => p.text).join('');
      return textDiff(want.toString('utf8'), text) || `${want.length} bytes in ${pages.length} page(s)`;
    });
  }

  // ---- blame ----
  gitBlame(params) {
    const args = ['blame', '--porcelain'];
    if (params.startLine || params.endLine) args.push(`-L${params.startLine ?? 1},${params.endLine ?? ''}`);
    if (params.rev) args.push(params.rev);
    args.push('--', params.path);
    const lines = [];
    const commits = new Map();
    const text = this.git(args).toString('utf8').split('\n');
    // --porcelain prints a commit's details and its "filename" only where the
    // commit first appears; later groups of the same commit reuse them.
    let cur = null;
    const filenames = new Map();
    for (const l of text) {
      if (!l) continue;
      if (l[0] === '\t') {
        lines.push(`${cur.final}: ${cur.sha} ${filenames.get(cur.sha)}:${cur.orig} ${show(l.slice(1))}`);
        continue;
      }
      const m = /^([0-9a-f]{40}) (\d+) (\d+)/.exec(l);
      if (m) {
        cur = { sha: m[1], orig: m[2], final: m[3] };
        if (!commits.has(m[1])) commits.set(m[1], {});
        continue;
      }
      const sp = l.indexOf(' ');
      const key = sp < 0 ? l : l.slice(0, sp);
      const value = sp < 0 ? true : l.slice(sp + 1);
      if (key === 'filename') filenames.set(cur.sha, value);
      else commits.get(cur.sha)[key] = value;
    }
    return { lines, commits, cmd: `git ${args.join(' ')}` };
  }

  async blame(params) {
    const want = this.gitBlame(params);
    await this.compare('blame', params, want.cmd, (pages) => {
      const lines = [];
      const commits = {};
      for (const p of pages) {
        Object.assign(commits, p.commits);
        for (const h of p.hunks) {
          if (h.lines.length !== h.lineCount) {
            return [`hunk at line ${h.startLine}: lineCount ${h.lineCount} but ${h.lines.length} lines`];
          }
          h.lines.forEach((t, i) => {
            lines.push(`${h.startLine + i}: ${h.hash} ${h.origPath}:${h.origStartLine + i} ${show(t)}`);
          });
        }
      }
      const d = listDiff(want.lines, lines, 'blamed lines');
      if (d) return d;
      for (const [sha, c] of want.commits) {
        if (/^0+$/.test(sha)) continue;  // "Not Committed Yet": git stamps the current time
        const g = commits[sha];
        if (!g) return [`commit ${sha} missing from commits`];
        const wantC = [c.author, c['author-mail'], c['author-time'], c['author-tz'], c.committer, c['committer-mail'],
          c['committer-time'], c['committer-tz'], c.summary, !!c.boundary, c.previous ?? '-'].join(' | ');
        const gotC = [g.author, g.authorEmail, String(g.authorTime), g.authorTz, g.committer, g.committerEmail,
          String(g.committerTime), g.committerTz, g.summary, !!g.boundary, g.previous ?? '-'].join(' | ');
        if (wantC !== gotC) return [`commit ${sha} details differ`, `git:    ${wantC}`, `icotes: ${gotC}`];
      }
      return `${lines.length} lines, ${want.commits.size} commits, ${pages.length} page(s)`;
    });
  }

  // ---- branch ----
  async branches() {
    const format = ['refname', 'objectname', 'HEAD', 'upstream:short', 'upstream:track,nobracket', 'symref:short']
      .map((f) => `%(${f})`).join('%00');
    const args = ['for-each-ref', `--format=${format}`, 'refs/heads', 'refs/remotes'];
    const want = [];
    for (const l of this.gitText(args).split('\n')) {
      if (!l) continue;
      const [ref, oid, head, upstream, track, symref] = l.split('\0');
      const remote = ref.startsWith('refs/remotes/');
      const name = ref.replace(/^refs\/(heads|remotes)\//, '');
      if (symref) {
        want.push(`${name} -> ${symref} remote=${remote}`);
        continue;
      }
      let up = '';
      if (upstream) {
        const ahead = /ahead (\d+)/.exec(track)?.[1] ?? '0';
        const behind = /behind (\d+)/.exec(track)?.[1] ?? '0';
        up = track === 'gone' ? ` upstream=${upstream} gone` : ` upstream=${upstream} +${ahead} -${behind}`;
      }
      want.push(`${name} ${oid} remote=${remote} current=${head === '*'}${up}`);
    }
    const headRef = this.git(['symbolic-ref', '-q', 'HEAD'], { allowFail: true });
    const head = headRef.status === 0 ? headRef.stdout.toString().trim().replace('refs/heads/', '') : null;
    const headOid = this.hasCommits() ? this.gitText(['rev-parse', 'HEAD']).trim() : null;
    await this.compare('branch', { action: 'list' }, `git ${args.join(' ')}`, (pages) => {
      const got = pages.flatMap((p) => p.branches).map((b) => {
        if (b.target) return `${b.name} -> ${b.target} remote=${b.remote}`;
        let up = '';
        if (b.upstream) {
          up = b.upstreamGone ? ` upstream=${b.upstream} gone` : ` upstream=${b.upstream} +${b.ahead} -${b.behind}`;
        }
        return `${b.name} ${b.oid} remote=${b.remote} current=${b.current}${up}`;
      });
      const d = listDiff(want, got, 'branches');
      if (d) return d;
      const p = pages[0];
      if (p.head !== head || p.detached !== (head === null && headOid !== null) || p.headOid !== headOid) {
        return [`head ${p.head} detached ${p.detached} headOid ${p.headOid}; git: ${head} ${head === null} ${headOid}`];
      }
      return `${want.length} branches`;
    });
  }

  // ---- safety ----
  async refused(op, params, why) {
    const m = await this.ic.call(`icotes/git/${op}`, params);
    const label = { ...params, expect: why };
    if (m.error && !/not implemented/i.test(m.error.message)) {
      this.report.ok(this.name, 'safety', label, `refused: ${m.error.message}`);
    } else {
      const got = m.error ? `icotes error: ${m.error.message}` : `icotes answered ${clip(JSON.stringify(m.result))}`;
      this.report.fail(this.name, 'safety', label, '(must be refused)', [got]);
    }
  }
}

function fileKey(f) {
  const parts = [f.status, f.oldPath !== undefined ? `${f.oldPath} -> ${f.path} ${f.similarity}%` : f.path];
  if (f.oldMode !== undefined) parts.push(`mode ${f.oldMode}->${f.newMode}`);
  parts.push(f.count ?? (f.binary ? 'binary' : `+${f.additions} -${f.deletions}`));
  return parts.join(' ');
}

// --- what to compare on a repository ---------------------------------------------
async function compareRepo(r, only) {
  const has = r.hasCommits();
  const commits = has ? r.gitText(['rev-list', '--topo-order', 'HEAD']).split('\n').filter(Boolean) : [];
  const tracked = has ? r.gitText(['ls-tree', '-r', '-z', '--full-tree', 'HEAD']).split('\0').filter(Boolean)
    .map((e) => ({ mode: e.split(' ')[0], path: e.split('\t')[1] })) : [];
  const textFiles = tracked.filter((e) => e.mode.startsWith('100') && !/\.(bin|dat|blob)$/.test(e.path))
    .map((e) => e.path);
  const dirs = [...new Set(tracked.filter((e) => e.path.includes('/')).map((e) => e.path.split('/')[0]))].sort();

  if (only.has('status')) {
    for (const untracked of ['normal', 'all', 'no']) await r.status({ untracked });
    await r.status({ untracked: 'normal', ignored: true });
    await r.status({ untracked: 'all', ignored: true });
    await r.status({ untracked: 'all', findRenames: false });
    await r.status({ untracked: 'all', limit: 3 });
    if (dirs.length) await r.status({ path: dirs[0], untracked: 'all' });
    await r.status({ path: 'src/', untracked: 'normal' });
  }
  if (only.has('diff')) {
    const variants = [{}, { target: 'staged' }, { contextLines: 0 }, { contextLines: 1 }, { stat: true },
      { nameOnly: true }, { target: 'staged', stat: true }, { findRenames: false, target: 'staged' },
      { maxBytes: 1024 }, { limit: 2 }];
    if (has) variants.push({ target: { from: 'HEAD' } }, { target: { from: 'HEAD', to: 'HEAD' } });
    if (commits.length > 3) {
      const [a, b] = [commits[commits.length - 1], commits[0]];
      // --stat in one page: each page of a paged --stat ends in its own summary line (" N files changed"),
      // which git's one output has once; this diff (the whole history of a real repository) outgrows a page.
      variants.push({ target: { from: a, to: b } },
        { target: { from: a, to: b }, stat: true, limit: 100000, maxBytes: 1 << 24 },
        { target: { from: 'HEAD~2', to: 'HEAD' } }, { target: { from: 'HEAD~3' } }, { target: { from: b, to: a } },
        { target: { from: a, to: b }, findRenames: false, nameOnly: true });
    }
    if (dirs.length) variants.push({ paths: [dirs[0]] }, { target: 'staged', paths: dirs.slice(0, 2) });
    if (textFiles.length) variants.push({ paths: [textFiles[0]], contextLines: 5 });
    for (const v of variants) await r.diff(v);
  }
  if (only.has('log') && has) {
    await r.log({});
    await r.log({ limit: 3 });
    await r.log({ limit: 4, skip: 2 });
    if (textFiles.length) await r.log({ paths: [textFiles[0]] });
    if (dirs.length) await r.log({ paths: [dirs[dirs.length - 1]] });
    for (const rev of ['topic/feature', 'old-start', 'origin/main']) {
      if (r.revExists(rev)) await r.log({ rev, limit: 50 });
    }
    await r.log({ author: 'Ada' });
    await r.log({ grep: 'fix\\|add' });
    if (commits.length > 4) {
      const dates = r.gitText(['log', '--format=%ct', 'HEAD']).split('\n').filter(Boolean).map(Number);
      const mid = dates[Math.floor(dates.length / 2)];
      await r.log({ since: `@${mid}` });
      await r.log({ until: new Date(mid * 1000).toISOString().replace('.000Z', 'Z') });
      // git's relative forms (approxidate), each side computing "now" itself:
      // only boundaries more than two minutes from every commit are compared.
      const now = Math.floor(Date.now() / 1000);
      const days = Math.max(1, Math.ceil((now - mid) / 86400));
      const weeks = Math.max(1, Math.ceil(days / 7));
      const forms = [[`${days} days ago`, days * 86400], [`${days}.days.ago`, days * 86400],
        [`${days * 24} hours ago`, days * 86400], [`${weeks} weeks ago`, weeks * 7 * 86400]];
      // Months and years are calendar ones (same day and time of day).
      const months = Math.max(1, Math.ceil(days / 30));
      const back = (set) => { const d = new Date(now * 1000); set(d); return now - Math.floor(d.getTime() / 1000); };
      forms.push([`${months} months ago`, back((d) => d.setMonth(d.getMonth() - months))]);
      forms.push([`${Math.ceil(months / 12)} years ago`, back((d) => d.setFullYear(d.getFullYear() - Math.ceil(months / 12)))]);
      for (const [text, back] of forms) {
        if (dates.some((t) => Math.abs(now - back - t) < 120)) continue;
        await r.log({ since: text });
        await r.log({ until: text });
      }
    }
    await r.logPaged(2, Math.min(commits.length, 9));
  } else if (only.has('log')) {
    // An unborn HEAD: git log fails ("does not have any commits yet"); an
    // error or an empty list are both fair answers, a commit is not.
    const m = await r.ic.call('icotes/git/log', {});
    if (m.error && !/not implemented/i.test(m.error.message)) {
      r.report.ok(r.name, 'log', {}, `unborn: error ${m.error.message}`);
    } else if (m.result && m.result.commits.length === 0) {
      r.report.ok(r.name, 'log', {}, 'unborn: no commits');
    } else {
      r.report.fail(r.name, 'log', {}, 'git log (fails: no commits yet)', [clip(JSON.stringify(m.error ?? m.result))]);
    }
  }
  if (only.has('show') && has) {
    for (const c of commits.slice(0, 30)) await r.show({ rev: c });
    await r.show({});
    await r.show({ rev: 'HEAD~1', contextLines: 1 });
    await r.show({ rev: commits[commits.length - 1], maxBytes: 1024 });
    await r.show({ rev: commits[0], findRenames: false });
    for (const p of textFiles.slice(0, 3)) await r.show({ path: p });
    const bin = tracked.find((e) => /\.(bin|dat)$/.test(e.path));
    if (bin) await r.show({ path: bin.path, rev: 'HEAD' });
    if (dirs.length) await r.show({ path: dirs[0] });
  }
  if (only.has('blame') && has) {
    // The most edited text files that still exist in the work tree.
    const edits = new Map();
    for (const l of r.gitText(['log', '--format=', '--name-only', '--no-renames', 'HEAD']).split('\n')) {
      if (l && textFiles.includes(l)) edits.set(l, (edits.get(l) || 0) + 1);
    }
    const picked = [...edits.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map((e) => e[0])
      .filter((p) => existsSync(join(r.dir, p)) && !(r.info.protect || []).includes(p)).slice(0, 3);
    for (const p of picked) await r.blame({ path: p });
    if (picked.length) {
      await r.blame({ path: picked[0], rev: 'HEAD' });
      const length = readFileSync(join(r.dir, picked[0]), 'utf8').split('\n').length - 1;
      if (length >= 6) await r.blame({ path: picked[0], startLine: 2, endLine: 6 });
      await r.blame({ path: picked[0], limit: 5 });
      if (commits.length > 2 && r.git(['cat-file', '-e', `HEAD~2:${picked[0]}`], { allowFail: true }).status === 0) {
        await r.blame({ path: picked[0], rev: 'HEAD~2' });
      }
    }
  }
  if (only.has('branch')) await r.branches();
  if (only.has('safety')) {
    const outside = mkdtempSync(join(tmpdir(), 'icotes-git-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'secret\n');
    const link = join(r.dir, 'link-out');
    symlinkSync(outside, link);
    try {
      await r.refused('log', { rev: '--output=/tmp/icotes-pwned' }, 'revision looking like an option');
      await r.refused('diff', { target: { from: '-p' } }, 'revision looking like an option');
      await r.refused('show', { rev: '--format=%H' }, 'revision looking like an option');
      await r.refused('blame', { path: textFiles[0] ?? 'a.txt', rev: '-L1,2' }, 'revision looking like an option');
      await r.refused('log', { paths: ['../outside'] }, '.. path');
      await r.refused('diff', { paths: ['src/../../x'] }, '.. path');
      await r.refused('status', { path: '..' }, '.. path');
      await r.refused('blame', { path: '/etc/passwd' }, 'absolute path outside');
      await r.refused('show', { path: '../../etc/passwd' }, '.. path');
      await r.refused('blame', { path: 'link-out/secret.txt' }, 'symlinked directory leading out');
      await r.refused('diff', { paths: ['link-out/secret.txt'] }, 'symlinked directory leading out');
      if (existsSync('/tmp/icotes-pwned')) r.report.fail(r.name, 'safety', {}, '-', ['/tmp/icotes-pwned was written']);
    } finally {
      unlinkSync(link);
      rmSync(outside, { recursive: true, force: true });
    }
  }
}

// --- main ------------------------------------------------------------------------------
async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!process.env.ICOTES_BINARY) {
    console.error('usage: ICOTES_BINARY=... node differential.mjs [--seeds 1-10|none] [--only ops] [--no-real] ' +
      '[--keep] [--verbose]');
    process.exit(2);
  }
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'icotes-git-diff-'));
  const home = join(tmp, 'home');
  mkdirSync(home);
  const env = gitEnv(home);
  // icotes: the same HOME (libgit2 reads ~/.gitconfig), the test state dir.
  const icEnv = { ...env, XDG_STATE_HOME: process.env.XDG_STATE_HOME || join(tmp, 'state') };
  const report = new Report(args.verbose);

  const repos = [];
  for (const seed of args.seeds) {
    repos.push({ name: `seed ${seed}`, make: (d) => ({ ...generate(d, seed, env), features: features(seed) }),
      note: JSON.stringify(features(seed)) });
  }
  repos.push({ name: 'empty', make: (d) => generateEmpty(d, env, { staged: false }), note: 'git init only' });
  repos.push({ name: 'unborn', make: (d) => generateEmpty(d, env, { staged: true }), note: 'staged files, no commit' });
  repos.push({ name: 'renames', make: (d) => generateRenames(d, env),
    note: 'staged renames at the similarity threshold (no final newline, CRLF, a tiny file)' });
  if (args.real) {
    const note = 'git clone --no-local of ICOTES_SOURCE_DIR';
    repos.push({ name: 'icotes clone', make: (d) => cloneProject(d, env), note });
  }

  try {
    for (const [i, spec] of repos.entries()) {
      const dir = join(tmp, `repo${i}`);
      const t0 = Date.now();
      let info;
      try {
        info = spec.make(dir);
      } catch (e) {
        if (e.skip) {
          console.log(`skip [${spec.name}]: ${e.message}`);
          continue;
        }
        throw e;
      }
      const ic = new Icotes(dir, icEnv);
      const before = report.failures;
      await compareRepo(new Repo(spec.name, dir, env, ic, report, info || {}), args.only);
      await ic.close();
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      const verdict = report.failures === before ? 'ok  ' : 'FAIL';
      console.log(`${verdict} [${spec.name}] ${spec.note} (${secs} s)${args.keep ? ' ' + dir : ''}`);
    }
  } finally {
    if (!args.keep) rmSync(tmp, { recursive: true, force: true });
  }
  report.summary();
  console.log(`${report.failures} difference(s), ${report.divergences} documented divergence(s); ` +
    `${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(report.failures ? 1 : 0);
}

// A clone of this project (a repository nobody here generated) with a few
// work-tree and index edits.
function cloneProject(dir, env) {
  const src = process.env.ICOTES_SOURCE_DIR;
  if (!src || git(src, env, ['rev-parse', '--is-inside-work-tree'], { allowFail: true }).status !== 0) {
    const e = new Error(`ICOTES_SOURCE_DIR (${src}) is not a git repository: no real-repository case`);
    e.skip = true;
    throw e;
  }
  git(tmpdir(), env, ['clone', '-q', '--no-local', src, dir]);
  appendFileSync(join(dir, 'README.md'), '\nA line added by the differential tier.\n');
  const cm = join(dir, 'CMakeLists.txt');
  writeFileSync(cm, readFileSync(cm, 'utf8').replace('\n', '\n# staged by the differential tier\n'));
  git(dir, env, ['add', 'CMakeLists.txt']);
  const files = git(dir, env, ['ls-files', 'src']).toString().split('\n').filter(Boolean);
  if (files.length) rmSync(join(dir, files[Math.floor(files.length / 2)]));
  writeFileSync(join(dir, 'untracked-note.txt'), 'new\n');
  mkdirSync(join(dir, 'scratch', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'scratch', 'deep', 'x.txt'), 'x\n');
  return {};
}

await main();
