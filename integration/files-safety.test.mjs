// The file tools on the real binary judge where a change or a read really
// lands: a directory swapped with a link to .icotes/ while write_file runs
// (what a sandboxed background job can do), git's config and hooks, and
// Read deny rules reached through symlinks (README "Safety").
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const T = 15000;  // bound for every request
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

function workspace(prefix) {
  const root = tempDir(prefix);
  dirs.push(root);
  fs.mkdirSync(path.join(root, '.state'));
  return root;
}

async function startMcp(root, args) {
  const transport = new StdioClientTransport({
    command: requireBinary(),
    args: ['serve', '--standalone', '--root', root, ...args],
    env: { ...process.env, XDG_STATE_HOME: path.join(root, '.state') },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'files-safety', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport, { timeout: T });
  const call = (name, args) => client.callTool({ name, arguments: args }, undefined, { timeout: T });
  return { client, call };
}

const put = (root, rel, content) => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), content);
};
const get = (root, rel) => fs.readFileSync(path.join(root, rel), 'utf8');

// Swaps directory d with the symlink dlink -> .icotes (renameat2
// RENAME_EXCHANGE) until killed, at most 60 s.
const SWAPPER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.chdir(sys.argv[1])
print("ready", flush=True)
end = time.time() + 60
while time.time() < end:
    libc.renameat2(-100, b"d", -100, b"dlink", 2)
`;

describe('acceptEdits: a write raced by a directory swap', { timeout: 120000 }, () => {
  test('write_file d/config.toml never rewrites .icotes/config.toml', async () => {
    const root = workspace('files-race');
    const settings = '[permissions]\nmode = "default"\n';
    put(root, '.icotes/config.toml', settings);
    fs.mkdirSync(path.join(root, 'd'));
    fs.symlinkSync('.icotes', path.join(root, 'dlink'));
    const { client, call } = await startMcp(root, ['--permission-mode', 'acceptEdits']);
    const swapper = spawn('python3', ['-c', SWAPPER, root], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve, reject) => {
        swapper.stdout.once('data', resolve);
        swapper.once('exit', (code) => reject(new Error(`the swapper exited (${code})`)));
      });
      let refused = 0;
      let written = 0;
      for (let i = 0; i < 1500 && (refused < 20 || written < 20); ++i) {
        const r = await call('write_file', { path: 'd/config.toml', content: `[exec]\nsandbox = false # ${i}\n` });
        if (r.isError) {
          assert.match(r.content[0].text, /permission denied|changed/, r.content[0].text);
          if (/\.icotes/.test(r.content[0].text)) ++refused;
        } else {
          ++written;
        }
      }
      assert.ok(refused > 0, 'the race was never hit');
      assert.ok(written > 0, 'no write got through');
    } finally {
      swapper.kill();
      await client.close();
    }
    assert.equal(get(root, '.icotes/config.toml'), settings);
    assert.deepEqual(fs.readdirSync(path.join(root, '.icotes')).filter((n) => n !== 'permissions.sqlite'),
      ['config.toml'], 'no temporary file was left in .icotes/');
  });
});

