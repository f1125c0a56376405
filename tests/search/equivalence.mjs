// Search equivalence harness: runs each case through `rg --json` (Debian's
// ripgrep) and through icotes' grep operation on the same tree, and compares
// every result line: path, line number, match/context, text and submatch
// byte ranges. Any difference is printed and fails the run.
//
// usage: node equivalence.mjs ROOT CASES.json [--only N]
// env:   ICOTES_BINARY (required), RG (default "rg")
//
// A case with a "glob" field is a file-listing case instead: icotes'
// icotes/search/glob {pattern: glob, path, hidden, noIgnore} against
// `rg --files [--hidden] [--no-ignore] [-g GLOB]` run in ROOT/path (so that
// both read the glob relative to the search path; "**" lists everything and
// runs rg without -g). icotes' glob filters the ignore-aware listing, while
// an rg -g glob is an override that also brings back ignored and hidden
// files, so the expected set is (rg --files -g GLOB) ∩ (rg --files). The
// sets must be equal. icotes' glob is anchored at the search path while an
// rg glob without '/' matches at any depth, so such cases use globs
// containing a '/' or starting with "**/".
//
// Files and directories that cannot be read: rg names each on stderr
// ("PATH: Permission denied (os error 13)") and exits 2; icotes counts them
// in the note and names the first few ("N paths could not be read (PATH:
// reason, ...)"). The count must equal rg's, and the names too when icotes
// names them all. Run as root, both would read everything (CAP_DAC_OVERRIDE):
// then rg and icotes run under setpriv without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH, as a user would.
//
// Deliberate divergences (README "Search"): files that contain a NUL byte are
// skipped whole by icotes; ripgrep stops at the first NUL and may or may not
// have printed earlier matches depending on read sizes, so such files are
// left out of the comparison. Lines ripgrep cannot print as UTF-8 ("bytes")
// are compared after replacing invalid bytes with U+FFFD, as icotes does.
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [root, casesFile, ...rest] = process.argv.slice(2);
if (!root || !casesFile || !process.env.ICOTES_BINARY) {
  console.error('usage: ICOTES_BINARY=... node equivalence.mjs ROOT CASES.json');
  process.exit(2);
}
const only = rest[0] === '--only' ? Number(rest[1]) : null;
const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
const rgBin = process.env.RG || 'rg';

// As root: run both without the capabilities that read past file modes.
const asUser = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0
  ? ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', '--']
  : [];
function run(bin, args, options) {
  return asUser.length ? spawnSync(asUser[0], [...asUser.slice(1), bin, ...args], options) : spawnSync(bin, args, options);
}

// The paths rg could not read (its stderr), without "./" or a final '/'.
function rgErrors(stderr) {
  const paths = new Set();
  for (const line of stderr.toString('utf8').split('\n')) {
    const m = /^(?:rg: )?(.+?): [^:]+ \(os error \d+\)$/.exec(line);
    if (m) paths.add(norm(m[1]).replace(/\/$/, ''));
  }
  return paths;
}

// icotes' count and names of what it could not read, from the note.
function icotesErrors(note) {
  const m = /(\d+) paths? could not be read \((.*?)\)\./.exec(note || '');
  if (!m) return { count: 0, names: new Set() };
  const names = new Set(m[2].split(', ').filter((n) => n !== '...').map((n) => n.replace(/: [^:]+$/, '').replace(/\/$/, '')));
  return { count: Number(m[1]), names };
}

function rgArgs(c) {
  const a = ['--json', '--no-config'];
  if (c.fixedStrings) a.push('-F');
  if (c.ignoreCase) a.push('-i');
  if (c.smartCase) a.push('-S');
  if (c.wordRegexp) a.push('-w');
  if (c.multiline) a.push('-U');
  if (c.pcre2) a.push('-P');
  if (c.hidden) a.push('--hidden');
  if (c.noIgnore) a.push('--no-ignore');
  if (c.followSymlinks) a.push('-L');
  for (const g of c.include || []) a.push('-g', g);
  for (const g of c.exclude || []) a.push('-g', '!' + g);
  for (const t of c.type || []) a.push('-t', t);
  if (c.beforeContext) a.push('-B', String(c.beforeContext));
  if (c.afterContext) a.push('-A', String(c.afterContext));
  if (c.maxCount) a.push('-m', String(c.maxCount));
  a.push('-e', c.pattern, '--', c.path || '.');
  return a;
}

