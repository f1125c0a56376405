// The result budgets of every MCP tool, on a large tree (ctest label
// `budget`; run with `node --test integration/budget.mjs`):
//   - tools/list within 24 KiB and Claude Code's view of the tools (name,
//     description, input_schema, as it sends them to its model) within
//     16 KiB;
//   - every tool called with its defaults (only what it requires): text at
//     most 32 KiB (kDefaultToolResultBytes);
//   - every tool called with maximal limits (limit, depth, max*, *Context at
//     their schema maximum or 10^9, read from `--full-tool-schemas`, which
//     lists the bounds and the parameters tools/list leaves out): text at
//     most 100 KiB, the default
//     --max-result-bytes (kMaxToolResultBytes), and never cut by the server's
//     safety net: a tool pages within the client's limit itself.
// Every violation is collected and reported at once, in one assertion.
//
// ICOTES_BUDGET_ROOT: "generated" (integration/large-workspace.mjs, made in
// ICOTES_BUDGET_WORK or a temporary folder), or a tree to read (the Linux tree
// of the search tier, /usr/include): only read, by a server in the default
// permission mode. Tools that change things, run commands or need an id
// (terminals, jobs) are called on a scratch git workspace of their own.
// ICOTES_BUDGET_REPORT: also write the table of every call there (markdown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { makeLargeWorkspace } from './large-workspace.mjs';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const KIB = 1024;
const DEFAULT_BUDGET = 32 * KIB;
const MAX_BUDGET = 100 * KIB;
// About 4k tokens of tool definitions: short descriptions, and tools/list
// leaves out rarely used parameters and validation-only keywords.
const TOOLS_LIST_BUDGET = 24 * KIB;
const CLAUDE_VIEW_BUDGET = 16 * KIB;
const CALL_TIMEOUT_MS = 120000;
const NET_NOTE = "[icotes: result cut at this client's limit";
// Parameters that raise how much a tool returns.
const SIZE_PARAM = /^(limit|depth|context|contextLines|beforeContext|afterContext|maxCount|max[A-Z]\w*)$/;

const bytes = (s) => Buffer.byteLength(s, 'utf8');
const textOf = (r) => (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');

async function connect(root, flags) {
  const transport = new StdioClientTransport({
    command: requireBinary(),
    args: ['serve', '--standalone', '--root', root, '--log-level', 'error', ...flags],
    env: { ...process.env },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'icotes-budget', version: '1.0.0' });
  await client.connect(transport, { timeout: 30000 });
  return client;
}

async function listTools(client) {
  const tools = [];
  let cursor;
  let size = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {}, { timeout: 30000 });
    size += bytes(JSON.stringify(page));
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return { tools, size };
}

// What Claude Code sends its model for one loaded MCP tool.
const claudeView = (t) => bytes(JSON.stringify({ name: `mcp__icotes__${t.name}`, description: t.description, input_schema: t.inputSchema }));

