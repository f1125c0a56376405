#!/usr/bin/env node
// Transcript runner: one recorded session against the real icotes binary, the
// way clangd's test/*.test files work (docs/ARCHITECTURE.md#tests).
//
//   node run.mjs tests/transcripts/<name>.jsonrpc
//
// Env: ICOTES_BINARY (the icotes executable), ICOTES_SOURCE_DIR (the repo),
// specs/mcp/<version>/schema.json of the source tree (ICOTES_SOURCE_DIR);
// ICOTES_TRANSCRIPT_VERBOSE=1 prints the traffic of a passing run too.
// The server runs as `icotes serve --standalone --root <root> --log-level warn [args]`
// with ICOTES_TEST_OPERATIONS=1 (the test/sleep operation, MCP tool test_sleep).
//
// ── File format ─────────────────────────────────────────────────────────────
//   # text                      a comment
//   # root: fixture:NAME        a fresh temp copy of tests/transcripts/fixtures/NAME
//   # root: empty               a fresh empty temp dir (the default)
//   # root: /some/path          that directory itself (not copied)
//   # framing: lsp | ndjson     how client messages are framed (default ndjson);
//                               server output is parsed strictly the same way
//   # args: --max-frame-bytes 1000      extra `serve` arguments
//   # exit: N                   after the last step stdin is closed (if the
//                               process still runs) and the exit code must be N
//                               (default 0)
//   # order: strict             every expectation must match the NEXT server
//                               message (default: responses match by id in any
//                               order, notifications/server requests in order)
//   # timeout: MS               per-wait timeout (default 5000)
//   # file: PATH = TEXT         create a file before start (PATH relative to the
//                               root or absolute; TEXT may be a JSON string)
//   # symlink: PATH -> TARGET   create a symlink before start
//   # generate: PATTERN COUNT   create COUNT files named by the printf-style
//                               PATTERN with one %d / %0Nd (content "file N\n")
//   # expect-file: PATH = TEXT  after the process exited, PATH holds TEXT
//                               (without "= TEXT": PATH exists)
//   # expect-no-file: PATH      after the process exited, PATH does not exist
//   Setup paths expand {{root}} (the root, realpath) and {{outside}} (a temp
//   dir that holds the root and is outside it).
//
//   --> {json}                  a client message, framed per `framing`; the JSON
//                               may continue on following lines (until a blank
//                               line, comment or marker)
//   --> body: TEXT              TEXT framed as-is, not parsed (malformed JSON)
//   --> raw: "json string"      the decoded string's bytes, no framing added
//   --> sleep: MS               pause
//   --> close                   close the server's stdin
//   <-- {json}                  expect one server message (see matching)
//   <--* {json}                 expect zero or more such notifications
//   <--+ {json}                 expect one or more such notifications
//
// In client messages: "{{name}}" (quoted) becomes the JSON of a variable,
// {{name}} inside a string its text; {{repeat:N:S}} becomes S repeated N
// times. Variables: root, rootUri, outside, and every capture.
//
// After the process has exited: files that must (not) exist with given text.
function checkFiles(header, vars) {
  for (const { key, value, lineNo } of header.after) {
    const eq = value.indexOf(' = ');
    const rel = expandVars((eq < 0 ? value : value.slice(0, eq)).trim(), vars, lineNo);
    const file = path.isAbsolute(rel) ? rel : path.join(vars.root, rel);
    const exists = fs.existsSync(file);
    if (key === 'expect-no-file') {
      if (exists) fail(`line ${lineNo}: ${file} exists but should not`);
      continue;
    }
    if (!exists) fail(`line ${lineNo}: ${file} does not exist`);
    if (eq < 0) continue;
    let want = value.slice(eq + 3);
    if (want.startsWith('"')) want = JSON.parse(want);
    const got = fs.readFileSync(file, 'utf8');
    if (got !== want) fail(`line ${lineNo}: ${file} holds ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

// ── Matching ────────────────────────────────────────────────────────────────
// Values must be equal, except for these placeholder strings:
//   "{{any}}"  "{{string}}"  "{{number}}"  "{{integer}}"  "{{boolean}}"
//   "{{object}}"  "{{array}}"     a value of that type
//   "{{regex:RE}}"               a string matching the JS regex RE
//   "{{capture:x}}"              any value, remembered as variable x
//   "{{x}}"                      equal to variable x; {{x}} inside a longer
//                                string is replaced by its text
//   "...": <anything>            (object key) other keys are allowed
//   "..." (last array element)   more elements are allowed
//   ["{{each}}", P, A, B...]     every element matches P, and A, B... each
//                                match some element (any order, others allowed);
//                                "{{each:N}}" also requires exactly N elements
// Object keys may hold variables too: {"{{rootUri}}/a.txt": [...]}.
// A response expectation (has "id", no "method") matches the unmatched
// response with that id, whenever it arrived; a top-level array (batch reply)
// matches the next unmatched batch, its members in any order. Notifications
// and server→client requests match in arrival order. Every wait times out.
// When the process has exited, any server message left unmatched fails.
//
// ── MCP spec check ──────────────────────────────────────────────────────────
// When the first message is an MCP initialize (params.protocolVersion), every
// server message is validated with ajv against
// specs/mcp/<negotiated version>/schema.json: the envelope,
// results by request method, notifications by method; tools/call
// structuredContent against the outputSchema listed by tools/list.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';

const SOURCE_DIR = process.env.ICOTES_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BINARY = process.env.ICOTES_BINARY;
const require = createRequire(path.join(SOURCE_DIR, 'integration/node_modules/'));

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};
const show = (v) => JSON.stringify(v, null, 2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── Parsing the transcript ───────────────────────────────────────────────────

const DIRECTIVES = new Set(['root', 'framing', 'args', 'exit', 'order', 'timeout', 'file', 'symlink', 'generate', 'expect-file', 'expect-no-file']);

function parseTranscript(text) {
  const lines = text.split('\n');
  const header = { root: 'empty', framing: 'ndjson', args: [], exit: 0, order: 'relaxed', timeout: 5000, setup: [], after: [] };
  const steps = [];
  let cur = null;
  const flush = () => {
    if (!cur) return;
    cur.text = cur.text.trim();
    steps.push(cur);
    cur = null;
  };
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.startsWith('#')) {
      flush();
      const m = /^#\s*([a-z-]+):\s?(.*)$/.exec(line);
      if (!m || !DIRECTIVES.has(m[1])) return;
      const [, key, value] = m;
      if (key === 'args') header.args.push(...value.trim().split(/\s+/).filter(Boolean));
      else if (key === 'exit') header.exit = Number(value.trim());
      else if (key === 'timeout') header.timeout = Number(value.trim());
      else if (key === 'file' || key === 'symlink' || key === 'generate') header.setup.push({ key, value, lineNo });
      else if (key.startsWith('expect-')) header.after.push({ key, value, lineNo });
      else header[key] = value.trim();
      return;
    }
    const m = /^(-->|<--\*|<--\+|<--)\s?(.*)$/.exec(line);
    if (m) {
      flush();
      const kind = m[1] === '-->' ? 'send' : 'expect';
      cur = { kind, lineNo, text: m[2] };
      if (kind === 'expect') cur.repeat = m[1] === '<--*' ? '*' : m[1] === '<--+' ? '+' : null;
      return;
    }
    if (line.trim() === '') return flush();
    if (!cur) fail(`line ${lineNo}: text outside a message: ${line}`);
    cur.text += '\n' + line;
  });
  flush();
  if (!['lsp', 'ndjson'].includes(header.framing)) fail(`framing must be lsp or ndjson, not ${header.framing}`);
  for (const s of steps) {
    if (s.kind === 'expect') {
      try {
        s.expected = JSON.parse(s.text);
      } catch (e) {
        fail(`line ${s.lineNo}: expectation is not JSON: ${e.message}`);
      }
      if (s.repeat && (Array.isArray(s.expected) || !('method' in s.expected)))
        fail(`line ${s.lineNo}: <--* and <--+ are for notifications and server requests`);
    }
  }
  return { header, steps };
}

// ── Workspace setup ──────────────────────────────────────────────────────────

function expandVars(text, vars, lineNo) {
  return text.replace(/\{\{([A-Za-z_][\w-]*)\}\}/g, (all, name) => {
    if (!(name in vars)) fail(`line ${lineNo}: unknown variable {{${name}}}`);
    const v = vars[name];
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

function setupRoot(header, vars, cleanup) {
  let root;
  if (header.root === 'empty' || header.root.startsWith('fixture:')) {
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'icotes-transcript-')));
    cleanup.push(() => fs.rmSync(outside, { recursive: true, force: true }));
    root = path.join(outside, 'ws');
    if (header.root === 'empty') {
      fs.mkdirSync(root);
    } else {
      const src = path.join(SOURCE_DIR, 'tests/transcripts/fixtures', header.root.slice(8));
      if (!fs.existsSync(src)) fail(`no fixture ${src}`);
      fs.cpSync(src, root, { recursive: true, verbatimSymlinks: true });
    }
    vars.outside = outside;
  } else {
    root = fs.realpathSync(header.root);
    vars.outside = path.dirname(root);
  }
  vars.root = root;
  vars.rootUri = 'file://' + root.split('/').map(encodeURIComponent).join('/');
  const resolve = (p, lineNo) => {
    const e = expandVars(p.trim(), vars, lineNo);
    return path.isAbsolute(e) ? e : path.join(root, e);
  };
  for (const { key, value, lineNo } of header.setup) {
    if (key === 'file') {
      const eq = value.indexOf(' = ');
      if (eq < 0) fail(`line ${lineNo}: file: PATH = TEXT`);
      const file = resolve(value.slice(0, eq), lineNo);
      let content = value.slice(eq + 3);
      if (content.startsWith('"')) content = JSON.parse(content);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    } else if (key === 'symlink') {
      const [from, to] = value.split(' -> ');
      if (to === undefined) fail(`line ${lineNo}: symlink: PATH -> TARGET`);
      const link = resolve(from, lineNo);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(expandVars(to.trim(), vars, lineNo), link);
    } else if (key === 'generate') {
      const m = /^(\S+)\s+(\d+)$/.exec(value.trim());
      if (!m) fail(`line ${lineNo}: generate: PATTERN COUNT`);
      for (let n = 1; n <= Number(m[2]); ++n) {
        const name = m[1].replace(/%(0?)(\d*)d/, (_, zero, width) => String(n).padStart(Number(width || 0), zero ? '0' : ' '));
        const file = resolve(name, lineNo);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `file ${n}\n`);
      }
    }
  }
  return root;
}

// ── Matching ─────────────────────────────────────────────────────────────────

const TYPE_CHECKS = {
  any: () => true,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

// Returns null on a match, else a description of the first difference.
// Captures are written to `captures` (committed by the caller on success).
function match(expected, actual, vars, captures, where = '') {
  const at = where || '(top)';
  if (typeof expected === 'string') {
    const ph = /^\{\{(.*)\}\}$/s.exec(expected);
    if (ph && !ph[1].includes('{{')) {
      const p = ph[1];
      if (p in TYPE_CHECKS) return TYPE_CHECKS[p](actual) ? null : `${at}: expected ${p}, got ${JSON.stringify(actual)}`;
      if (p.startsWith('regex:'))
        return typeof actual === 'string' && new RegExp(p.slice(6), 's').test(actual)
          ? null
          : `${at}: expected a string matching /${p.slice(6)}/, got ${JSON.stringify(actual)}`;
      if (p.startsWith('capture:')) {
        captures[p.slice(8)] = actual;
        return null;
      }
      if (p in vars) return isDeepStrictEqual(vars[p], actual) ? null : `${at}: expected ${JSON.stringify(vars[p])} ({{${p}}}), got ${JSON.stringify(actual)}`;
      if (p in captures) return isDeepStrictEqual(captures[p], actual) ? null : `${at}: expected ${JSON.stringify(captures[p])} ({{${p}}}), got ${JSON.stringify(actual)}`;
      return `${at}: unknown placeholder ${expected}`;
    }
    const want = expected.includes('{{') ? expandVars(expected, { ...vars, ...captures }, 0) : expected;
    return want === actual ? null : `${at}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: expected an array, got ${JSON.stringify(actual)}`;
    if (/^\{\{each(:\d+)?\}\}$/.test(expected[0])) return matchEach(expected, actual, vars, captures, where);
    const open = expected.length > 0 && expected[expected.length - 1] === '...';
    const items = open ? expected.slice(0, -1) : expected;
    if (open ? actual.length < items.length : actual.length !== items.length)
      return `${at}: expected ${open ? 'at least ' : ''}${items.length} elements, got ${actual.length}`;
    for (let i = 0; i < items.length; ++i) {
      const d = match(items[i], actual[i], vars, captures, `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return `${at}: expected an object, got ${JSON.stringify(actual)}`;
    const open = '...' in expected;
    const keys = new Set();
    for (const [key, v] of Object.entries(expected)) {
      if (key === '...') continue;
      const k = key.includes('{{') ? expandVars(key, { ...vars, ...captures }, 0) : key; // "{{rootUri}}/a.txt": [...]
      keys.add(k);
      if (!(k in actual)) return `${where}/${k}: missing`;
      const d = match(v, actual[k], vars, captures, `${where}/${k}`);
      if (d) return d;
    }
    if (!open) {
      const extra = Object.keys(actual).filter((k) => !keys.has(k));
      if (extra.length) return `${at}: unexpected key(s) ${extra.join(', ')}`;
    }
    return null;
  }
  return isDeepStrictEqual(expected, actual) ? null : `${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

// ["{{each}}", P, A, B...]: every element matches P, and A, B... each match a
// different element (in any order); other elements may exist.
function matchEach(expected, actual, vars, captures, where) {
  const [head, pattern, ...wanted] = expected;
  const count = head.length > 8 ? Number(head.slice(7, -2)) : null;
  if (count !== null && actual.length !== count) return `${where || '(top)'}: expected ${count} elements, got ${actual.length}`;
  if (actual.length === 0) return `${where || '(top)'}: expected a non-empty array`;
  for (let i = 0; i < actual.length; ++i) {
    const d = match(pattern, actual[i], vars, captures, `${where}[${i}]`);
    if (d) return d;
  }
  const used = new Set();
  for (const [n, w] of wanted.entries()) {
    let closest = null;
    const j = actual.findIndex((a, j) => {
      if (used.has(j)) return false;
      const c = {};
      const d = match(w, a, vars, c, `${where}[${j}]`);
      if (d) {
        if (closest === null || (w?.name !== undefined && a?.name === w.name)) closest = d;
        return false;
      }
      Object.assign(captures, c);
      return true;
    });
    if (j < 0) return `${where || '(top)'}: no element matches wanted item ${n + 1} (${closest})`;
    used.add(j);
  }
  return null;
}

// A batch reply: members in any order.
function matchBatch(expected, actual, vars, captures) {
  if (!Array.isArray(actual)) return 'expected a batch (array)';
  if (expected.length !== actual.length) return `expected ${expected.length} replies in the batch, got ${actual.length}`;
  const used = new Set();
  for (const [i, e] of expected.entries()) {
    let last = null;
    const j = actual.findIndex((a, j) => {
      if (used.has(j)) return false;
      const c = {};
      last = match(e, a, vars, c, `[${i}]`);
      if (last) return false;
      Object.assign(captures, c);
      return true;
    });
    if (j < 0) return `batch member ${i} matches no reply (last difference: ${last})`;
    used.add(j);
  }
  return null;
}

const isResponse = (m) => Array.isArray(m) || (m && typeof m === 'object' && !('method' in m));

// ── MCP schema check ─────────────────────────────────────────────────────────

const RESULT_TYPES = {
  initialize: 'InitializeResult',
  ping: 'EmptyResult',
  'tools/list': 'ListToolsResult',
  'tools/call': 'CallToolResult',
  'resources/list': 'ListResourcesResult',
  'resources/read': 'ReadResourceResult',
  'resources/templates/list': 'ListResourceTemplatesResult',
  'completion/complete': 'CompleteResult',
  'logging/setLevel': 'EmptyResult',
};
const NOTIFICATION_TYPES = {
  'notifications/progress': 'ProgressNotification',
  'notifications/message': 'LoggingMessageNotification',
};

class McpChecker {
  constructor() {
    this.version = null;
    this.validators = new Map();
    this.outputSchemas = new Map();
    this.checked = 0;
  }

  setVersion(version) {
    const file = path.join(SOURCE_DIR, 'specs/mcp', version, 'schema.json');
    if (!fs.existsSync(file)) fail(`MCP check: no schema for negotiated version ${version} at ${file}`);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const draft2020 = String(schema.$schema).includes('2020-12');
    const Ajv = draft2020 ? require('ajv/dist/2020').default : require('ajv').default;
    this.ajv = new Ajv({ strict: false, allErrors: true });
    require('ajv-formats').default(this.ajv);
    this.ajv.addSchema(schema, 'mcp');
    this.defs = draft2020 ? '$defs' : 'definitions';
    this.names = new Set(Object.keys(schema[this.defs]));
    this.version = version;
  }

  check(type, value, what) {
    if (!this.names.has(type)) fail(`MCP check: ${this.version} schema has no ${type}`);
    let v = this.validators.get(type);
    if (!v) {
      v = this.ajv.getSchema(`mcp#/${this.defs}/${type}`);
      this.validators.set(type, v);
    }
    if (!v(value)) fail(`MCP ${this.version} schema: ${what} is not a valid ${type}:\n${this.ajv.errorsText(v.errors, { separator: '\n' })}\n${show(value)}`);
  }

  // `method`: the client request a response answers (undefined if unknown).
  message(msg, method, params) {
    if (method === 'initialize' && msg.result && !this.version) this.setVersion(msg.result.protocolVersion);
    if (!this.version) return;
    ++this.checked;
    if (Array.isArray(msg)) fail(`MCP ${this.version}: the server sent a batch`);
    if ('method' in msg) {
      const kind = 'id' in msg ? 'Request' : 'Notification';
      this.check(`JSONRPC${kind}`, msg, `server ${kind.toLowerCase()} ${msg.method}`);
      this.check(`Server${kind}`, msg, `server ${kind.toLowerCase()} ${msg.method}`);
      if (NOTIFICATION_TYPES[msg.method]) this.check(NOTIFICATION_TYPES[msg.method], msg, msg.method);
      return;
    }
    if ('error' in msg) {
      this.check(this.names.has('JSONRPCErrorResponse') ? 'JSONRPCErrorResponse' : 'JSONRPCError', msg, `error reply to ${method}`);
      return;
    }
    this.check(this.names.has('JSONRPCResultResponse') ? 'JSONRPCResultResponse' : 'JSONRPCResponse', msg, `reply to ${method}`);
    if (RESULT_TYPES[method]) this.check(RESULT_TYPES[method], msg.result, `result of ${method}`);
    if (method === 'tools/list') {
      for (const t of msg.result.tools ?? []) if (t.outputSchema) this.outputSchemas.set(t.name, t.outputSchema);
    }
    if (method === 'tools/call' && msg.result && 'structuredContent' in msg.result) {
      const schema = this.outputSchemas.get(params?.name);
      if (schema) {
        const v = this.ajv.compile(schema);
        if (!v(msg.result.structuredContent))
          fail(`tools/call ${params.name}: structuredContent does not match the advertised outputSchema:\n${this.ajv.errorsText(v.errors, { separator: '\n' })}\n${show(msg.result.structuredContent)}`);
      }
    }
  }
}