function decode(v) {
  if (v.text !== undefined) return v.text;
  return Buffer.from(v.bytes, 'base64').toString('utf8');  // invalid bytes become U+FFFD
}

function runRg(c) {
  const r = run(rgBin, rgArgs(c), { cwd: root, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  // 2: some paths could not be read (named on stderr), the rest searched.
  const errors = rgErrors(r.stderr);
  if (r.status !== 0 && r.status !== 1 && !(r.status === 2 && errors.size > 0)) throw new Error(`rg failed (${r.status}): ${r.stderr}`);
  const lines = new Map();  // path -> array of keys
  const binary = new Set();
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (!line) continue;
    const ev = JSON.parse(line);
    if (ev.type === 'end' && ev.data.binary_offset !== null && ev.data.binary_offset !== undefined) binary.add(norm(decode(ev.data.path)));
    if (ev.type !== 'match' && ev.type !== 'context') continue;
    const path = norm(decode(ev.data.path));
    let text = decode(ev.data.lines);
    if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text.endsWith('\r') && false) text = text.slice(0, -1);
    const subs = ev.type === 'match' ? ev.data.submatches.map((s) => [s.start, s.end]) : [];
    const key = JSON.stringify([path, ev.data.line_number, ev.type === 'context', text, subs]);
    if (!lines.has(path)) lines.set(path, []);
    lines.get(path).push(key);
  }
  return { lines, binary, errors };
}

function runRgFiles(c) {
  const all = rgFiles(c, null);
  if (c.glob === '**') return all;
  return new Set([...rgFiles(c, c.glob)].filter((f) => all.has(f)));
}

function rgFiles(c, glob) {
  const a = ['--files', '--no-config'];
  if (c.hidden) a.push('--hidden');
  if (c.noIgnore) a.push('--no-ignore');
  if (glob) a.push('-g', glob);
  const cwd = c.path ? `${root}/${c.path}` : root;
  const r = run(rgBin, a, { cwd, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 && r.status !== 1 && !(r.status === 2 && rgErrors(r.stderr).size > 0))
    throw new Error(`rg failed (${r.status}): ${r.stderr}`);
  const files = new Set();
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (line) files.add(c.path ? `${c.path}/${norm(line)}` : norm(line));
  }
  return files;
}

async function globAll(ic, c) {
  const params = { pattern: c.glob, limit: 100000 };
  for (const k of ['path', 'hidden', 'noIgnore']) if (c[k] !== undefined) params[k] = c[k];
  const m = await ic.call('icotes/search/glob', params);
  if (m.error) return { error: m.error };
  if (m.result.truncated) return { error: { message: `more than 100000 files (${m.result.total})` } };
  if (m.result.total !== m.result.files.length) return { error: { message: `total ${m.result.total} but ${m.result.files.length} files` } };
  return { files: new Set(m.result.files) };
}

function norm(p) { return p.startsWith('./') ? p.slice(2) : p; }

