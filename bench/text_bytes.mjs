#!/usr/bin/env node
// bench/text_bytes.mjs: how many bytes an MCP host hands its model for the
// calls that made results too large for a model's context, per icotes build.
// Writes bench/results/text-bytes.json (every label's figures) and, from it,
// bench/results/text-bytes.md (one column per label: before, after).
//
//   node bench/text_bytes.mjs --label before --binary /path/to/old/icotes --commit def4d2e
//   node bench/text_bytes.mjs                       # label "after", build/release/icotes
//   node bench/text_bytes.mjs --note 'what this build holds'  # recorded beside the label
//   node bench/text_bytes.mjs --render-only         # the .md again from the .json
//
// The workspace is integration/large-workspace.mjs's (generated once into
// bench/work/text-bytes; deterministic). Each call goes over stdio, MCP
// 2025-11-25, `serve --standalone`, default flags. Per call it records:
//   text      bytes of the text content blocks (UTF-8), what Gemini CLI and Zed
//             hand the model;
//   struct    bytes of the JSON of structuredContent (0 when absent);
//   model     what Claude Code, Codex and VS Code hand the model: the struct
//             JSON when there is one, else the text.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeLargeWorkspace } from '../integration/large-workspace.mjs';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const LABEL = opt('--label', 'after');
const COMMIT = opt('--commit', '');  // the commit the binary was built from, for the record
const NOTE = opt('--note', '');  // what the build holds, for the record
const BINARY = path.resolve(opt('--binary', path.join(SRC, 'build/release/icotes')));
const WORK = path.resolve(opt('--work', path.join(SRC, 'bench/work/text-bytes')));
const OUT_JSON = path.join(SRC, 'bench/results/text-bytes.json');
const OUT_MD = path.join(SRC, 'bench/results/text-bytes.md');
const bytes = (s) => Buffer.byteLength(s, 'utf8');

// A bare MCP client over the server's stdio (newline-delimited JSON-RPC).
class Server {
  constructor(root) {
    this.child = spawn(BINARY, ['serve', '--standalone', '--root', root, '--log-level', 'warn'],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    this.buf = '';
    this.waiting = new Map();
    this.next = 1;
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      this.buf += d;
      for (let i; (i = this.buf.indexOf('\n')) >= 0;) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const m = JSON.parse(line);
        if (m.id !== undefined && this.waiting.has(m.id)) {
          this.waiting.get(m.id)({ message: m, size: bytes(line) });
          this.waiting.delete(m.id);
        }
      }
    });
  }
  request(method, params, timeoutMs = 300000) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (r) => { clearTimeout(timer); resolve(r); });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }
  async init() {
    await this.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'text-bytes', version: '1' } });
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  }
  close() {
    this.child.stdin.end();
    return new Promise((r) => this.child.once('exit', r));
  }
}

const CALLS = (ws) => [
  ['read_many_files', 'read_many_files of 3 large files (300 KB each)', { paths: ws.largeFiles }],
  ['list_directory', 'list_directory of a 12,000-entry folder', { path: ws.bigDir }],
  ['list_directory', 'list_directory depth 3 at the root (with an ignored node_modules)', { path: '.', depth: 3 }],
  ['git_show', 'git_show of a 763-file commit', { rev: ws.bigCommitTag }],
  ['git_diff', 'git_diff of an 84 KB patch (working tree)', {}],
  ['git_blame', 'git_blame of a 772-line file', { path: ws.blameFile }],
  ['git_log', 'git_log, defaults (177 commits)', {}],
  ['grep', 'grep "" (defaults)', { pattern: '' }],
];

