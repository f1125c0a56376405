// The MCP TypeScript SDK client (what Claude Code, Cursor and the MCP
// inspector use) spawning `icotes serve --standalone --root <root>` over stdio,
// with --structured-output (a program reading structuredContent, checked by
// the SDK against each tool's outputSchema) unless a test says otherwise:
//  - /usr/include as a read-only workspace: tools, read_file, paging,
//    resources, templates, completion, confinement;
//  - a temporary copy of a real source tree (/usr/src/googletest, a Debian
//    package's sources) for writes, edits and patches, checked byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import {
  assertSameTree, fileEntry, removeDir, requireBinary, sha256, snapshot, splitLines, tempDir,
} from './helpers.mjs';

const REQ = { timeout: 15000 };  // every SDK request is bounded

// The MCP schema of each revision (specs/mcp/<version>/schema.json in this
// repository), to check every message the server sends, whatever the SDK tolerates.
const SPECS = path.join(process.env.ICOTES_SOURCE_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'),
  'specs', 'mcp');
const validators = new Map();
function specValidator(version) {
  if (!validators.has(version)) {
    const file = path.join(SPECS, version, 'schema.json');
    assert.ok(fs.existsSync(file), `MCP schema ${file} (specs/ of the source tree; set ICOTES_SOURCE_DIR)`);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const defs = schema.$defs ? '$defs' : 'definitions';
    const ajv = schema.$defs ? new Ajv2020({ strict: false, allErrors: true }) : new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(schema, 'mcp');
    const get = (name) => (schema[defs][name] ? ajv.getSchema(`mcp#/${defs}/${name}`) : null);
    validators.set(version, get);
  }
  return validators.get(version);
}
const RESULT_TYPES = {
  initialize: 'InitializeResult', ping: 'EmptyResult', 'tools/list': 'ListToolsResult', 'tools/call': 'CallToolResult',
  'resources/list': 'ListResourcesResult', 'resources/read': 'ReadResourceResult',
  'resources/templates/list': 'ListResourceTemplatesResult', 'completion/complete': 'CompleteResult',
  'logging/setLevel': 'EmptyResult',
};

// Records what goes each way; can make the initialize request ask for an
// older revision (the SDK always asks for its newest).
class TappedTransport extends StdioClientTransport {
  constructor(params, askVersion) {
    super(params);
    this.askVersion = askVersion;
    this.sent = new Map();  // id -> method
    this.received = [];     // {method, message}
  }
  async start() {
    const deliver = this.onmessage;
    this.onmessage = (message, extra) => {
      this.received.push({ method: 'id' in message && !('method' in message) ? this.sent.get(message.id) : undefined, message });
      deliver?.(message, extra);
    };
    return super.start();
  }
  async send(message, options) {
    if (message.method === 'initialize' && this.askVersion)
      message = { ...message, params: { ...message.params, protocolVersion: this.askVersion } };
    if ('id' in message && message.method) this.sent.set(message.id, message.method);
    return super.send(message, options);
  }
}

// Every message the server sent, checked against the schema of the
// negotiated revision: results by their request's method, notifications as
// ServerNotification, errors as JSON-RPC errors.
function assertMessagesMatchSpec(session) {
  const get = specValidator(session.negotiated);
  const problems = [];
  let checked = 0;
  for (const { method, message } of session.transport.received) {
    let name = null;
    let value = message;
    if ('method' in message) name = 'id' in message ? 'ServerRequest' : 'ServerNotification';
    else if ('error' in message) name = get('JSONRPCErrorResponse') ? 'JSONRPCErrorResponse' : 'JSONRPCError';
    else {
      name = RESULT_TYPES[method];
      value = message.result;
      if (!name) {
        problems.push(`a response to ${method ?? 'an unknown request'} (id ${message.id})`);
        continue;
      }
    }
    const validate = get(name);
    assert.ok(validate, `${session.negotiated} defines ${name}`);
    if (!validate(value)) {
      problems.push(`${name} for ${method ?? message.method ?? ''}: ${JSON.stringify(validate.errors.slice(0, 3))} in ${JSON.stringify(value).slice(0, 300)}`);
    }
    ++checked;
  }
  assert.deepEqual(problems, [], `server messages that break the ${session.negotiated} schema`);
  return checked;
}

// Starts the binary through the SDK; returns {client, negotiated, stderr(), close()}.
async function connect(root, askVersion, flags = ['--structured-output']) {
  const transport = new TappedTransport({
    command: requireBinary(),
    args: ['serve', '--standalone', '--root', root, '--permission-mode', 'acceptEdits', ...flags],
    env: { ...process.env },
    stderr: 'pipe',
  }, askVersion);
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const session = { negotiated: undefined, transport };
  transport.setProtocolVersion = (v) => { session.negotiated = v; };
  const client = new Client({ name: 'icotes-integration', version: '1.0.0' });
  await client.connect(transport, REQ);
  let exited;
  let closing = false;
  const child = transport._process;
  const exitPromise = new Promise((resolve) => {
    if (!child) return resolve(null);
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // A server that dies on its own (not through close() below) leaves
      // the tests with only "Connection closed": say why it died.
      if (!closing) process.stderr.write(`icotes server exited unexpectedly (${JSON.stringify(exited)}); its stderr:\n${stderr}\n`);
      resolve(exited);
    });
  });
  return Object.assign(session, {
    client,
    stderr: () => stderr,
    async close() {
      closing = true;
      await client.close();
      const t = setTimeout(() => child?.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
      return exited;
    },
  });
}

// callTool, bounded; the SDK itself validates structuredContent against the
// outputSchema it saw in tools/list.
async function call(client, name, args) {
  return client.callTool({ name, arguments: args }, undefined, REQ);
}

function textOf(result) {
  assert.ok(Array.isArray(result.content) && result.content.length > 0, 'content is a non-empty array');
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
}

// read_file's text: a header line (path, lines, sha256, how to continue),
// then the file's lines.
function headerOf(result) {
  const text = textOf(result);
  return text.slice(0, text.indexOf('\n'));
}
function fileText(result) {
  const text = textOf(result);
  return text.slice(text.indexOf('\n') + 1);
}

function assertToolOk(result, what) {
  assert.ok(!result.isError, `${what} failed: ${result.isError ? textOf(result) : ''}`);
  assert.ok(result.structuredContent && typeof result.structuredContent === 'object',
    `${what}: structuredContent must be present for protocol 2025-06-18 and later`);
  return result.structuredContent;
}

