// The Neovim test (integration/nvim/attach.lua, run by ctest as
// integration.neovim) must be able to fail: a failing check, a server that
// does not start and a server that never answers each end Neovim with a
// non-zero exit status, quickly, leaving no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, 'nvim', 'attach.lua');
const hasNvim = spawnSync('nvim', ['--version'], { encoding: 'utf8' }).status === 0;

function runNvim(env) {
  const started = Date.now();
  const r = spawnSync('nvim', ['--headless', '--clean', '-u', 'NONE', '-c', `luafile ${script}`], {
    env: { ...process.env, ...env },
    input: '',
    encoding: 'utf8',
    timeout: 30000,
  });
  return { ...r, ms: Date.now() - started };
}

test('attach.lua passes against the real binary', { skip: !hasNvim && 'nvim not installed', timeout: 40000 }, () => {
  const r = runNvim({ ICOTES_BINARY: requireBinary() });
  assert.equal(r.status, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stdout, /PASS/);
});

test('a failing check exits non-zero', { skip: !hasNvim && 'nvim not installed', timeout: 40000 }, () => {
  const r = runNvim({ ICOTES_BINARY: requireBinary(), ICOTES_NVIM_SELFTEST_FAIL: '1' });
  assert.notEqual(r.status, 0);
  assert.equal(r.signal, null, 'ended by itself, not by the timeout');
  assert.match(r.stderr, /FAIL: .*icotes\/files\/read returned/);
});

test('a server that never answers exits non-zero within the bounded wait', { skip: !hasNvim && 'nvim not installed', timeout: 40000 }, () => {
  const dir = tempDir('nvim-hang');
  try {
    const fake = path.join(dir, 'hang.sh');
    fs.writeFileSync(fake, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const r = runNvim({ ICOTES_BINARY: fake });
    assert.notEqual(r.status, 0);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /timed out .* initialize/);
    assert.ok(r.ms < 15000, `took ${r.ms} ms`);
  } finally {
    removeDir(dir);
  }
});

test('a server that cannot start exits non-zero', { skip: !hasNvim && 'nvim not installed', timeout: 40000 }, () => {
  const r = runNvim({ ICOTES_BINARY: '/bin/false' });
  assert.notEqual(r.status, 0);
  assert.equal(r.signal, null);
});

test('the plugin test (integration/nvim/plugin.lua) fails on a failing check', { skip: !hasNvim && 'nvim not installed', timeout: 90000 }, () => {
  const r = spawnSync('nvim', ['--headless', '--clean', '-u', 'NONE', '-c', `luafile ${path.join(here, 'nvim', 'plugin.lua')}`], {
    env: { ...process.env, ICOTES_BINARY: requireBinary(), ICOTES_NVIM_SELFTEST_FAIL: '1', ICOTES_NODE: process.execPath },
    input: '',
    encoding: 'utf8',
    timeout: 80000,
  });
  assert.notEqual(r.status, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.equal(r.signal, null, 'ended by itself, not by the timeout');
  assert.match(r.stderr, /FAIL: .*the edit in the buffer/);
});