// ── The server process ───────────────────────────────────────────────────────

class Server {
  constructor(root, header, log) {
    this.framing = header.framing;
    this.log = log;
    this.messages = []; // {seq, msg, used}
    this.waiters = new Set();
    this.stderr = '';
    this.buf = Buffer.alloc(0);
    this.exitCode = undefined;
    this.stdinOpen = true;
    this.protocolError = null;
    this.onMessage = () => {};
    const args = ['serve', '--standalone', '--root', root, '--log-level', 'warn', ...header.args];
    log(`$ ${BINARY} ${args.join(' ')}`);
    this.proc = spawn(BINARY, args, { env: { ...process.env, ICOTES_TEST_OPERATIONS: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdin.on('error', () => {}); // EPIPE after exit: the exit code check reports it
    this.proc.stdout.on('data', (d) => this.onData(d));
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => {
        this.exitCode = code ?? `signal ${signal}`;
        resolve();
        this.wake();
      }),
    );
    this.proc.on('error', (e) => {
      this.protocolError = `cannot start ${BINARY}: ${e.message}`;
      this.wake();
    });
  }

  wake() {
    for (const w of this.waiters) w();
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      let body;
      if (this.framing === 'lsp') {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = this.buf.subarray(0, end).toString('latin1');
        const m = /^Content-Length: (\d+)$/.exec(head);
        if (!m) {
          this.protocol(`bad LSP header block from the server: ${JSON.stringify(head)}`);
          return;
        }
        const len = Number(m[1]);
        if (this.buf.length < end + 4 + len) break;
        body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
        this.buf = this.buf.subarray(end + 4 + len);
      } else {
        const nl = this.buf.indexOf('\n');
        if (nl < 0) break;
        body = this.buf.subarray(0, nl).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
      }
      let msg;
      try {
        msg = JSON.parse(body);
      } catch (e) {
        this.protocol(`the server wrote something that is not JSON: ${JSON.stringify(body)}`);
        return;
      }
      this.log(`<-- ${JSON.stringify(msg)}`);
      this.messages.push({ seq: this.messages.length, msg, used: false });
      try {
        this.onMessage(msg);
      } catch (e) {
        this.protocol(e.message);
      }
    }
    this.wake();
  }