// The tree under test, and the files and revisions worth asking about.
function describeTree(root) {
  const git = (...a) => {
    try {
      return execFileSync('git', ['-C', root, ...a], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const files = [];
  let widest = { dir: '.', n: 0 };
  const stack = ['.'];
  let seen = 0;
  while (stack.length && seen < 400000) {
    const rel = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    seen += entries.length;
    if (entries.length > widest.n) widest = { dir: rel, n: entries.length };
    for (const e of entries) {
      if (e.name === '.git' || e.name === 'node_modules') continue;
      const r = rel === '.' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) stack.push(r);
      else if (e.isFile() && /\.(c|h|cc|hpp|txt|md|rst|log|json|py|js|S|ya?ml)$/.test(e.name)) {
        files.push({ rel: r, size: fs.statSync(path.join(root, r)).size });
      }
    }
  }
  files.sort((a, b) => b.size - a.size);
  const isGit = git('rev-parse', '--is-inside-work-tree') === 'true';
  const tag = isGit && git('rev-parse', '-q', '--verify', 'big-commit^{commit}');
  const bigCommit = tag || (isGit ? git('rev-list', '--max-parents=0', 'HEAD').split('\n')[0] : 'HEAD');
  // The file most often changed lately: the richest blame.
  const counts = new Map();
  if (isGit) for (const f of git('log', '-n', '300', '--format=', '--name-only').split('\n').filter(Boolean)) counts.set(f, (counts.get(f) ?? 0) + 1);
  const blame = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? files[0]?.rel;
  return { largest: files.slice(0, 3).map((f) => f.rel), widest: widest.dir, bigCommit, blame, isGit };
}

// A scratch git workspace for the tools that change things or need an id.
function makeScratch(dir) {
  const git = (...a) => execFileSync('git', ['-c', 'user.name=budget', '-c', 'user.email=budget@example.org', '-c',
    'commit.gpgsign=false', ...a], { cwd: dir, stdio: 'ignore', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir } });
  fs.mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < 20000; ++i) lines.push(`line ${i} of a large file, with enough words to weigh something`);
  fs.writeFileSync(path.join(dir, 'big.txt'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha\nbeta\ngamma\n');
  for (const n of ['m.txt', 'd.txt', 'p.txt']) fs.writeFileSync(path.join(dir, n), `${n}\n`);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'scratch');
  fs.writeFileSync(path.join(dir, 'big.txt'), `${lines.map((l, i) => (i % 7 ? l : `${l} (changed)`)).join('\n')}\n`);
}

// Maximal values of the size parameters a tool has.
function maximal(tool, args) {
  const props = tool.inputSchema?.properties ?? {};
  const out = { ...args };
  let any = false;
  for (const [name, s] of Object.entries(props)) {
    if (!SIZE_PARAM.test(name) || s.type !== 'integer') continue;
    out[name] = s.maximum ?? 1e9;
    any = true;
  }
  return any ? out : null;
}

// Fills a tool's required parameters from their names and types (tools this
// file does not know yet).
function guess(tool, scratch) {
  const schema = tool.inputSchema ?? {};
  const args = {};
  for (const name of schema.required ?? []) {
    const s = schema.properties?.[name] ?? {};
    if (s.enum) args[name] = s.enum[0];
    else if (/paths$/i.test(name)) args[name] = [scratch ? 'a.txt' : '.'];
    else if (/path$/i.test(name)) args[name] = scratch ? 'a.txt' : '.';
    else if (name === 'rev' || name === 'target') args[name] = 'HEAD';
    else if (s.type === 'string') args[name] = `budget-${name}`;
    else if (s.type === 'integer' || s.type === 'number') args[name] = 1;
    else if (s.type === 'boolean') args[name] = false;
    else if (s.type === 'array') args[name] = [];
    else if (s.type === 'object') args[name] = {};
  }
  return args;
}

const ROOT_SPEC = process.env.ICOTES_BUDGET_ROOT ?? 'generated';

test(`result budgets of every MCP tool on ${ROOT_SPEC}`, { timeout: 3600000 }, async () => {
  const tmp = tempDir('budget');
  let root = ROOT_SPEC;
  if (ROOT_SPEC === 'generated') root = makeLargeWorkspace(process.env.ICOTES_BUDGET_WORK ?? path.join(tmp, 'large')).root;
  assert.ok(fs.existsSync(root), `${root} exists`);
  const tree = describeTree(root);
  const scratchRoot = path.join(tmp, 'scratch');
  makeScratch(scratchRoot);
  const violations = [];
  const rows = [];
  const reader = await connect(root, []);
  // Ids come from structuredContent; the text is the same with or without it.
  const writer = await connect(scratchRoot, ['--permission-mode', 'bypass', '--structured-output']);
  try {
    const { tools, size } = await listTools(reader);
    const view = tools.reduce((n, t) => n + claudeView(t), 0);
    rows.push({ call: 'tools/list', group: 'list', bytes: size, note: `${tools.length} tools; Claude Code's view ${view} bytes` });
    if (size > TOOLS_LIST_BUDGET) violations.push(`tools/list is ${size} bytes, over ${TOOLS_LIST_BUDGET}`);
    if (view > CLAUDE_VIEW_BUDGET) {
      const top = tools.map((t) => [t.name, claudeView(t)]).sort((a, b) => b[1] - a[1]).slice(0, 8);
      violations.push(`Claude Code's view of the tools is ${view} bytes, over ${CLAUDE_VIEW_BUDGET} (largest: ${top.map(([n, b]) => `${n} ${b}`).join(', ')})`);
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    // The whole schemas (every parameter, with its bounds), for the maximal calls.
    const full = await connect(root, ['--full-tool-schemas']);
    const fullByName = new Map((await listTools(full).finally(() => full.close().catch(() => {}))).tools.map((t) => [t.name, t]));
    const called = new Set();
    const ids = {};

    const call = async (server, name, args, group, label = '') => {
      const tool = byName.get(name);
      if (!tool) return null;
      called.add(name);
      const client = server === 'tree' ? reader : writer;
      const what = `${name} ${JSON.stringify(args)}${label ? ` (${label})` : ''}`;
      const started = Date.now();
      let r;
      try {
        r = await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });
      } catch (e) {
        violations.push(`${what}: ${e.message}`);
        rows.push({ call: what, group, bytes: -1, note: `failed: ${e.message}` });
        return null;
      }
      const text = textOf(r);
      const n = bytes(text);
      const ms = Date.now() - started;
      const budget = group === 'default' ? DEFAULT_BUDGET : MAX_BUDGET;
      if (n > budget) violations.push(`${what}: ${n} bytes of text, over the ${group === 'default' ? 'default' : 'hard'} budget ${budget}`);
      else if (text.includes(NET_NOTE)) violations.push(`${what}: cut by the server's safety net at ${n} bytes: the tool must page within the client's limit itself`);
      rows.push({ call: what, group, bytes: n, note: `${r.isError ? `error: ${text.slice(0, 100).replace(/\s+/g, ' ')}` : ''}${ms > 5000 ? ` ${ms} ms` : ''}` });
      return r;
    };
    const both = async (server, name, args, extra = {}) => {
      await call(server, name, args, 'default');
      const tool = byName.get(name) && fullByName.get(name);
      const max = tool && maximal(tool, { ...args, ...extra });
      if (max) await call(server, name, max, 'max');
    };
    const idKey = (name, fallback) => {
      const props = byName.get(name)?.inputSchema?.properties ?? {};
      return 'id' in props ? 'id' : fallback in props ? fallback : Object.keys(props).find((k) => /id$/i.test(k)) ?? 'id';
    };

    // Reads on the tree.
    const [f1, f2, f3] = tree.largest;
    await both('tree', 'read_file', { path: f1 });
    await both('tree', 'read_many_files', { paths: [f1, f2, f3].filter(Boolean) });
    await both('tree', 'get_file_info', { path: f1 });
    await both('tree', 'list_directory', { path: '.' });
    await both('tree', 'list_directory', { path: tree.widest });
    await call('tree', 'list_directory', { path: '.', depth: 3 }, 'max');
    await both('tree', 'glob', { pattern: '**/*' });
    await both('tree', 'grep', { pattern: '' });
    await both('tree', 'grep', { pattern: 'e' });
    await both('tree', 'git_status', {});
    await both('tree', 'git_log', {});
    await both('tree', 'git_show', {});
    await both('tree', 'git_show', { rev: tree.bigCommit });
    await both('tree', 'git_diff', {});
    await both('tree', 'git_blame', { path: tree.blame });
    await both('tree', 'git_branch', { action: 'list' });
    await both('tree', 'git_stash', { action: 'list' });
    await call('tree', 'open_in_editor', { path: f1 }, 'default');
    await both('tree', 'workspace_info', {});

    // Changes, commands and terminals on the scratch workspace.
    await call('scratch', 'write_file', { path: 'new.txt', content: 'new\n' }, 'default');
    await call('scratch', 'edit_file', { path: 'a.txt', edits: [{ oldString: 'beta', newString: 'BETA' }] }, 'default');
    await call('scratch', 'apply_patch', { patch: '--- a/p.txt\n+++ b/p.txt\n@@ -1 +1 @@\n-p.txt\n+p.txt (patched)\n' }, 'default');
    await call('scratch', 'move_file', { source: 'm.txt', destination: 'moved/m.txt' }, 'default');
    await call('scratch', 'create_directory', { path: 'made/here' }, 'default');
    await call('scratch', 'delete_file', { path: 'd.txt' }, 'default');
    await both('scratch', 'git_diff', {});
    await call('scratch', 'git_stage', { paths: ['a.txt'] }, 'default');
    await call('scratch', 'git_unstage', { paths: ['a.txt'] }, 'default');
    await call('scratch', 'git_stage', { paths: ['a.txt', 'big.txt'] }, 'default');
    await call('scratch', 'git_commit', { message: 'budget: a commit' }, 'default');
    await both('scratch', 'git_show', {});
    await call('scratch', 'git_branch', { action: 'create', name: 'budget-branch' }, 'default');
    await call('scratch', 'git_branch', { action: 'delete', name: 'budget-branch' }, 'default');
    fs.appendFileSync(path.join(scratchRoot, 'a.txt'), 'stash me\n');
    await call('scratch', 'git_stash', { action: 'push' }, 'default');
    await call('scratch', 'git_stash', { action: 'pop' }, 'default');
    await both('scratch', 'run_command', { command: 'cat big.txt' });
    await both('scratch', 'run_code', { language: 'python', code: 'for i in range(20000): print("output line", i)' });
    const job = await call('scratch', 'run_command', { command: 'seq 1 200000; exec sleep 600', background: true }, 'default', 'background');
    const jobId = job?.structuredContent?.jobId ?? job?.structuredContent?.id;
    if (jobId) {
      const key = idKey('job_output', 'jobId');
      await both('scratch', 'job_output', { [key]: jobId }, { waitMs: 2000 });
      await both('scratch', 'job_list', {});
      await call('scratch', 'job_kill', { [idKey('job_kill', 'jobId')]: jobId }, 'default');
    } else violations.push(`run_command background gave no job id: ${JSON.stringify(job).slice(0, 200)}`);
    const term = await call('scratch', 'terminal_create', {}, 'default');
    const termId = term?.structuredContent?.id ?? term?.structuredContent?.terminalId;
    if (termId) {
      const key = idKey('terminal_read', 'id');
      await call('scratch', 'terminal_write', { [key]: termId, data: 'seq 1 100000; echo BUDGET-$((40+2))\n' }, 'default');
      await call('scratch', 'terminal_read', { [key]: termId, waitFor: { regex: 'BUDGET-42', timeoutMs: 60000 } }, 'default', 'after the output');
      await both('scratch', 'terminal_read', { [key]: termId, mode: 'scrollback' });
      await both('scratch', 'terminal_read', { [key]: termId, mode: 'raw', since: 0 });
      await call('scratch', 'terminal_resize', { [key]: termId, cols: 100, rows: 40 }, 'default');
      await both('scratch', 'terminal_list', {});
      await call('scratch', 'terminal_kill', { [key]: termId }, 'default');
    } else violations.push(`terminal_create gave no id: ${JSON.stringify(term).slice(0, 200)}`);

    // Tools this file does not know by name (new ones): their required
    // parameters guessed, read-only ones on the tree.
    for (const t of tools) {
      if (called.has(t.name) || t.name === 'test_sleep') continue;
      const onTree = t.annotations?.readOnlyHint === true && !(t.inputSchema?.required ?? []).some((r) => /id$/i.test(r));
      const args = guess(t, !onTree);
      rows.push({ call: `${t.name}: not known to this test, required parameters guessed`, group: 'note', bytes: 0, note: '' });
      await both(onTree ? 'tree' : 'scratch', t.name, args);
    }
    for (const t of tools) if (!called.has(t.name) && t.name !== 'test_sleep') violations.push(`${t.name} was not called`);
  } finally {
    await reader.close().catch(() => {});
    await writer.close().catch(() => {});
    removeDir(tmp);
  }

  const table = ['| call | budget | text bytes | note |', '|---|---|---:|---|',
    ...rows.map((r) => `| ${r.call.replace(/\|/g, '\\|').slice(0, 160)} | ${r.group} | ${r.bytes} | ${r.note ?? ''} |`)].join('\n');
  console.log(`# ${ROOT_SPEC}\n${table}`);
  if (process.env.ICOTES_BUDGET_REPORT)
    fs.writeFileSync(process.env.ICOTES_BUDGET_REPORT, `# Result budgets on ${ROOT_SPEC}\n\n${table}\n\n## Violations\n\n${violations.map((v) => `- ${v}`).join('\n')}\n`);
  assert.deepEqual(violations, [], `${violations.length} budget violations on ${ROOT_SPEC}:\n${violations.join('\n')}`);
});
