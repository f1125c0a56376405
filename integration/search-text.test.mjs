// grep, glob and workspace_info as a model receives them, through the MCP
// TypeScript SDK client spawning the real binary:
//  - /usr/include (a large real tree): every call with its defaults stays
//    within 32 KB of text, in rg's forms, and the note's exact call fetches
//    the next page; an explicit large limit stays within the 100 KB cap;
//  - a temporary tree: the text equals what `rg -n --no-heading` prints
//    (context lines and "--" included), long lines are cut around the match,
//    a UTF-8 BOM is dropped as rg drops it, unreadable paths are noted as rg
//    reports them, absolute and malformed glob patterns are errors;
//  - workspace_info in a git repository (branch, ahead/behind, changes), and
//    through the shared daemon with an editor attached (both clients listed).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const REQ = { timeout: 60000 };
const DEFAULT_BUDGET = 32 * 1024;
const CAP = 100 * 1024;
const dirs = [];
after(() => {
  for (const d of dirs) {
    spawnSync('chmod', ['-R', 'u+rwX', d]);
    removeDir(d);
  }
});

function dir(prefix) {
  const d = fs.realpathSync(tempDir(prefix));
  dirs.push(d);
  return d;
}

function write(root, rel, content) {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), content);
}

// As root, file modes do not bind (CAP_DAC_OVERRIDE): the server runs
// without that capability when a test needs them to.
const asUser = process.getuid() === 0
  ? ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', '--']
  : [];

async function connect(root, { name = 'search-text', wrap = [], args = ['--standalone'], env } = {}) {
  const argv = [...wrap, requireBinary(), 'serve', ...args, '--root', root];
  if (!args.includes('--log-level')) argv.push('--log-level', 'warn');
  const transport = new StdioClientTransport({ command: argv[0], args: argv.slice(1), env, stderr: 'inherit' });
  const client = new Client({ name, version: '1.2.3' });
  await withTimeout(client.connect(transport), 15000, 'connect');
  return client;
}

// The text block of a tool result (what a host hands its model).
async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args }, undefined, REQ);
  const text = r.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
  return { text, isError: !!r.isError, result: r };
}

// The call a page's first line gives for the next page.
function nextCall(text) {
  const m = /^Showing .* Next page: (\w+) (\{.*\})\. Or narrow with/.exec(text.split('\n')[0]);
  assert.ok(m, `no next-page call in: ${text.slice(0, 300)}`);
  return { name: m[1], args: JSON.parse(m[2]) };
}

const bytes = (s) => Buffer.byteLength(s, 'utf8');