  protocol(message) {
    if (!this.protocolError) this.protocolError = message;
    this.wake();
  }

  write(bytes) {
    if (!this.stdinOpen) fail('cannot send: stdin is closed');
    this.proc.stdin.write(bytes);
  }

  frame(body) {
    if (this.framing === 'lsp') return Buffer.concat([Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`), Buffer.from(body)]);
    return Buffer.from(body + '\n');
  }

  close() {
    if (this.stdinOpen) {
      this.stdinOpen = false;
      this.proc.stdin.end();
    }
  }

  // Waits until pred() returns a value other than undefined, or the timeout.
  async until(pred, timeout, what) {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.protocolError) fail(this.protocolError);
      const r = pred();
      if (r !== undefined) return r;
      if (this.exitCode !== undefined) return pred(true);
      const left = deadline - Date.now();
      if (left <= 0) return pred(true);
      await new Promise((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      }).finally(() => this.waiters.clear());
    }
  }
}

// ── Running ──────────────────────────────────────────────────────────────────

function expandClient(text, vars, lineNo) {
  text = text.replace(/\{\{repeat:(\d+):([^}]*)\}\}/g, (_, n, s) => s.repeat(Number(n)));
  text = text.replace(/"\{\{([A-Za-z_][\w-]*)\}\}"/g, (all, name) => {
    if (!(name in vars)) fail(`line ${lineNo}: unknown variable {{${name}}}`);
    return JSON.stringify(vars[name]);
  });
  return expandVars(text, vars, lineNo);
}

const traffic = [];

async function run(file) {
  if (!BINARY) fail('ICOTES_BINARY is not set');
  const { header, steps } = parseTranscript(fs.readFileSync(file, 'utf8'));
  const cleanup = [];
  const log = (line) => traffic.push(line.length > 2000 ? line.slice(0, 2000) + '…' : line);
  const vars = {};
  let server;
  try {
    const root = setupRoot(header, vars, cleanup);
    server = new Server(root, header, log);
    const pending = new Map(); // request id (JSON) → {method, params}, for the MCP check
    let mcp = null;
    server.onMessage = (msg) => {
      if (!mcp) return;
      let req;
      if (!Array.isArray(msg) && !('method' in msg) && 'id' in msg) {
        req = pending.get(JSON.stringify(msg.id));
        pending.delete(JSON.stringify(msg.id));
      }
      mcp.message(msg, req?.method, req?.params);
    };
    const strict = header.order === 'strict';
    const timeout = header.timeout;
    const firstUnused = () => server.messages.find((m) => !m.used);
    const nextNotification = () => server.messages.find((m) => !m.used && (strict || !isResponse(m.msg)));

    const expectOne = async (step) => {
      const exp = step.expected;
      const captures = {};
      let entry;
      if (strict) {
        entry = await server.until((final) => firstUnused() ?? (final ? null : undefined), timeout);
      } else if (Array.isArray(exp)) {
        entry = await server.until((final) => server.messages.find((m) => !m.used && Array.isArray(m.msg)) ?? (final ? null : undefined), timeout);
      } else if (isResponse(exp)) {
        const sameId = (m) => !m.used && !Array.isArray(m.msg) && !('method' in m.msg) && match(exp.id, m.msg.id, vars, {}) === null;
        entry = await server.until((final) => server.messages.find(sameId) ?? (final ? null : undefined), timeout);
      } else {
        entry = await server.until((final) => nextNotification() ?? (final ? null : undefined), timeout);
      }
      if (!entry) {
        const why = server.exitCode !== undefined ? `the server exited (${server.exitCode})` : `nothing within ${timeout} ms`;
        fail(`line ${step.lineNo}: expected\n${show(exp)}\nbut ${why}`);
      }
      const diff = Array.isArray(exp) ? matchBatch(exp, entry.msg, vars, captures) : match(exp, entry.msg, vars, captures);
      if (diff) fail(`line ${step.lineNo}: reply does not match\n  ${diff}\nexpected:\n${show(exp)}\nactual:\n${show(entry.msg)}`);
      entry.used = true;
      Object.assign(vars, captures);
    };

    // <--* / <--+: consume matching notifications; stop at the first that
    // does not match, or when `next` can proceed.
    const expectRepeat = async (step, next) => {
      let count = 0;
      const tryTake = () => {
        const n = nextNotification();
        if (!n) return undefined;
        const captures = {};
        if (match(step.expected, n.msg, vars, captures)) return false;
        n.used = true;
        Object.assign(vars, captures);
        ++count;
        return true;
      };
      const nextResponseReady = () =>
        !strict &&
        isResponse(next.expected) &&
        server.messages.some((m) => !m.used && isResponse(m.msg) && (Array.isArray(next.expected) ? Array.isArray(m.msg) : !Array.isArray(m.msg) && match(next.expected.id, m.msg.id, vars, {}) === null));
      const canStop = () => (step.repeat === '*' || count > 0) && (!next || next.kind !== 'expect' || nextResponseReady());
      for (;;) {
        const took = tryTake();
        if (took === true) continue;
        if (took === false) break; // the next notification is someone else's
        // Nothing unmatched yet: stop when the next step can go on.
        const more = await server.until((final) => (nextNotification() ? true : canStop() || final ? false : undefined), timeout);
        if (!more) break;
      }
      if (step.repeat === '+' && count === 0) {
        const n = nextNotification();
        fail(`line ${step.lineNo}: expected one or more of\n${show(step.expected)}\nbut got ${n ? show(n.msg) : 'nothing'}${n ? '\n  ' + match(step.expected, n.msg, vars, {}) : ''}`);
      }
    };

    let deferred = []; // trailing repeats: matched after the process exits
    for (let i = 0; i < steps.length; ++i) {
      const step = steps[i];
      if (server.protocolError) fail(server.protocolError);
      if (step.kind === 'send') {
        const t = step.text;
        if (t === 'close') {
          log('--> close');
          server.close();
        } else if (t.startsWith('sleep:')) {
          await sleep(Number(t.slice(6)));
        } else if (t.startsWith('raw:')) {
          const bytes = JSON.parse(expandClient(t.slice(4).trim(), vars, step.lineNo));
          log(`--> raw ${JSON.stringify(bytes)}`);
          server.write(Buffer.from(bytes));
        } else if (t.startsWith('body:')) {
          const body = expandClient(t.slice(5).trim(), vars, step.lineNo);
          log(`--> body ${body}`);
          server.write(server.frame(body));
        } else {
          let msg;
          try {
            msg = JSON.parse(expandClient(t, vars, step.lineNo));
          } catch (e) {
            fail(`line ${step.lineNo}: client message is not JSON: ${e.message}`);
          }
          if (i === steps.findIndex((s) => s.kind === 'send') && msg?.method === 'initialize' && msg.params?.protocolVersion) mcp = new McpChecker();
          for (const m of Array.isArray(msg) ? msg : [msg]) {
            if (m && typeof m === 'object' && 'method' in m && 'id' in m) pending.set(JSON.stringify(m.id), { method: m.method, params: m.params });
          }
          const body = JSON.stringify(msg);
          log(`--> ${body}`);
          server.write(server.frame(body));
        }
        continue;
      }
      const rest = steps.slice(i + 1);
      if (step.repeat && rest.every((s) => s.kind === 'expect' && s.repeat)) {
        deferred = rest.length ? [step, ...rest] : [step];
        break;
      }
      if (step.repeat) await expectRepeat(step, steps[i + 1]);
      else await expectOne(step);
    }

    server.close();
    let timer;
    await Promise.race([server.exited, new Promise((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    if (server.exitCode === undefined) {
      server.proc.kill('SIGKILL');
      await server.exited;
      fail(`the server did not exit within ${timeout} ms after the transcript ended (stdin closed)`);
    }
    if (server.protocolError) fail(server.protocolError);
    for (const step of deferred) await expectRepeat(step, null);
    if (server.exitCode !== header.exit) fail(`exit code ${server.exitCode}, expected ${header.exit}`);
    const left = server.messages.filter((m) => !m.used);
    if (left.length) fail(`unexpected server message(s):\n${left.map((m) => JSON.stringify(m.msg)).join('\n')}`);
    checkFiles(header, vars);
    if (mcp) log(`MCP check: ${mcp.checked} server messages valid against specs/mcp/${mcp.version}/schema.json`);
  } catch (e) {
    if (server && server.exitCode === undefined) server.proc.kill('SIGKILL');
    e.traffic = traffic;
    e.stderr = server?.stderr;
    throw e;
  } finally {
    for (const c of cleanup) c();
  }
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node run.mjs <transcript.jsonrpc>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error(`FAIL ${path.basename(file)}: the transcript took longer than 50 s`);
  process.exit(1);
}, 50_000);
try {
  await run(file);
  clearTimeout(watchdog);
  console.log(`ok ${path.basename(file)}`);
  if (process.env.ICOTES_TRANSCRIPT_VERBOSE) console.log(traffic.join('\n'));
} catch (e) {
  clearTimeout(watchdog);
  console.error(`FAIL ${path.basename(file)}: ${e instanceof Failure ? e.message : e.stack}`);
  if (e.traffic?.length) console.error(`\n── traffic ──\n${e.traffic.join('\n')}`);
  if (e.stderr) console.error(`\n── server stderr ──\n${e.stderr.slice(-4000)}`);
  process.exit(1);
}