describe('acceptEdits: git config and hooks', { timeout: 60000 }, () => {
  test('no file tool changes .git/config, hooks, attributes or a submodule\'s', async (t) => {
    const root = workspace('files-git');
    execFileSync('git', ['init', '-q', root]);
    execFileSync('git', ['init', '-q', path.join(root, 'sub')]);
    put(root, '.git/hooks/pre-commit', '#!/bin/sh\n');
    put(root, '.git/info/attributes', '');
    put(root, '.git/modules/lib/config', '[core]\n');
    put(root, 'ok.txt', 'ok\n');
    fs.symlinkSync('.git', path.join(root, 'gitlink'));
    const before = new Map();
    for (const rel of ['.git/config', '.git/hooks/pre-commit', '.git/info/attributes', '.git/modules/lib/config',
      'sub/.git/config']) before.set(rel, get(root, rel));
    const { client, call } = await startMcp(root, ['--permission-mode', 'acceptEdits']);
    t.after(() => client.close());
    const evil = '[core]\n\tfsmonitor = "touch /tmp/pwned"\n';
    const attempts = [
      ['write_file', { path: '.git/config', content: evil }],
      ['write_file', { path: 'gitlink/config', content: evil }],
      ['write_file', { path: '.git/hooks/post-checkout', content: '#!/bin/sh\nevil\n' }],
      ['write_file', { path: '.git/commondir', content: '../evil\n' }],
      ['edit_file', { path: '.git/info/attributes', edits: [{ oldString: '', newString: '* filter=x\n' }] }],
      ['edit_file', { path: 'gitlink/hooks/pre-commit', edits: [{ oldString: '#!/bin/sh\n', newString: '#!/bin/sh\nevil\n' }] }],
      ['apply_patch', { patch: '--- /dev/null\n+++ b/.git/hooks/pre-push\n@@ -0,0 +1 @@\n+evil\n' }],
      ['apply_patch', { patch: '--- a/.git/modules/lib/config\n+++ b/.git/modules/lib/config\n@@ -1 +1,2 @@\n [core]\n+\tfsmonitor = evil\n' }],
      ['move_file', { source: 'ok.txt', destination: '.git/hooks/pre-commit', overwrite: true }],
      ['move_file', { source: '.git/config', destination: 'stolen' }],
      ['create_directory', { path: 'gitlink/hooks/x' }],
      ['delete_file', { path: '.git/hooks/pre-commit' }],
      ['delete_file', { path: 'sub', recursive: true }],
    ];
    for (const [name, args] of attempts) {
      const r = await call(name, args);
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} was allowed`);
      assert.match(r.content[0].text, /permission denied/, `${name}: ${r.content[0].text}`);
    }
    for (const [rel, content] of before) assert.equal(get(root, rel), content, rel);
    for (const rel of ['.git/hooks/post-checkout', '.git/commondir', '.git/hooks/pre-push', 'stolen', '.git/hooks/x'])
      assert.equal(fs.existsSync(path.join(root, rel)), false, rel);
    assert.equal(get(root, 'ok.txt'), 'ok\n');
    // Ordinary files are still written.
    const w = await call('write_file', { path: 'src/a.c', content: 'int a;\n' });
    assert.notEqual(w.isError, true, JSON.stringify(w));
  });
});

describe('Read deny rules and symlinks', { timeout: 60000 }, () => {
  test('a link to a denied file reads nothing, listings leave it out and say so', async (t) => {
    const root = workspace('files-read');
    put(root, '.env', 'TOKEN=hunter2\n');
    put(root, 'private/notes.txt', 'secret notes\n');
    put(root, 'src/a.c', 'int a;\n');
    fs.symlinkSync('.env', path.join(root, 'env-link'));
    fs.symlinkSync('private', path.join(root, 'alias'));
    const { client, call } = await startMcp(root, ['--deny', 'Read(.env)', '--deny', 'Read(private/**)']);
    t.after(() => client.close());
    for (const p of ['env-link', 'alias/notes.txt']) {
      const r = await call('read_file', { path: p });
      assert.equal(r.isError, true, `read_file ${p}: ${JSON.stringify(r)}`);
      assert.match(r.content[0].text, /permission denied/);
      assert.doesNotMatch(JSON.stringify(r), /hunter2|secret notes/);
    }
    // Metadata: of the link itself (not followed) it is the link's; of a
    // denied file reached through a linked directory, none.
    const link = await call('get_file_info', { path: 'env-link' });
    assert.match(link.content[0].text, /^type: symlink$/m, JSON.stringify(link));
    const info = await call('get_file_info', { path: 'alias/notes.txt' });
    assert.equal(info.isError, true, JSON.stringify(info));
    const many = await call('read_many_files', { paths: ['env-link', 'src/a.c'] });
    assert.doesNotMatch(JSON.stringify(many), /hunter2/);
    assert.match(JSON.stringify(many), /int a;/);
    const list = await call('list_directory', { path: '.', depth: 2 });
    assert.notEqual(list.isError, true, JSON.stringify(list));
    const text = list.content[0].text;
    assert.doesNotMatch(text, /\.env|notes\.txt/, text);
    assert.match(text, /3 entries left out: a Read deny rule covers them/, text);
    const linked = await call('list_directory', { path: 'alias' });
    assert.equal(linked.isError, true, JSON.stringify(linked));
    const resources = (await client.listResources({}, { timeout: T })).resources.map((r) => r.uri);
    assert.ok(resources.some((u) => u.endsWith('/src/a.c')), resources.join(' '));
    assert.ok(!resources.some((u) => /\.env$|notes\.txt$/.test(u)), resources.join(' '));
    await assert.rejects(client.readResource({ uri: `file://${root}/env-link` }, { timeout: T }), /permission denied/);
    // The edit's diff would show the content.
    const e = await call('edit_file', { path: 'env-link', edits: [{ oldString: 'TOKEN', newString: 'X' }], dryRun: true });
    assert.equal(e.isError, true);
    assert.doesNotMatch(JSON.stringify(e), /hunter2/);
  });
});