function assertToolError(result, what, pattern) {
  assert.equal(result.isError, true, `${what} should be a tool error, got ${JSON.stringify(result).slice(0, 300)}`);
  const message = textOf(result);
  if (pattern) assert.match(message, pattern, `${what}: message`);
  return message;
}

const EXPECTED_TOOLS = ['apply_patch', 'create_directory', 'delete_file', 'edit_file', 'get_file_info',
  'list_directory', 'move_file', 'read_file', 'read_many_files', 'write_file'];

describe('MCP SDK on /usr/include (read-only)', { timeout: 60000 }, () => {
  const ROOT = '/usr/include';
  let s;
  before(async () => { s = await connect(ROOT); });
  after(async () => {
    if (!s) return;
    const exit = await s.close();
    assert.ok(exit === null || exit.code === 0 || exit.signal === 'SIGTERM', `server exit: ${JSON.stringify(exit)}\n${s.stderr()}`);
  });

  test('initialize negotiates the SDK\'s newest protocol and describes the server', () => {
    assert.equal(s.negotiated, '2025-11-25');
    assert.equal(s.client.getServerVersion().name, 'icotes');
    const caps = s.client.getServerCapabilities();
    assert.ok(caps.tools && caps.resources && caps.completions && caps.logging, JSON.stringify(caps));
    assert.match(s.client.getInstructions() ?? '', /\/usr\/include/);
  });

  test('listTools: every file tool with annotations, inputSchema and outputSchema', async () => {
    const tools = [];
    let cursor;
    do {
      const page = await s.client.listTools(cursor ? { cursor } : {}, REQ);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const names = tools.map((t) => t.name);
    for (const name of EXPECTED_TOOLS) assert.ok(names.includes(name), `tool ${name} is listed (got ${names})`);
    assert.equal(new Set(names).size, names.length, 'no duplicate tools');
    // Annotations equal to MCP's defaults (ToolAnnotations) are left out.
    const hint = (t, name) => t.annotations?.[name] ?? { readOnlyHint: false, destructiveHint: true,
      idempotentHint: false, openWorldHint: true }[name];
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', `${t.name}.inputSchema`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name}.outputSchema`);
      assert.ok(t.description && t.description.length > 20, `${t.name}.description`);
      for (const name of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
        assert.ok(!(name in (t.annotations ?? {})) || typeof t.annotations[name] === 'boolean', `${t.name}.annotations.${name}`);
    }
    for (const name of EXPECTED_TOOLS)
      assert.equal(hint(tools.find((t) => t.name === name), 'openWorldHint'), false, `${name} works on the workspace only`);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.equal(hint(byName.read_file, 'readOnlyHint'), true);
    assert.equal(hint(byName.write_file, 'readOnlyHint'), false);
    assert.equal(hint(byName.write_file, 'destructiveHint'), true);
    assert.equal(hint(byName.create_directory, 'destructiveHint'), false);
    assert.equal(hint(byName.delete_file, 'destructiveHint'), true);
    assert.deepEqual(byName.read_file.inputSchema.required, ['path']);
    assert.deepEqual([...byName.edit_file.inputSchema.required].sort(), ['edits', 'path']);
    // structuredContent is the complete result: the file's text included.
    assert.ok('content' in byName.read_file.outputSchema.properties);
    assert.ok('sha256' in byName.read_file.outputSchema.properties);
  });

  test('read_file of real headers is byte for byte the file, with totalLines and sha256', async () => {
    for (const rel of ['stdio.h', 'stdlib.h', 'string.h', 'netinet/in.h', 'linux/types.h']) {
      const bytes = fs.readFileSync(path.join(ROOT, rel));
      const r = await call(s.client, 'read_file', { path: rel, maxBytes: 90000 });
      const sc = assertToolOk(r, `read_file ${rel}`);
      assert.ok(Buffer.from(fileText(r), 'utf8').equals(bytes), `${rel}: content equals the file byte for byte`);
      assert.ok(Buffer.from(sc.content, 'utf8').equals(bytes), `${rel}: structuredContent.content is the file`);
      assert.equal(headerOf(r), `${rel}: lines 1-${sc.totalLines} of ${sc.totalLines}, sha256 ${sha256(bytes)}`);
      assert.equal(sc.sha256, sha256(bytes), `${rel}: sha256`);
      assert.equal(sc.totalLines, splitLines(bytes.toString('utf8')).length, `${rel}: totalLines`);
      assert.equal(sc.startLine, 1);
      assert.equal(sc.endLine, sc.totalLines);
      assert.equal(sc.truncated, false);
      assert.equal(sc.size, bytes.length);
      assert.equal(sc.binary, false);
      assert.equal(sc.source, 'disk');
      assert.equal(sc.path, rel);
      assert.match(sc.mimeType, /^text\//);
    }
  });

  test('read_file pages a big header: default page, following the note, limit, negative offset', async () => {
    // The biggest top-level header (sqlite3.h on this machine: ~12900 lines).
    const candidates = fs.readdirSync(ROOT).filter((n) => n.endsWith('.h'))
      .map((n) => ({ n, st: fs.lstatSync(path.join(ROOT, n)) }))
      .filter(({ st }) => st.isFile()).sort((a, b) => b.st.size - a.st.size);
    const rel = candidates[0].n;
    const text = fs.readFileSync(path.join(ROOT, rel), 'utf8');
    const lines = splitLines(text);
    assert.ok(lines.length > 4000, `${rel} should be big (has ${lines.length} lines)`);

    const first = await call(s.client, 'read_file', { path: rel });
    const f = assertToolOk(first, 'read_file default page');
    assert.equal(f.truncated, true);
    assert.equal(f.startLine, 1);
    assert.ok(f.endLine <= 2000 && f.endLine > 100, `endLine ${f.endLine}`);
    assert.ok(Buffer.byteLength(textOf(first)) <= 32768, 'a page holds at most 32 KiB of text');
    assert.equal(fileText(first), lines.slice(0, f.endLine).join(''));
    assert.equal(f.content, fileText(first), 'structuredContent.content is the text after the header');
    assert.equal(f.totalLines, lines.length);
    assert.equal(f.sha256, sha256(text), 'sha256 is of the whole file');
    assert.match(f.note, new RegExp(`"offset":${f.endLine + 1}\\b`), `the note says how to continue: ${f.note}`);
    assert.ok(headerOf(first).endsWith(`; more: read_file {"path":"${rel}","offset":${f.endLine + 1}}`), headerOf(first));

    // Follow the notes to the end: the pages put together are the file.
    let whole = fileText(first);
    let next = f.endLine + 1;
    for (let pages = 1; next <= lines.length; ++pages) {
      assert.ok(pages < 50, 'paging terminates');
      const r = await call(s.client, 'read_file', { path: rel, offset: next });
      const sc = assertToolOk(r, `read_file offset=${next}`);
      assert.equal(sc.startLine, next);
      whole += fileText(r);
      if (sc.endLine < lines.length) {
        assert.equal(sc.truncated, true);
        assert.match(sc.note, new RegExp(`"offset":${sc.endLine + 1}\\b`));
      } else {
        assert.equal(sc.truncated, false);
      }
      next = sc.endLine + 1;
    }
    assert.ok(Buffer.from(whole).equals(Buffer.from(text)), 'all pages together equal the file');

    const mid = await call(s.client, 'read_file', { path: rel, offset: 1000, limit: 25 });
    const m = assertToolOk(mid, 'read_file offset/limit');
    assert.deepEqual([m.startLine, m.endLine, m.truncated], [1000, 1024, true]);
    assert.equal(fileText(mid), lines.slice(999, 1024).join(''));

    const tail = await call(s.client, 'read_file', { path: rel, offset: -50 });
    const t = assertToolOk(tail, 'read_file offset=-50');
    assert.deepEqual([t.startLine, t.endLine], [lines.length - 49, lines.length]);
    assert.equal(fileText(tail), lines.slice(-50).join(''));

    const small = await call(s.client, 'read_file', { path: rel, maxBytes: 1000 });
    const sm = assertToolOk(small, 'read_file maxBytes');
    assert.ok(Buffer.byteLength(fileText(small)) <= 1000);
    assert.equal(sm.truncated, true);
    assert.ok(sm.note);
  });

  test('read_many_files reads several headers, with per-file errors', async () => {
    const r = await call(s.client, 'read_many_files', { paths: ['stdio.h', 'no/such/file.h', 'errno.h'], maxBytes: 100000 });
    const sc = assertToolOk(r, 'read_many_files');
    assert.equal(sc.files.length, 3);
    assert.equal(sc.files[0].content, fs.readFileSync(path.join(ROOT, 'stdio.h'), 'utf8'));
    assert.equal(sc.files[2].sha256, sha256(fs.readFileSync(path.join(ROOT, 'errno.h'))));
    assert.ok(sc.files[1].error && !('content' in sc.files[1]), JSON.stringify(sc.files[1]));
  });

  test('get_file_info matches lstat, for a file, a directory and a symlink', async () => {
    const st = fs.statSync(path.join(ROOT, 'stdio.h'));
    const file = assertToolOk(await call(s.client, 'get_file_info', { path: 'stdio.h' }), 'get_file_info');
    assert.equal(file.type, 'file');
    assert.equal(file.size, st.size);
    assert.equal(file.mode, (st.mode & 0o7777).toString(8).padStart(4, '0'));
    assert.equal(file.mtime, Math.floor(st.mtimeMs));
    assert.equal(file.openInEditor, false);
    const dir = assertToolOk(await call(s.client, 'get_file_info', { path: 'netinet' }), 'get_file_info dir');
    assert.equal(dir.type, 'directory');
    const link = fs.readdirSync(ROOT).find((n) => fs.lstatSync(path.join(ROOT, n)).isSymbolicLink()
      && !path.isAbsolute(fs.readlinkSync(path.join(ROOT, n))));
    if (link) {
      const l = assertToolOk(await call(s.client, 'get_file_info', { path: link }), 'get_file_info symlink');
      assert.equal(l.type, 'symlink');
      assert.equal(l.symlinkTarget, fs.readlinkSync(path.join(ROOT, link)));
    }
    assertToolError(await call(s.client, 'get_file_info', { path: 'no-such-header.h' }), 'stat of a missing file', /no-such-header\.h/);
  });

  test('list_directory names, types and sizes match readdir + lstat', async () => {
    for (const dir of ['.', 'netinet', 'linux']) {
      const sc = assertToolOk(await call(s.client, 'list_directory', { path: dir }), `list_directory ${dir}`);
      const want = fs.readdirSync(path.join(ROOT, dir)).filter((n) => n !== '.git').sort();
      const got = sc.entries.map((e) => e.path);
      assert.deepEqual([...got].sort(), want, `${dir}: names`);
      assert.equal(sc.truncated, false);
      for (const e of sc.entries) {
        const st = fs.lstatSync(path.join(ROOT, dir, e.path));
        const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
        assert.equal(e.type, type, `${dir}/${e.path}: type`);
        if (type === 'file') assert.equal(e.size, st.size, `${dir}/${e.path}: size`);
        assert.equal(e.mtime, Math.floor(st.mtimeMs), `${dir}/${e.path}: mtime`);
      }
    }
    const deep = assertToolOk(await call(s.client, 'list_directory', { path: 'netinet', depth: 2 }), 'depth 2');
    assert.ok(deep.entries.some((e) => e.path === 'in.h'));
    assertToolError(await call(s.client, 'list_directory', { path: 'stdio.h' }), 'list of a file', /not a directory/);
  });

  test('listResources pages through every file of /usr/include: file:// URIs that resolve and read back', async () => {
    const seen = new Set();
    let cursor;
    let pages = 0;
    const samples = [];
    do {
      const r = await s.client.listResources(cursor ? { cursor } : {}, REQ);
      assert.ok(r.resources.length > 0, `page ${pages} has resources`);
      for (const res of r.resources) {
        if (res.uri === 'icotes://editor/context') continue;  // the editors' context, after the files
        assert.ok(res.uri.startsWith('file:///usr/include/'), res.uri);
        const abs = fileURLToPath(res.uri);
        assert.ok(!seen.has(abs), `no duplicate across pages: ${res.uri}`);
        seen.add(abs);
        assert.equal(res.name, path.basename(abs));
        assert.ok(res.mimeType, `${res.uri} has a mimeType`);
      }
      const files = r.resources.filter((res) => res.uri.startsWith('file:'));
      if (files.length) samples.push(files[files.length - 1]);
      cursor = r.nextCursor;
      assert.ok(++pages < 1000, 'pagination terminates');
    } while (cursor);
    assert.ok(pages > 3, `several pages (${pages})`);
    // Exactly the regular files (what find -type f lists; symlinks are not resources).
    const want = execFileSync('find', [ROOT, '-type', 'f'], { encoding: 'utf8', maxBuffer: 1 << 28 }).trim().split('\n');
    const missing = want.filter((f) => !seen.has(f));
    const extra = [...seen].filter((f) => !want.includes(f));
    assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] },
      `${missing.length} missing, ${extra.length} extra`);
    for (const res of samples.filter((_, i) => i % 10 === 0)) {
      const read = await s.client.readResource({ uri: res.uri }, REQ);
      assert.equal(read.contents.length, 1);
      assert.equal(read.contents[0].uri, res.uri);
      const bytes = fs.readFileSync(fileURLToPath(res.uri));
      if ('text' in read.contents[0]) assert.ok(Buffer.from(read.contents[0].text).equals(bytes), `${res.uri}: text`);
      else assert.ok(Buffer.from(read.contents[0].blob, 'base64').equals(bytes), `${res.uri}: blob`);
    }
  });

  test('resources with reserved characters: c++ headers by either URI spelling', async () => {
    const header = '/usr/include/c++/12/vector';
    if (!fs.existsSync(header)) return;
    const want = fs.readFileSync(header, 'utf8');
    for (const uri of [pathToFileURL(header).href, 'file:///usr/include/c%2B%2B/12/vector']) {
      const r = await s.client.readResource({ uri }, REQ);
      assert.equal(r.contents[0].text, want, uri);
    }
  });

  test('a latin-1 header is read as text, transcoded to UTF-8', async () => {
    const rel = 'X11/extensions/Xge.h';
    if (!fs.existsSync(path.join(ROOT, rel))) return;
    const bytes = fs.readFileSync(path.join(ROOT, rel));
    const r = await call(s.client, 'read_file', { path: rel });
    const sc = assertToolOk(r, 'read latin-1');
    assert.equal(sc.encoding, 'latin-1');
    assert.equal(fileText(r), bytes.toString('latin1'));
    assert.equal(sc.content, fileText(r));
    assert.match(headerOf(r), /, latin-1, sha256 /);
    assert.equal(sc.sha256, sha256(bytes), 'sha256 of the bytes on disk');
  });

  test('readResource of a header returns the file\'s text; outside the root is an error', async () => {
    const uri = pathToFileURL(path.join(ROOT, 'stdio.h')).href;
    const r = await s.client.readResource({ uri }, REQ);
    assert.equal(r.contents[0].uri, uri);
    assert.match(r.contents[0].mimeType, /^text\//);
    assert.equal(r.contents[0].text, fs.readFileSync(path.join(ROOT, 'stdio.h'), 'utf8'));
    await assert.rejects(s.client.readResource({ uri: 'file:///etc/passwd' }, REQ), /passwd|outside|workspace/i);
    await assert.rejects(s.client.readResource({ uri: pathToFileURL(path.join(ROOT, 'missing-header.h')).href }, REQ));
  });

  test('listResourceTemplates + complete() of the template\'s path argument', async () => {
    const r = await s.client.listResourceTemplates({}, REQ);
    assert.equal(r.resourceTemplates.length, 1);
    const tpl = r.resourceTemplates[0];
    assert.equal(tpl.uriTemplate, 'file:///usr/include/{+path}');
    const ref = { type: 'ref/resource', uri: tpl.uriTemplate };

    const c1 = await s.client.complete({ ref, argument: { name: 'path', value: 'netinet/i' } }, REQ);
    assert.ok(c1.completion.values.includes('netinet/in.h'), JSON.stringify(c1.completion));
    const want1 = fs.readdirSync(path.join(ROOT, 'netinet')).filter((n) => n.startsWith('i'));
    assert.equal(c1.completion.values.length, want1.length);
    for (const v of c1.completion.values) assert.ok(v.startsWith('netinet/i'), v);

    // sys/ lives under the multiarch directory on Debian.
    const multiarch = fs.readdirSync(ROOT).find((n) => fs.existsSync(path.join(ROOT, n, 'sys', 'socket.h')));
    if (multiarch) {
      const c2 = await s.client.complete({ ref, argument: { name: 'path', value: `${multiarch}/sys/so` } }, REQ);
      assert.ok(c2.completion.values.includes(`${multiarch}/sys/socket.h`), JSON.stringify(c2.completion));
    }
    // Directories end with '/', so completion can continue into them.
    const c3 = await s.client.complete({ ref, argument: { name: 'path', value: 'netin' } }, REQ);
    assert.ok(c3.completion.values.includes('netinet/'), JSON.stringify(c3.completion));
    // Many matches: at most 100 values, total and hasMore say so.
    const c4 = await s.client.complete({ ref, argument: { name: 'path', value: 'linux/' } }, REQ);
    assert.equal(c4.completion.values.length, 100);
    assert.equal(c4.completion.hasMore, true);
    assert.equal(c4.completion.total, fs.readdirSync(path.join(ROOT, 'linux')).length);
  });

  test('paths escaping the root are tool errors (isError), not protocol errors', async () => {
    for (const p of ['../etc/passwd', '/etc/passwd', 'netinet/../../etc/passwd', '/usr/include/../../etc/hostname']) {
      const r = await call(s.client, 'read_file', { path: p });
      assertToolError(r, `read_file ${p}`, /root|outside|workspace/i);
      assert.ok(!textOf(r).includes('root:x:0:0'), 'nothing of /etc/passwd leaks');
    }
  });

  test('every message the server sent matches the 2025-11-25 schema', () => {
    assert.ok(assertMessagesMatchSpec(s) > 30);
  });

  test('invalid arguments are rejected before the tool runs', async () => {
    const r = await s.client.callTool({ name: 'read_file', arguments: { path: 'stdio.h', limit: 0 } }, undefined, REQ)
      .catch((e) => ({ thrown: e }));
    if (r.thrown) assert.match(String(r.thrown.message), /limit/);
    else assertToolError(r, 'limit: 0', /limit/);
  });
});

