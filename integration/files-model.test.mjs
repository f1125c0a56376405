// The file tools as a model meets them, through the MCP TypeScript SDK and
// the real binary, on the workspace of files-fixture.mjs (a git repository
// with a git-ignored node_modules, a 12,000-entry folder, three 300 KB
// files, CRLF, Latin-1 and UTF-16 files, images):
//  - every default result's text is at most 32 KiB, and none exceeds the
//    client's 100 KiB cap whatever its parameters; past the budget the text
//    names the exact call that continues, and following it gets the rest;
//  - list_directory and resources/list leave out what git ignores;
//  - images come back as image content; text in the form people read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIG_DIR_ENTRIES, IMAGES, makeWorkspace } from './files-fixture.mjs';
import { removeDir, requireBinary, sha256, tempDir } from './helpers.mjs';

const REQ = { timeout: 30000 };
const DEFAULT_BUDGET = 32 * 1024;
const CAP = 100 * 1024;

// All the text a result's content carries (what a host hands its model).
function textOf(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
}
const bytes = (s) => Buffer.byteLength(s);

// The JSON arguments of the first `tool {...}` call named in a text.
function callIn(text, tool) {
  const at = text.indexOf(`${tool} {`);
  assert.ok(at >= 0, `the text names a ${tool} call: ${text.slice(0, 400)}`);
  let depth = 0;
  let inString = false;
  const start = at + tool.length + 1;
  for (let i = start; i < text.length; ++i) {
    const c = text[i];
    if (inString) {
      if (c === '\\') ++i;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') ++depth;
    else if (c === '}' && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new Error(`unterminated ${tool} call in ${text.slice(at, at + 200)}`);
}

describe('file tools through the MCP SDK on a workspace with a 12,000-entry folder and an ignored node_modules',
  { timeout: 240000 }, () => {
    let root;
    let client;
    let stderr = '';
    const call = async (name, args) => client.callTool({ name, arguments: args }, undefined, REQ);
    const ok = async (name, args) => {
      const r = await call(name, args);
      assert.ok(!r.isError, `${name} ${JSON.stringify(args)} failed: ${textOf(r)}`);
      return r;
    };

    before(async () => {
      root = fs.realpathSync(tempDir('files-model'));
      makeWorkspace(root);
      const transport = new StdioClientTransport({
        command: requireBinary(),
        args: ['serve', '--standalone', '--root', root, '--permission-mode', 'acceptEdits'],
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (d) => { stderr += d; });
      client = new Client({ name: 'files-model', version: '1.0.0' });
      await client.connect(transport, REQ);
    });

    after(async () => {
      await client?.close();
      removeDir(root);
    });

    test('read_file: a header line, then the file; the default page fits 32 KiB and the header says how to go on', async () => {
      const file = path.join(root, 'large/large1.txt');
      const whole = fs.readFileSync(file, 'utf8');
      let text = textOf(await ok('read_file', { path: 'large/large1.txt' }));
      assert.ok(bytes(text) <= DEFAULT_BUDGET, `${bytes(text)} bytes`);
      const header = text.slice(0, text.indexOf('\n'));
      assert.match(header, new RegExp(`^large/large1\\.txt: lines 1-\\d+ of ${whole.split('\n').length - 1}, sha256 ${sha256(whole)}; more: read_file \\{"path":"large/large1.txt","offset":\\d+\\}$`));
      // Following the calls the headers name reads the file exactly once.
      let got = text.slice(header.length + 1);
      for (let pages = 0; ; ++pages) {
        const h = text.slice(0, text.indexOf('\n'));
        if (!h.includes('more:')) break;
        assert.ok(pages < 20, 'bounded');
        text = textOf(await ok('read_file', callIn(h, 'read_file')));
        assert.ok(bytes(text) <= DEFAULT_BUDGET);
        got += text.slice(text.indexOf('\n') + 1);
      }
      assert.equal(got, whole);
    });

    test('read_file: no parameters take a result past the 100 KiB cap', async () => {
      const r = await ok('read_file', { path: 'large/large2.txt', maxBytes: 10 * 1024 * 1024, limit: 100000 });
      const text = textOf(r);
      assert.ok(bytes(text) <= CAP, `${bytes(text)} bytes`);
      assert.ok(bytes(text) > CAP - 2048, `${bytes(text)} bytes: the cap is used`);
      assert.match(text.slice(0, text.indexOf('\n')), /more: read_file \{"path":"large\/large2.txt","offset":\d+,"limit":100000,"maxBytes":\d+\}$/);
    });

    test('read_file lineNumbers: numbered as cat -n numbers them', async () => {
      const text = textOf(await ok('read_file', { path: 'large/large3.txt', offset: 995, limit: 10, lineNumbers: true }));
      const body = text.slice(text.indexOf('\n') + 1);
      const catN = execFileSync('cat', ['-n', path.join(root, 'large/large3.txt')], { maxBuffer: 1 << 24 }).toString()
        .split('\n').slice(994, 1004).join('\n') + '\n';
      assert.equal(body, catN);
      // Without it, no numbers.
      const plain = textOf(await ok('read_file', { path: 'large/large3.txt', offset: 995, limit: 1 }));
      assert.ok(plain.split('\n')[1].startsWith('large3:000995 '), plain);
    });

    test('read_file of Latin-1, UTF-16 and CRLF files: UTF-8 text, the encoding in the header', async () => {
      let text = textOf(await ok('read_file', { path: 'text/latin1.txt' }));
      assert.equal(text.split('\n')[1], 'café crème brûlée');
      assert.match(text, /^text\/latin1\.txt: line 1 of 1, latin-1, sha256 [0-9a-f]{64}\n/);
      text = textOf(await ok('read_file', { path: 'text/utf16.txt' }));
      assert.match(text, /^text\/utf16\.txt: lines 1-2 of 2, utf-16le, sha256 [0-9a-f]{64}\nhello UTF-16\nsecond line\n$/);
      text = textOf(await ok('read_file', { path: 'text/crlf.txt' }));
      assert.ok(text.endsWith('first line\r\n    indented second\r\nthird line\r\n'));
    });

    test('read_file of PNG, JPEG, GIF and WebP: an image block with the bytes, after a line saying what it is', async () => {
      for (const [rel, data] of Object.entries(IMAGES)) {
        const r = await ok('read_file', { path: rel });
        const image = r.content.find((c) => c.type === 'image');
        assert.ok(image, `${rel}: an image block in ${JSON.stringify(r.content).slice(0, 200)}`);
        assert.equal(Buffer.from(image.data, 'base64').compare(data), 0, rel);
        assert.equal(image.mimeType, { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' }[rel.split('.').pop()]);
        assert.equal(r.content[0].type, 'text');
        assert.match(r.content[0].text, new RegExp(`^${rel.replace('.', '\\.')} is a (PNG|JPEG|GIF|WebP) image \\(${data.length} bytes\\), shown as an image`));
      }
      // Past the limit: said, not sent.
      const r = await ok('read_file', { path: 'img/huge.png' });
      assert.equal(r.content.filter((c) => c.type === 'image').length, 0);
      assert.match(textOf(r), /larger than the 3932160-byte limit for images; it is not shown/);
    });

    test('read_many_files of 3 large files: one 32 KiB budget, a header per file, the calls that continue', async () => {
      const paths = ['large/large1.txt', 'large/large2.txt', 'large/large3.txt'];
      const text = textOf(await ok('read_many_files', { paths }));
      assert.ok(bytes(text) <= DEFAULT_BUDGET, `${bytes(text)} bytes`);
      assert.ok(bytes(text) > DEFAULT_BUDGET - 2048, `${bytes(text)} bytes: the budget is used`);
      const first = text.slice(0, text.indexOf('\n'));
      assert.match(first, /^read_many_files: Within 32768 bytes of text \(maxBytes\): cut: large\/large1\.txt \(read_file /);
      for (const p of paths) {
        const header = text.split('\n').find((l) => l.startsWith(`==> ${p} <== lines 1-`));
        assert.ok(header, `a header for ${p}`);
        // Each file's page and its continuation give the whole file.
        const whole = fs.readFileSync(path.join(root, p), 'utf8');
        const start = text.indexOf(header) + header.length + 1;
        const end = text.indexOf('\n==> ', start);
        const shown = text.slice(start, end < 0 ? undefined : end + 1);
        assert.ok(whole.startsWith(shown), `${p}: the start of the file`);
        const next = callIn(header, 'read_file');
        assert.equal(next.offset, shown.split('\n').length);
        const rest = textOf(await ok('read_file', next));
        assert.ok(whole.slice(shown.length).startsWith(rest.slice(rest.indexOf('\n') + 1)), `${p}: continues where it stopped`);
      }
    });

    test('read_many_files of many files: the rest named in one call that reads them', async () => {
      const paths = Array.from({ length: 30 }, (_, i) => `src/mod${i % 8}/part${Math.floor(i / 8)}/file0.c`);
      paths.push('large/large1.txt', 'large/large2.txt', 'large/large3.txt', 'README.md');
      const r = await ok('read_many_files', { paths });
      const text = textOf(r);
      assert.ok(bytes(text) <= DEFAULT_BUDGET);
      // The small files are all there, whole.
      for (const p of paths.filter((q) => q.startsWith('src/')))
        assert.ok(text.includes(`==> ${p} <== line 1 of 1, sha256 `), p);
      assert.ok(text.includes('==> README.md <== line 1 of 1'));
      const more = /not shown: [^(]*\(continue with (read_many_files \{.*\})\)/.exec(text.split('\n')[0]);
      if (more) {
        const next = await ok('read_many_files', callIn(more[1], 'read_many_files'));
        assert.ok(textOf(next).includes('==> large/large'));
      }
    });

    test('list_directory of the 12,000-entry folder: pages of at most 32 KiB, following the cursor gets every entry once', async () => {
      const expected = fs.readdirSync(path.join(root, 'big')).sort();
      assert.equal(expected.length, BIG_DIR_ENTRIES);
      const seen = [];
      let args = { path: 'big' };
      for (let page = 0; ; ++page) {
        assert.ok(page < 40, 'bounded');
        const r = await ok('list_directory', args);
        const text = textOf(r);
        assert.ok(bytes(text) <= DEFAULT_BUDGET, `page ${page}: ${bytes(text)} bytes`);
        const lines = text.split('\n').filter(Boolean);
        for (const line of lines.slice(1)) {
          const m = /^(file-\d{5}\.txt) \(\d+ bytes\)$/.exec(line);
          assert.ok(m, line);
          seen.push(m[1]);
        }
        if (!lines[0].includes('more entries follow')) break;
        args = callIn(lines[0], 'list_directory');
        assert.equal(args.cursor, seen[seen.length - 1]);
      }
      assert.deepEqual(seen, expected);
    });

    test('list_directory with a large limit stays within the 100 KiB cap', async () => {
      const text = textOf(await ok('list_directory', { path: 'big', limit: 10000 }));
      assert.ok(bytes(text) <= CAP, `${bytes(text)} bytes`);
      assert.ok(bytes(text) > CAP - 4096);
    });

    test('list_directory depth 3 at the root: git-ignored node_modules left out and said so; includeIgnored lists it', async () => {
      let text = textOf(await ok('list_directory', { path: '.', depth: 3 }));
      assert.ok(bytes(text) <= DEFAULT_BUDGET, `${bytes(text)} bytes`);
      const header = text.slice(0, text.indexOf('\n'));
      assert.match(header, /3 ignored entries not listed \(build\/, debug\.log, node_modules\/\); "includeIgnored":true lists them/);
      assert.ok(!/^node_modules/m.test(text));
      assert.ok(text.includes('\nsrc/mod0/part0/\n'));
      assert.ok(text.includes('\nREADME.md (10 bytes)\n'));
      text = textOf(await ok('list_directory', { path: '.', depth: 2, includeIgnored: true }));
      assert.ok(/^node_modules\/pkg-00\/$/m.test(text), text.slice(0, 300));
      assert.ok(/^debug\.log \(12 bytes\)$/m.test(text));
    });

    test('resources/list leaves out what git ignores: the same files as git ls-files -co --exclude-standard', async () => {
      const expected = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, maxBuffer: 1 << 26 })
        .toString().split('\n').filter(Boolean).sort();
      const got = [];
      let cursor;
      for (let page = 0; ; ++page) {
        assert.ok(page < 200, 'bounded');
        const r = await client.listResources(cursor ? { cursor } : {}, REQ);
        // Files only: icotes' own resources (icotes://editor/context) are not files.
        for (const res of r.resources) if (res.uri.startsWith('file:')) got.push(path.relative(root, new URL(res.uri).pathname));
        cursor = r.nextCursor;
        if (!cursor) break;
      }
      assert.ok(!got.some((p) => p.startsWith('node_modules/') || p.endsWith('.log') || p.startsWith('build/')));
      assert.deepEqual(got.sort(), expected);
      assert.ok(got.length > BIG_DIR_ENTRIES);
      assert.ok(pathToFileURL(path.join(root, 'README.md')).href);
    });

    test('edit_file on a CRLF file: \\n in oldString matches, the file keeps CRLF, the text is a unified diff', async () => {
      const r = await ok('edit_file', {
        path: 'text/crlf.txt',
        edits: [{ oldString: 'first line\n    indented second\n', newString: 'first line\n    added\n    indented second\n' }],
      });
      assert.equal(fs.readFileSync(path.join(root, 'text/crlf.txt'), 'utf8'),
        'first line\r\n    added\r\n    indented second\r\nthird line\r\n');
      const text = textOf(r);
      assert.match(text, /^edited text\/crlf\.txt: 1 replacement, sha256 [0-9a-f]{64}\n--- a\/text\/crlf\.txt\n\+\+\+ b\/text\/crlf\.txt\n@@ -1,3 \+1,4 @@\n/);
    });

    test('edit_file with a wrong oldString: the closest lines, their numbers and a diff', async () => {
      const r = await call('edit_file', {
        path: 'src/mod3/part2/file4.c',
        edits: [{ oldString: 'int f324(void) { return 5; }\n', newString: 'x' }],
      });
      assert.equal(r.isError, true);
      const text = textOf(r);
      assert.match(text, /^Error: edit_file: oldString was not found in src\/mod3\/part2\/file4\.c\. The most similar text is line 1 \(\d+% similar\)/);
      assert.ok(text.includes('--- oldString\n+++ src/mod3/part2/file4.c (line 1)\n@@ -1 +1 @@\n-int f324(void) { return 5; }\n+int f324(void) { return 4; }\n'), text);
    });

    test('write_file append to a UTF-16 file keeps it UTF-16; the text is one line', async () => {
      const r = await ok('write_file', { path: 'text/utf16.txt', content: 'third ü\n', append: true });
      assert.match(textOf(r), /^appended 9 bytes to text\/utf16\.txt \(now \d+ bytes, sha256 [0-9a-f]{64}\)\n$/);
      const raw = fs.readFileSync(path.join(root, 'text/utf16.txt'));
      assert.equal(raw.subarray(2).toString('utf16le'), 'hello UTF-16\nsecond line\nthird ü\n');
    });

    test('get_file_info, create_directory, move_file, delete_file: lines, not JSON', async () => {
      assert.match(textOf(await ok('get_file_info', { path: 'README.md' })),
        /^path: README\.md\ntype: file\nsize: 10 bytes\nmode: 0\d{3}\nmtime: \d{4}-\d\d-\d\dT[\d:.]+Z\nctime: .*\natime: .*\nopenInEditor: no\n$/);
      assert.equal(textOf(await ok('create_directory', { path: 'tmp/a' })), 'created directory tmp/a\n');
      assert.equal(textOf(await ok('move_file', { source: 'tmp/a', destination: 'tmp/b' })), 'moved tmp/a to tmp/b\n');
      assert.equal(textOf(await ok('delete_file', { path: 'tmp/b' })), 'deleted tmp/b\n');
    });

    test('apply_patch: a summary line and the diff applied', async () => {
      const r = await ok('apply_patch', { patch: '--- /dev/null\n+++ b/tmp/new.txt\n@@ -0,0 +1 @@\n+hello\n' });
      assert.equal(textOf(r), 'applied the patch to 1 file (0 modified, 1 created, 0 deleted)\n--- /dev/null\n+++ b/tmp/new.txt\n@@ -0,0 +1 @@\n+hello\n');
    });

    test('the server logged no error', () => {
      assert.ok(!/\[error\]|\[critical\]/.test(stderr), stderr);
    });
  });