describe('grep and glob on /usr/include with their defaults', () => {
  let client;
  after(async () => client?.close());

  test('every default result stays within 32 KB of text, in rg forms, and the note continues it', async () => {
    client = await connect('/usr/include');
    const contentLine = /^[^\n]+?:\d+:/;
    for (const [name, args] of [
      ['grep', { pattern: '' }],
      ['grep', { pattern: 'int' }],
      ['grep', { pattern: 'define', outputMode: 'count' }],
      ['grep', { pattern: 'define', outputMode: 'filesWithMatches' }],
      ['grep', { pattern: 'struct', beforeContext: 2, afterContext: 2 }],
      ['glob', { pattern: '**' }],
      ['glob', { pattern: '**/*.h', sort: 'mtime' }],
    ]) {
      const { text, isError } = await call(client, name, args);
      assert.ok(!isError, text);
      assert.ok(bytes(text) <= DEFAULT_BUDGET, `${name} ${JSON.stringify(args)}: ${bytes(text)} bytes`);
      assert.doesNotMatch(text, /"submatches"|\{"path"/, 'no JSON in the text');
      const lines = text.split('\n').filter(Boolean);
      const body = lines.slice(1);  // after the note
      if (name === 'grep' && !args.outputMode && !args.beforeContext) for (const l of body) assert.match(l, contentLine);
      if (args.outputMode === 'count') for (const l of body) assert.match(l, /^[^\n]+:\d+$/);
      // The first line is the note; its call is the next page.
      const next = nextCall(text);
      assert.equal(next.name, name);
      const page2 = await call(client, next.name, next.args);
      assert.ok(!page2.isError, page2.text);
      assert.ok(bytes(page2.text) <= DEFAULT_BUDGET);
      const m = /^Showing \w+ (\d+)-/.exec(page2.text);
      assert.ok(m, page2.text.slice(0, 200));
      assert.equal(Number(m[1]), Number(next.args.cursor) + 1, 'the next page starts where the first stopped');
    }
  });

  test('no parameters take a result past the 100 KB cap', async () => {
    for (const args of [{ pattern: 'e', limit: 100000 }, { pattern: 'e', limit: 100000, outputMode: 'count' }]) {
      const { text } = await call(client, 'grep', args);
      assert.ok(bytes(text) <= CAP, `${JSON.stringify(args)}: ${bytes(text)} bytes`);
      assert.ok(bytes(text) > DEFAULT_BUDGET, 'an explicit limit may go past the default');
    }
    const { text } = await call(client, 'glob', { pattern: '**', limit: 100000 });
    assert.ok(bytes(text) <= CAP, `glob: ${bytes(text)} bytes`);
  });
});

describe('the text is what rg prints', () => {
  const root = dir('search-text');
  write(root, 'a.txt', 'one\nneedle 1\ntwo\nthree\nfour\nneedle 2\nfive\n');
  write(root, 'b/c.txt', 'needle in c\nNeedle upper\n');
  write(root, 'crlf.txt', 'needle crlf\r\nsecond\r\n');
  write(root, 'bom.txt', '\ufeffneedle after a bom\n');
  let client;
  after(async () => client?.close());

  function rg(args) {
    const r = spawnSync('rg', ['--no-config', '-n', '--no-heading', '--color', 'never', '--sort', 'path', ...args, '.'], { cwd: root, encoding: 'utf8' });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    return r.stdout.replace(/^\.\//gm, '').replace(/\r$/gm, '');
  }

  test('content, context, count and file lists equal rg output', async (t) => {
    if (spawnSync('rg', ['--version']).status !== 0) return t.skip('rg is not installed');
    client = await connect(root);
    const cases = [
      [{ pattern: 'needle' }, []],
      [{ pattern: '^needle' }, []],
      [{ pattern: 'needle', ignoreCase: true }, ['-i']],
      [{ pattern: 'needle', beforeContext: 1, afterContext: 1 }, ['-B', '1', '-A', '1']],
      [{ pattern: 'needle', afterContext: 3 }, ['-A', '3']],
      [{ pattern: 'needle', outputMode: 'count' }, ['-c']],
      [{ pattern: 'needle', outputMode: 'filesWithMatches' }, ['-l']],
    ];
    for (const [args, flags] of cases) {
      const { text } = await call(client, 'grep', args);
      assert.equal(text, rg([...flags, '-e', args.pattern]), JSON.stringify(args));
    }
  });

  test('a long line is cut around its match, whole in the structured result', async () => {
    const line = 'x'.repeat(5000) + 'needle' + 'y'.repeat(5000) + 'needle';
    write(root, 'min.js', line + '\n');
    const { text } = await call(client, 'grep', { pattern: 'needle', path: 'min.js' });
    assert.ok(bytes(text) < 400, text);
    assert.match(text, /^min\.js:1:\[\.\.\.\] x+needley+ \[\.\.\. 1 more match\]\n$/);
    fs.rmSync(path.join(root, 'min.js'));
  });

  test('glob: one path a line; an absolute or malformed pattern is an error', async () => {
    assert.equal((await call(client, 'glob', { pattern: '**/*.txt' })).text, 'a.txt\nb/c.txt\nbom.txt\ncrlf.txt\n');
    const abs = await call(client, 'glob', { pattern: `${root}/b/*.txt` });
    assert.ok(abs.isError);
    assert.match(abs.text, /is absolute; .* here 'b\/\*\.txt'/);
    const bad = await call(client, 'glob', { pattern: 'b/*.{txt' });
    assert.ok(bad.isError);
    assert.match(bad.text, /invalid pattern 'b\/\*\.\{txt': a '\{' is not closed/);
    const up = await call(client, 'glob', { pattern: '../*' });
    assert.ok(up.isError);
  });

  test('unreadable files and directories are noted as rg reports them', async () => {
    const locked = dir('search-text-locked');
    write(locked, 'ok.txt', 'needle ok\n');
    write(locked, 'secret.txt', 'needle secret\n');
    fs.mkdirSync(path.join(locked, 'private'));
    fs.chmodSync(path.join(locked, 'secret.txt'), 0);
    fs.chmodSync(path.join(locked, 'private'), 0);
    const c = await connect(locked, { wrap: asUser });
    try {
      const { text } = await call(c, 'grep', { pattern: 'needle' });
      assert.equal(text, 'ok.txt:1:needle ok\n2 paths could not be read (private/: Permission denied, secret.txt: Permission denied).\n');
      const files = await call(c, 'glob', { pattern: '**' });
      assert.equal(files.text, 'ok.txt\nsecret.txt\n1 path could not be read (private/: Permission denied).\n');
    } finally {
      await c.close();
    }
  });
});

describe('workspace_info', () => {
  test('a git repository: branch, upstream, changes; the asker, its mode and the limits; under 2 KB', async () => {
    const origin = dir('info-origin');
    const root = dir('info');
    const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: 'pipe' });
    git(origin, 'init', '-q', '-b', 'main');
    write(origin, 'a.txt', 'a\n');
    git(origin, 'add', '.');
    git(origin, 'commit', '-q', '-m', 'one');
    git(root, 'clone', '-q', origin, '.');
    write(root, 'a.txt', 'changed\n');
    write(root, 'new.txt', 'new\n');
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'two');
    write(root, 'a.txt', 'changed again\n');
    const head = git(root, 'rev-parse', 'HEAD').toString().trim();
    const client = await connect(root, { name: 'model-host' });
    try {
      const { text } = await call(client, 'workspace_info', {});
      assert.ok(bytes(text) < 2048, text);
      const lines = text.split('\n');
      assert.equal(lines[0], `root: ${root}`);
      assert.equal(lines[1], `git: branch main at ${head.slice(0, 12)}, 1 ahead, 0 behind origin/main, 1 changed path`);
      assert.match(lines[2], /^clients: mcp model-host 1\.2\.3 \(you, since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);
      assert.equal(lines[3], 'permission mode: default (0 allow rules, 0 deny rules)');
      assert.match(lines[4], /^limits: results up to 102400 bytes of text \(32768 with default parameters\); commands sandboxed/);
    } finally {
      await client.close();
    }
  });

  test('through the shared daemon it lists the editor attached beside the AI', async () => {
    const root = dir('info-daemon');
    const runtime = dir('info-daemon-run');
    fs.chmodSync(runtime, 0o700);
    const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    const args = ['--idle-timeout', '1500', '--log-level', 'warn'];
    const editorProc = spawn(requireBinary(), ['serve', '--root', root, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
    const editor = createMessageConnection(new StreamMessageReader(editorProc.stdout), new StreamMessageWriter(editorProc.stdin));
    editor.listen();
    let client;
    try {
      await withTimeout(editor.sendRequest('initialize', {
        processId: null, rootUri: pathToFileURL(root).href, clientInfo: { name: 'test-editor', version: '9.9' }, capabilities: {},
      }), 15000, 'editor initialize');
      await editor.sendNotification('initialized', {});
      client = await connect(root, { name: 'daemon-ai', args: ['--attach', ...args], env });
      const { text } = await call(client, 'workspace_info', {});
      assert.match(text, /\nclients: lsp test-editor 9\.9 \(since [^)]+\); mcp daemon-ai 1\.2\.3 \(you, since [^)]+\)\n/, text);
    } finally {
      await client?.close();
      editor.dispose();
      editorProc.stdin.end();
      await withTimeout(new Promise((resolve) => (editorProc.exitCode !== null ? resolve() : editorProc.on('exit', resolve))), 15000, 'editor exit');
    }
  });
});