describe('MCP SDK progress and cancellation (ICOTES_TEST_OPERATIONS=1)', { timeout: 30000 }, () => {
  let s;
  let tmp;
  before(async () => {
    tmp = tempDir('mcp-ops');
    process.env.ICOTES_TEST_OPERATIONS = '1';
    try {
      s = await connect(tmp);
    } finally {
      delete process.env.ICOTES_TEST_OPERATIONS;
    }
  });
  after(async () => {
    try {
      if (s) await s.close();
    } finally {
      removeDir(tmp);
    }
  });

  test('onprogress receives increasing notifications/progress', async () => {
    await s.client.listTools({}, REQ);
    const seen = [];
    const r = await s.client.callTool({ name: 'test_sleep', arguments: { ms: 300 } }, undefined,
      { ...REQ, onprogress: (p) => seen.push(p) });
    assert.ok(assertToolOk(r, 'test_sleep').sleptMs >= 300);
    assert.ok(seen.length >= 2, JSON.stringify(seen));
    for (let i = 1; i < seen.length; ++i) assert.ok(seen[i].progress > seen[i - 1].progress, 'progress increases');
    assert.ok(seen.every((p) => p.total === 300 && p.progress <= 300));
  });

  test('aborting calls sends notifications/cancelled and frees the server', async () => {
    // Two 5 s sleeps would hold both workers; cancelled, they free them at once.
    const aborts = [new AbortController(), new AbortController()];
    const started = Date.now();
    const calls = aborts.map((ac) => s.client.callTool({ name: 'test_sleep', arguments: { ms: 5000 } }, undefined,
      { ...REQ, signal: ac.signal }));
    await new Promise((res) => setTimeout(res, 150));
    aborts.forEach((ac) => ac.abort('not needed any more'));
    for (const c of calls) await assert.rejects(c, /not needed/);
    const r = await s.client.callTool({ name: 'test_sleep', arguments: { ms: 10 } }, undefined, REQ);
    assertToolOk(r, 'a sleep after the cancelled ones');
    assert.ok(Date.now() - started < 2500, `the cancelled calls stopped (${Date.now() - started} ms)`);
    assert.ok(assertMessagesMatchSpec(s) > 3);
  });
});