class Icotes {
  constructor() {
    const argv = [process.env.ICOTES_BINARY, 'serve', '--standalone', '--root', root, '--log-level', 'warn'];
    const cmd = [...asUser, ...argv];
    this.proc = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.pending = new Map();
    this.next = 1;
    createInterface({ input: this.proc.stdout, crlfDelay: Infinity }).on('line', (l) => {
      const m = JSON.parse(l);
      const p = this.pending.get(m.id);
      if (p) { this.pending.delete(m.id); p(m); }
    });
  }
  call(method, params) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout on ${method}`)), 120000);
      this.pending.set(id, (m) => { clearTimeout(t); resolve(m); });
      this.proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }
  close() { this.proc.stdin.end(); }
}

function icotesParams(c) {
  const p = { ...c, limit: 100000 };
  delete p.name;
  delete p.expectError;
  delete p.divergence;
  return p;
}

async function grepAll(ic, c) {
  const out = new Map();
  let errors = { count: 0, names: new Set() };
  let cursor;
  for (;;) {
    const params = icotesParams(c);
    if (cursor) params.cursor = cursor;
    const m = await ic.call('icotes/search/grep', params);
    if (m.error) return { error: m.error };
    for (const item of m.result.matches) {
      const subs = item.context ? [] : item.submatches.map((s) => [s.start, s.end]);
      const key = JSON.stringify([item.path, item.line, !!item.context, item.text, subs]);
      if (!out.has(item.path)) out.set(item.path, []);
      out.get(item.path).push(key);
    }
    errors = icotesErrors(m.result.note);
    if (!m.result.truncated) break;
    cursor = m.result.nextCursor;
  }
  return { lines: out, errors };
}

const ic = new Icotes();
let failed = 0;
let ran = 0;
let compared = 0;
for (const [i, c] of cases.entries()) {
  if (only !== null && i !== only) continue;
  ran++;
  const label = `#${i} ${c.name || JSON.stringify(c)}`;
  if (c.glob !== undefined) {
    const wantFiles = runRgFiles(c);
    const gotFiles = await globAll(ic, c);
    if (gotFiles.error) {
      failed++;
      console.log(`FAIL ${label}: icotes error ${JSON.stringify(gotFiles.error)}`);
      continue;
    }
    const diffs = [];
    for (const f of wantFiles) if (!gotFiles.files.has(f)) diffs.push('  only rg:     ' + f);
    for (const f of gotFiles.files) if (!wantFiles.has(f)) diffs.push('  only icotes: ' + f);
    compared += wantFiles.size;
    if (diffs.length && c.divergence) {
      console.log(`ok   ${label}: documented divergence (${diffs.length} differences): ${c.divergence}`);
    } else if (diffs.length) {
      failed++;
      console.log(`FAIL ${label}: ${diffs.length} differences (rg ${wantFiles.size} files)`);
      for (const d of diffs.slice(0, 8)) console.log(d);
    } else {
      console.log(`ok   ${label}: ${wantFiles.size} files`);
    }
    continue;
  }
  const want = runRg(c);
  const got = await grepAll(ic, c);
  if (got.error) {
    failed++;
    console.log(`FAIL ${label}: icotes error ${JSON.stringify(got.error)}`);
    continue;
  }
  const diffs = [];
  const paths = new Set([...want.lines.keys(), ...got.lines.keys()]);
  let n = 0;
  for (const p of paths) {
    if (want.binary.has(p)) continue;
    const a = want.lines.get(p) || [];
    const b = got.lines.get(p) || [];
    n += a.length;
    const sa = new Set(a), sb = new Set(b);
    for (const k of a) if (!sb.has(k)) diffs.push('  only rg:     ' + k);
    for (const k of b) if (!sa.has(k)) diffs.push('  only icotes: ' + k);
  }
  compared += n;
  // What could not be read: as many as rg reports, the same ones when named.
  if (got.errors.count !== want.errors.size)
    diffs.push(`  unreadable: rg ${want.errors.size} (${[...want.errors].join(', ')}), icotes ${got.errors.count} (${[...got.errors.names].join(', ')})`);
  else if (got.errors.names.size === got.errors.count)
    for (const p of want.errors) if (!got.errors.names.has(p)) diffs.push(`  unreadable only rg: ${p}`);
  if (diffs.length && c.divergence) {
    console.log(`ok   ${label}: documented divergence (${diffs.length} differences): ${c.divergence}`);
  } else if (diffs.length) {
    failed++;
    console.log(`FAIL ${label}: ${diffs.length} differences (rg ${n} lines)`);
    for (const d of diffs.slice(0, 8)) console.log(d.length > 400 ? d.slice(0, 400) + '…' : d);
  } else {
    console.log(`ok   ${label}: ${n} lines, ${paths.size} files${want.errors.size ? `, ${want.errors.size} unreadable` : ''}`);
  }
}
ic.close();
console.log(`${ran - failed} passed, ${failed} failed`);
console.log(`compared ${compared} result lines / listed files`);
process.exit(failed ? 1 : 0);