async function measure() {
  const ws = makeLargeWorkspace(WORK);
  const server = new Server(ws.root);
  await server.init();
  const rows = [];
  for (const [tool, what, params] of CALLS(ws)) {
    const { message } = await server.request('tools/call', { name: tool, arguments: params });
    const r = message.result ?? {};
    const text = (r.content ?? []).filter((c) => c.type === 'text').reduce((n, c) => n + bytes(c.text), 0);
    const struct = r.structuredContent ? bytes(JSON.stringify(r.structuredContent)) : 0;
    rows.push({ what, call: `${tool} ${JSON.stringify(params)}`, text, struct, model: struct || text,
      error: message.error ? message.error.message : r.isError ? 'isError' : undefined });
  }
  // resources/list: every page.
  let cursor;
  let pages = 0;
  let resources = 0;
  let total = 0;
  let first = 0;
  do {
    const { message, size } = await server.request('resources/list', cursor ? { cursor } : {});
    if (!pages) first = size;
    ++pages;
    total += size;
    resources += message.result?.resources?.length ?? 0;
    cursor = message.result?.nextCursor;
  } while (cursor && pages < 10000);
  rows.push({ what: 'resources/list, every page', call: 'resources/list', text: total, struct: 0, model: 0,
    extra: `${resources} resources in ${pages} pages; first page ${first} bytes` });
  const { message: tl, size: tlSize } = await server.request('tools/list', {});
  const claude = tl.result.tools.reduce((n, t) => n + bytes(JSON.stringify({ name: `mcp__icotes__${t.name}`,
    description: t.description, input_schema: t.inputSchema })), 0);
  rows.push({ what: 'tools/list (the whole answer)', call: 'tools/list', text: tlSize, struct: 0, model: 0,
    extra: `${tl.result.tools.length} tools; Claude Code's view (name, description, input_schema) ${claude} bytes` });
  await server.close();
  return rows;
}

function commitOf(binary) {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
    return out;
  } catch {
    return 'unknown';
  }
}

const kb = (n) => (n === undefined ? '' : n === 0 ? '0' : `${(n / 1024).toFixed(1)} KB`);

function markdown(all) {
  const labels = Object.keys(all).sort((a, b) => (a === 'before' ? -1 : b === 'before' ? 1 : a.localeCompare(b)));
  if (!labels.includes('after')) labels.push('after');
  const whats = [];
  for (const l of labels) for (const r of all[l]?.rows ?? []) if (!whats.includes(r.what)) whats.push(r.what);
  const lines = ['# Text an MCP host hands its model, per call', '',
    'Generated by `node bench/text_bytes.mjs --label LABEL --binary BIN` (bench/text_bytes.mjs says how it measures).',
    'Workspace: integration/large-workspace.mjs (12,000-entry folder, 763-file commit, 772-line file, 3 logs of 300 KB,',
    'an 84 KB working-tree patch, an ignored node_modules). Per label: **text** is the text content (what Gemini CLI',
    'and Zed hand the model), **struct** the JSON of structuredContent, **model** what Claude Code, Codex and VS Code',
    'hand the model (the struct JSON when present, else the text). Budget: 32 KB by default, 100 KB at most.', ''];
  for (const l of labels) {
    const meta = all[l];
    lines.push(meta ? `- **${l}**: ${meta.version}, measured ${meta.date}${meta.note ? `. ${meta.note}` : ''}` : `- **${l}**: not measured yet`);
  }
  lines.push('', `| call | ${labels.map((l) => `${l}: text | ${l}: struct | ${l}: model`).join(' | ')} |`,
    `|---|${labels.map(() => '---:|---:|---:').join('|')}|`);
  for (const what of whats) {
    const cells = labels.map((l) => {
      const r = all[l]?.rows.find((x) => x.what === what);
      if (!r) return ' | | ';
      if (r.call === 'resources/list' || r.call === 'tools/list') return `${kb(r.text)} | | `;
      return `${kb(r.text)}${r.error ? ` (${r.error})` : ''} | ${kb(r.struct)} | ${kb(r.model)}`;
    });
    lines.push(`| ${what} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  for (const l of labels) {
    const extras = (all[l]?.rows ?? []).filter((r) => r.extra);
    if (extras.length) lines.push(`${l}:`, ...extras.map((r) => `- ${r.what}: ${r.extra}`), '');
  }
  return `${lines.join('\n')}`;
}

const all = fs.existsSync(OUT_JSON) ? JSON.parse(fs.readFileSync(OUT_JSON, 'utf8')) : {};
if (args.includes('--render-only')) {  // the .md again from the .json, nothing measured
  fs.writeFileSync(OUT_MD, markdown(all));
  process.exit(0);
}
const rows = await measure();
all[LABEL] = { version: `${commitOf(BINARY)}${COMMIT ? ` at ${COMMIT}` : ''}`, date: new Date().toISOString().slice(0, 10), rows,
  ...(NOTE ? { note: NOTE } : {}) };
fs.mkdirSync(path.dirname(OUT_JSON), { recursive: true });
fs.writeFileSync(OUT_JSON, `${JSON.stringify(all, null, 1)}\n`);
fs.writeFileSync(OUT_MD, markdown(all));
for (const r of rows) console.log(`${r.what}: text ${r.text}, struct ${r.struct}${r.error ? ` (${r.error})` : ''}${r.extra ? `; ${r.extra}` : ''}`);
console.log(`wrote ${path.relative(SRC, OUT_MD)}`);