describe('MCP SDK, default result shape: text only', { timeout: 60000 }, () => {
  // What Claude Code, Codex and VS Code read when a result has
  // structuredContent is that JSON, not the text: by default there is none.
  test('no outputSchema, no structuredContent; the text block holds what the model needs', async () => {
    const s = await connect('/usr/include', undefined, []);
    try {
      const { tools } = await s.client.listTools({}, REQ);
      assert.deepEqual(tools.filter((t) => 'outputSchema' in t).map((t) => t.name), []);
      assert.ok(!tools.some((t) => t.name === 'subscribe_events' || t.name === 'unsubscribe_events'),
        'events tools are not offered over MCP');
      const bytes = fs.readFileSync('/usr/include/stdio.h');
      const r = await call(s.client, 'read_file', { path: 'stdio.h' });
      assert.ok(!r.isError && !('structuredContent' in r), JSON.stringify(r).slice(0, 300));
      assert.equal(r.content.length, 1, 'one text block');
      assert.ok(textOf(r).includes(bytes.toString('utf8')), 'the file text is in the text block');
      assert.ok(textOf(r).includes(sha256(bytes)), 'so is its sha256');
      const info = await call(s.client, 'get_file_info', { path: 'stdio.h' });
      assert.doesNotMatch(textOf(info), /^\s*[{[]/, 'a result is never escaped JSON');
      const err = await call(s.client, 'read_file', { path: 'no-such.h' });
      assert.equal(err.isError, true);
      assert.match(textOf(err), /^Error: .*no-such\.h/);
      assert.ok(assertMessagesMatchSpec(s) >= 4);
    } finally {
      await s.close();
    }
  });
});

describe('MCP SDK, the short tool schemas', { timeout: 60000 }, () => {
  // tools/list leaves out validation-only keywords and the parameters a
  // schema's mcpHidden names; the server still validates every call against
  // the whole schema, and --full-tool-schemas lists everything.
  const keysIn = (v, out = new Set()) => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.add(k); keysIn(x, out); }
    return out;
  };
  test('hidden parameters are accepted, bounds are enforced and named, the full form lists both', async () => {
    const s = await connect('/usr/include', undefined, []);
    const full = await connect('/usr/include', undefined, ['--full-tool-schemas']);
    try {
      const { tools } = await s.client.listTools({}, REQ);
      const grep = tools.find((t) => t.name === 'grep');
      assert.ok(grep && 'pattern' in grep.inputSchema.properties && 'context' in grep.inputSchema.properties);
      assert.ok(!('pcre2' in grep.inputSchema.properties), 'pcre2 is not listed');
      for (const t of tools) {
        const keys = [...keysIn(t.inputSchema)];
        assert.deepEqual(keys.filter((k) => k.startsWith('x-') || ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'].includes(k)), [], t.name);
        for (const r of t.inputSchema.required ?? []) assert.ok(r in t.inputSchema.properties, `${t.name}: required ${r} is listed`);
      }
      // A hidden parameter in a call: accepted and used (look-around needs pcre2).
      const r = await call(s.client, 'grep', { pattern: '(?<=#define )EOF\\b', path: 'stdio.h', pcre2: true });
      assert.ok(!r.isError, textOf(r));
      assert.match(textOf(r), /stdio\.h:\d+:#\s*define EOF/);
      // A value out of bounds: refused, naming the bound tools/list left out.
      const bad = await call(s.client, 'grep', { pattern: 'x', context: 5000 });
      assert.equal(bad.isError, true);
      assert.match(textOf(bad), /context: expected an integer from 0 to 1000, got 5000/);
      const unknown = await call(s.client, 'read_file', { path: 'stdio.h', nope: 1 });
      assert.equal(unknown.isError, true);
      assert.match(textOf(unknown), /unknown property 'nope'/);
      // Everything, bounds included, with --full-tool-schemas.
      const all = (await full.client.listTools({}, REQ)).tools;
      const fullGrep = all.find((t) => t.name === 'grep');
      assert.ok('pcre2' in fullGrep.inputSchema.properties);
      assert.equal(fullGrep.inputSchema.properties.context.maximum, 1000);
      assert.equal(fullGrep.inputSchema.additionalProperties, false);
      assert.ok(![...keysIn(fullGrep.inputSchema)].some((k) => k.startsWith('x-')));
      assert.ok(JSON.stringify(all).length > JSON.stringify(tools).length);
      assert.ok(assertMessagesMatchSpec(s) >= 4);
    } finally {
      await s.close();
      await full.close();
    }
  });
});

describe('MCP SDK with older protocol revisions', { timeout: 60000 }, () => {
  for (const version of ['2025-06-18', '2025-03-26', '2024-11-05']) {
    test(`${version}: negotiated, and every reply matches that revision's schema`, async () => {
      const s = await connect('/usr/include', version);
      try {
        assert.equal(s.negotiated, version);
        const { tools } = await s.client.listTools({}, REQ);
        const read = tools.find((t) => t.name === 'read_file');
        assert.ok(read);
        assert.equal('outputSchema' in read, version >= '2025-06-18', 'outputSchema from 2025-06-18');
        assert.equal('annotations' in read, version >= '2025-03-26', 'annotations from 2025-03-26');
        const r = await call(s.client, 'read_file', { path: 'stdio.h', limit: 5 });
        assert.equal('structuredContent' in r, version >= '2025-06-18', 'structuredContent from 2025-06-18');
        assert.equal(r.content.length, 1, 'one text block');
        assert.equal(fileText(r), splitLines(fs.readFileSync('/usr/include/stdio.h', 'utf8')).slice(0, 5).join(''));
        // Without structuredContent the metadata is still in the text.
        assert.ok(headerOf(r).includes(`sha256 ${sha256(fs.readFileSync('/usr/include/stdio.h'))}`), headerOf(r));
        assertToolError(await call(s.client, 'read_file', { path: '../etc/passwd' }), 'escape', /root/);
        const res = await s.client.listResources({}, REQ);
        await s.client.readResource({ uri: res.resources[0].uri }, REQ);
        await s.client.listResourceTemplates({}, REQ);
        await s.client.ping(REQ);
        await s.client.setLoggingLevel('debug', REQ);
        await call(s.client, 'get_file_info', { path: 'stdio.h' });  // logs at debug: notifications/message
        await assert.rejects(s.client.readResource({ uri: 'file:///etc/passwd' }, REQ));
        assert.ok(assertMessagesMatchSpec(s) >= 10);
      } finally {
        await s.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------

function findSourceTree() {
  for (const dir of ['/usr/src/googletest', path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules', 'ajv')]) {
    if (fs.existsSync(dir)) return dir;
  }
  throw new Error('no real source tree found to copy (/usr/src/googletest: apt install googletest)');
}

describe('MCP SDK writing to a copy of a real source tree', { timeout: 90000 }, () => {
  let tmp;
  let root;
  let s;
  let expected;  // what the tree must be after each step
  const file = (rel) => path.join(root, rel);
  const check = (what) => assertSameTree(snapshot(root), expected, what);
  // Every regular file of the tree, for picking targets.
  const files = () => [...expected].filter(([, v]) => v.startsWith('file ')).map(([k]) => k);

  before(async () => {
    tmp = tempDir('mcp');
    root = path.join(tmp, 'tree');
    execFileSync('cp', ['-a', findSourceTree(), root]);
    execFileSync('chmod', ['-R', 'u+w', root]);
    expected = snapshot(root);
    assert.ok(files().length >= 150, `a real tree with a few hundred files (${files().length})`);
    s = await connect(root);
  });
  after(async () => {
    try {
      if (s) await s.close();
    } finally {
      removeDir(tmp);
    }
  });

  test('the copy is untouched by reads', async () => {
    const rel = files().find((f) => f.endsWith('.cc') || f.endsWith('.js'));
    assertToolOk(await call(s.client, 'read_file', { path: rel }), 'read');
    assertToolOk(await call(s.client, 'list_directory', { path: '.', depth: 3 }), 'list');
    check('after reads');
  });

  test('write_file: a new file in new directories', async () => {
    const content = 'Notes written through MCP — ünïcødé ✓\nsecond line\n';
    const r = assertToolOk(await call(s.client, 'write_file', { path: 'notes/deep/NEW.md', content }), 'write new');
    assert.equal(r.created, true);
    assert.equal(r.bytes, Buffer.byteLength(content));
    assert.equal(r.sha256, sha256(content));
    assert.equal(r.via, 'disk');
    expected.set('notes', 'dir 0755').set('notes/deep', 'dir 0755').set('notes/deep/NEW.md', fileEntry(content));
    const umask = process.umask();
    if (umask !== 0o022) {  // modes of created entries follow the umask
      const st = (p) => (fs.statSync(file(p)).mode & 0o7777).toString(8).padStart(4, '0');
      expected.set('notes', `dir ${st('notes')}`).set('notes/deep', `dir ${st('notes/deep')}`)
        .set('notes/deep/NEW.md', `file ${st('notes/deep/NEW.md')} ${sha256(content)}`);
    }
    check('after write_file of a new file');
    assert.equal(fs.readFileSync(file('notes/deep/NEW.md'), 'utf8'), content);
  });

  test('write_file: overwriting keeps the mode (0755), expectedSha256 checked', async () => {
    const rel = files().find((f) => /\.(py|sh|cmake|txt)$/.test(f) && !f.startsWith('notes/'));
    fs.chmodSync(file(rel), 0o755);
    const before = fs.readFileSync(file(rel));
    const content = `#!/bin/sh\n# replaced by the integration test\n${before.toString('utf8').slice(0, 200)}`;
    const r = assertToolOk(await call(s.client, 'write_file', { path: rel, content, expectedSha256: sha256(before) }), 'overwrite');
    assert.equal(r.created, false);
    assert.equal(r.sha256, sha256(content));
    assert.equal(fs.statSync(file(rel)).mode & 0o7777, 0o755, 'the mode is kept');
    expected.set(rel, fileEntry(content, 0o755));
    check('after overwrite');

    // A stale sha: conflict, nothing written.
    const stale = await call(s.client, 'write_file', { path: rel, content: 'clobbered\n', expectedSha256: sha256(before) });
    assertToolError(stale, 'stale expectedSha256', /sha256/i);
    assert.ok(textOf(stale).includes(sha256(content)), 'the message gives the current sha256');
    check('after a conflicting write');
    // No temp files left behind either (checked by the snapshot: nothing unexpected).
  });

  test('edit_file: unique edit, ambiguous oldString, dryRun, all-or-nothing', async () => {
    const rel = files().filter((f) => /\.(cc|js|ts)$/.test(f)).sort((a, b) =>
      fs.statSync(file(b)).size - fs.statSync(file(a)).size)[0];
    const original = fs.readFileSync(file(rel), 'utf8');
    const lines = splitLines(original);
    // A line that occurs exactly once, well inside the file.
    const unique = lines.find((l, i) => i > 50 && l.trim().length > 25 && original.split(l).length === 2);
    assert.ok(unique, 'found a unique line');
    const replacement = unique.replace(/\S.*/, '// edited through MCP: $&');

    // dryRun: a diff, nothing written.
    const dry = assertToolOk(await call(s.client, 'edit_file',
      { path: rel, edits: [{ oldString: unique, newString: replacement }], dryRun: true }), 'dryRun');
    assert.equal(dry.applied, false);
    assert.ok(dry.diff.includes(`-${unique}`) && dry.diff.includes(`+${replacement}`), dry.diff);
    check('after dryRun');

    // Ambiguous: an error naming the lines; nothing written.
    const common = ['#include', 'const ', 'return '].find((x) => original.split(x).length > 3);
    const occ = lines.map((l, i) => (l.includes(common) ? i + 1 : 0)).filter(Boolean);
    const amb = await call(s.client, 'edit_file', { path: rel, edits: [{ oldString: common, newString: 'X' }] });
    const msg = assertToolError(amb, 'ambiguous oldString', /occurs \d+ times/);
    assert.ok(msg.includes(`lines ${occ.slice(0, 3).join(', ')}`), `the message names the lines ${occ.slice(0, 3)}: ${msg}`);
    // A valid first edit plus a missing second one: none applied.
    const half = await call(s.client, 'edit_file', { path: rel, edits: [
      { oldString: unique, newString: replacement }, { oldString: 'text that is not in the file 1234', newString: '' }] });
    assertToolError(half, 'missing oldString', /not found|does not occur|no occurrence|0 times/i);
    check('after failed edits');

    const r = assertToolOk(await call(s.client, 'edit_file',
      { path: rel, edits: [{ oldString: unique, newString: replacement }], expectedSha256: sha256(original) }), 'edit');
    const edited = original.replace(unique, replacement);
    assert.equal(r.applied, true);
    assert.equal(r.replacements, 1);
    assert.equal(r.sha256, sha256(edited));
    assert.equal(r.path, rel);
    assert.equal(fs.readFileSync(file(rel), 'utf8'), edited);
    expected.set(rel, expected.get(rel).replace(/[0-9a-f]{64}$/, sha256(edited)));
    check('after edit_file');

    // replaceAll, as a dry run: counts every occurrence, writes nothing.
    const count = edited.split(common).length - 1;
    const all = assertToolOk(await call(s.client, 'edit_file',
      { path: rel, edits: [{ oldString: common, newString: `${common}/**/`, replaceAll: true }], dryRun: true }), 'replaceAll dry');
    assert.equal(all.replacements, count);
    assert.equal(all.applied, false);
    check('after a replaceAll dry run');
  });

  // Modifies 2 files, creates one and deletes one in a staging git repo;
  // returns {patch, changes: Map rel -> new content | null}.
  function gitPatch(targets) {
    const stage = path.join(tmp, 'git-stage');
    fs.mkdirSync(stage);
    const git = (...a) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'core.autocrlf=false', ...a],
      { cwd: stage, encoding: 'utf8' });
    git('init', '-q');
    for (const rel of targets) {
      fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
      fs.copyFileSync(file(rel), path.join(stage, rel));
    }
    git('add', '-A');
    git('commit', '-q', '-m', 'base');
    const changes = new Map();
    const [a, b, del] = targets;
    // a: change a line near the top, insert two lines in the middle, drop one near the end.
    const la = splitLines(fs.readFileSync(path.join(stage, a), 'utf8'));
    la[3] = `// patched line (was: ${la[3].trim().slice(0, 30)})\n`;
    la.splice(Math.floor(la.length / 2), 0, '// inserted by git diff\n', '\n');
    la.splice(la.length - 3, 1);
    changes.set(a, la.join(''));
    // b: append at the end.
    changes.set(b, `${fs.readFileSync(path.join(stage, b), 'utf8')}// appended through apply_patch\n`);
    changes.set(del, null);
    changes.set('added/by/patch.txt', 'a file the patch creates\nline 2\n');
    for (const [rel, content] of changes) {
      const p = path.join(stage, rel);
      if (content === null) fs.rmSync(p);
      else {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content);
      }
    }
    git('add', '-A');
    const patch = git('diff', '--cached', '--no-color', '--no-ext-diff');
    fs.rmSync(stage, { recursive: true, force: true });
    return { patch, changes };
  }

  test('apply_patch: a multi-file git diff (modify, create, delete)', async () => {
    const candidates = files().filter((f) => /\.(h|cc|js)$/.test(f) && fs.statSync(file(f)).size > 2000
      && expected.get(f).startsWith('file 0644'));
    const targets = [candidates[1], candidates[2], candidates[3]];
    const { patch, changes } = gitPatch(targets);
    assert.match(patch, /^diff --git /m);
    assert.match(patch, /^new file mode/m);
    assert.match(patch, /^deleted file mode/m);
    const r = assertToolOk(await call(s.client, 'apply_patch', { patch }), 'apply_patch git diff');
    const actions = Object.fromEntries(r.files.map((f) => [f.path, f.action]));
    assert.deepEqual(actions, { [targets[0]]: 'modified', [targets[1]]: 'modified', [targets[2]]: 'deleted',
      'added/by/patch.txt': 'created' });
    for (const [rel, content] of changes) {
      if (content === null) expected.delete(rel);
      else {
        expected.set(rel, fileEntry(content, rel.startsWith('added/') ? 0o666 & ~process.umask() : 0o644));
        assert.equal(fs.readFileSync(file(rel), 'utf8'), content, `${rel} byte for byte`);
        assert.equal(r.files.find((f) => f.path === rel).sha256, sha256(content));
      }
    }
    const dmode = (0o777 & ~process.umask()).toString(8).padStart(4, '0');
    expected.set('added', `dir ${dmode}`).set('added/by', `dir ${dmode}`);
    check('after a git diff patch');
  });

  test('apply_patch: `diff -Nru` output (timestamps, epoch for absent files); a failing hunk changes nothing', async () => {
    const candidates = files().filter((f) => /\.(h|cc|js)$/.test(f) && fs.statSync(file(f)).size > 3000);
    const targets = [candidates[5], candidates[6]];
    const stage = path.join(tmp, 'diff-stage');
    const news = new Map();
    for (const rel of targets) {
      const text = fs.readFileSync(file(rel), 'utf8');
      for (const side of ['a', 'b']) {
        fs.mkdirSync(path.dirname(path.join(stage, side, rel)), { recursive: true });
      }
      fs.writeFileSync(path.join(stage, 'a', rel), text);
      const ls = splitLines(text);
      ls.splice(10, 2, '/* two lines replaced by diff -u */\n');
      ls.push('/* the end */\n');
      news.set(rel, ls.join(''));
      fs.writeFileSync(path.join(stage, 'b', rel), news.get(rel));
    }
    // diff -N marks absent files with the epoch timestamp instead of /dev/null.
    const gone = candidates[7];
    fs.mkdirSync(path.dirname(path.join(stage, 'a', gone)), { recursive: true });
    fs.copyFileSync(file(gone), path.join(stage, 'a', gone));
    const born = 'born/by/diff-N.txt';
    fs.mkdirSync(path.join(stage, 'b', 'born', 'by'), { recursive: true });
    fs.writeFileSync(path.join(stage, 'b', born), 'created by diff -Nru\n');
    let patch;
    try {
      execFileSync('diff', ['-Nru', 'a', 'b'], { cwd: stage, encoding: 'utf8' });
      assert.fail('diff found no difference');
    } catch (e) {
      assert.equal(e.status, 1, `diff -Nru exit status: ${e.stderr}`);
      patch = e.stdout;
    }
    assert.match(patch, /^--- a\/.*\t\d{4}-\d\d-\d\d /m, 'diff -u headers carry timestamps');

    // Break the second file's context: the first file must not be written either.
    const bad = await call(s.client, 'apply_patch', { patch: breakSecond(patch) });
    assertToolError(bad, 'mismatching hunk', /does not match|context/i);
    check('after a failed patch');

    const r = assertToolOk(await call(s.client, 'apply_patch', { patch }), 'apply_patch diff -Nru');
    assert.deepEqual(r.files.map((f) => [f.path, f.action]).sort(),
      [...targets.map((t) => [t, 'modified']), [gone, 'deleted'], [born, 'created']].sort());
    for (const [rel, content] of news) {
      assert.equal(fs.readFileSync(file(rel), 'utf8'), content);
      expected.set(rel, expected.get(rel).replace(/[0-9a-f]{64}$/, sha256(content)));
    }
    expected.delete(gone);
    const dmode = (0o777 & ~process.umask()).toString(8).padStart(4, '0');
    expected.set('born', `dir ${dmode}`).set('born/by', `dir ${dmode}`)
      .set(born, fileEntry('created by diff -Nru\n', 0o666 & ~process.umask()));
    check('after a diff -Nru patch');
    fs.rmSync(stage, { recursive: true, force: true });
  });

  test('move_file, create_directory, delete_file', async () => {
    const rel = files().find((f) => f.endsWith('.md') && !f.startsWith('notes/')) ?? files()[0];
    const entry = expected.get(rel);
    const dest = 'moved/here/renamed.md';
    const mv = assertToolOk(await call(s.client, 'move_file', { source: rel, destination: dest }), 'move_file');
    assert.deepEqual([mv.source, mv.destination], [rel, dest]);
    const dmode = (0o777 & ~process.umask()).toString(8).padStart(4, '0');
    expected.delete(rel);
    expected.set('moved', `dir ${dmode}`).set('moved/here', `dir ${dmode}`).set(dest, entry);
    check('after move_file');
    // Moving onto an existing file needs overwrite.
    const other = files().find((f) => f !== dest && f.endsWith('.txt')) ?? files().find((f) => f !== dest);
    assertToolError(await call(s.client, 'move_file', { source: dest, destination: other }), 'move onto a file', /exists|overwrite/);
    check('after a refused move');

    const mk = assertToolOk(await call(s.client, 'create_directory', { path: 'made/by/mkdir' }), 'mkdir');
    assert.equal(mk.created, true);
    expected.set('made', `dir ${dmode}`).set('made/by', `dir ${dmode}`).set('made/by/mkdir', `dir ${dmode}`);
    check('after create_directory');
    assert.equal(assertToolOk(await call(s.client, 'create_directory', { path: 'made/by/mkdir' }), 'mkdir again').created, false);

    const victim = files().find((f) => f.includes('/') && f !== dest);
    assertToolOk(await call(s.client, 'delete_file', { path: victim }), 'delete a file');
    expected.delete(victim);
    check('after delete_file');
    // A non-empty directory needs recursive; then it all goes.
    const dir = [...expected].find(([k, v]) => v.startsWith('dir ') && [...expected.keys()].filter((x) => x.startsWith(`${k}/`)).length > 5)[0];
    assertToolError(await call(s.client, 'delete_file', { path: dir }), 'delete a non-empty directory', /not empty|recursive/);
    check('after a refused delete');
    assertToolOk(await call(s.client, 'delete_file', { path: dir, recursive: true }), 'recursive delete');
    for (const k of [...expected.keys()]) if (k === dir || k.startsWith(`${dir}/`)) expected.delete(k);
    check('after a recursive delete');
    // Writes outside the root are refused and write nothing.
    assertToolError(await call(s.client, 'write_file', { path: '../escaped.txt', content: 'x' }), 'write outside', /root|outside/i);
    assert.ok(!fs.existsSync(path.join(tmp, 'escaped.txt')));
    assertToolError(await call(s.client, 'delete_file', { path: '..', recursive: true }), 'delete the parent', /root|outside/i);
    check('after refused escapes');
  });

  test('every message the server sent matches the 2025-11-25 schema', () => {
    assert.ok(assertMessagesMatchSpec(s) > 20);
  });
});

// Changes the first context line of the second file's first hunk.
function breakSecond(patch) {
  const parts = patch.split(/(?=^diff -Nru )/m);
  assert.ok(parts.length >= 2, 'two files in the patch');
  parts[1] = parts[1].replace(/^ (.+)$/m, ' $1 /* not in the file */');
  return parts.join('');
}
