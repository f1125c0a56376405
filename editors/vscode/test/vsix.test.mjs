// The .vsix as `make vsix` builds it (vsce package, which type-checks and
// bundles first): what it holds (package.json, the bundle, the README; no
// node_modules, sources or tests), its manifest (main, engine, the commands
// and settings), and the bundle loaded with a stand-in `vscode` module:
// activate() registers exactly the commands the manifest contributes.
// ICOTES_VSIX_OUT: where to write it (default: a temporary directory).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.resolve(here, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'icotes-vsix-'));
const vsix = process.env.ICOTES_VSIX_OUT || path.join(tmp, 'icotes.vsix');

// The zip's entries and their bytes, read with python3's zipfile.
function unzip(file, dir) {
  execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2]); print("\\n".join(i.filename for i in zipfile.ZipFile(sys.argv[1]).infolist()))', file, dir]);
  return execFileSync('python3', ['-c', 'import sys, zipfile; print("\\n".join("%s %d" % (i.filename, i.file_size) for i in zipfile.ZipFile(sys.argv[1]).infolist()))', file])
    .toString()
    .trim()
    .split('\n')
    .map((l) => {
      const i = l.lastIndexOf(' ');
      return { name: l.slice(0, i), size: Number(l.slice(i + 1)) };
    });
}

test('the .vsix: bundle, manifest and README only; the bundle activates', (t) => {
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const t0 = Date.now();
  execFileSync(path.join(ext, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', vsix], {
    cwd: ext,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 170000,
  });
  const bytes = fs.statSync(vsix).size;
  t.diagnostic(`vsce package: ${Date.now() - t0} ms, ${bytes} bytes`);
  const dir = path.join(tmp, 'x');
  const entries = unzip(vsix, dir);
  const names = entries.map((e) => e.name).sort();
  assert.deepEqual(names, ['[Content_Types].xml', 'extension.vsixmanifest', 'extension/dist/extension.js', 'extension/package.json', 'extension/readme.md']);
  const total = entries.reduce((n, e) => n + e.size, 0);
  assert.ok(bytes < 512 * 1024 && total < 2 * 1024 * 1024, `small: ${bytes} bytes packed, ${total} unpacked`);

  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'extension/package.json'), 'utf8'));
  const mine = JSON.parse(fs.readFileSync(path.join(ext, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'icotes');
  assert.equal(pkg.version, mine.version);
  assert.equal(pkg.main, './dist/extension.js');
  assert.match(pkg.engines.vscode, /^\^1\.\d+\.\d+$/);
  const commands = pkg.contributes.commands.map((c) => `${c.category}: ${c.title}`);
  for (const c of ['Permission Mode…', 'Show Permissions', 'Revoke…', 'Open Terminal', 'Show Event Log', 'Restart Daemon']) {
    assert.ok(commands.includes(`icotes: ${c}`), `command icotes: ${c} in ${commands}`);
  }
  for (const s of ['icotes.path', 'icotes.permissionMode', 'icotes.args', 'icotes.trace.server']) {
    assert.ok(pkg.contributes.configuration.properties[s], `setting ${s}`);
  }
  assert.deepEqual(pkg.contributes.mcpServerDefinitionProviders, [{ id: 'icotes.mcp', label: 'icotes' }]);

  // The bundle needs nothing but `vscode` (vscode-languageclient is inside).
  const bundle = fs.readFileSync(path.join(dir, 'extension/dist/extension.js'), 'utf8');
  const required = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  const builtins = new Set(Module.builtinModules.flatMap((m) => [m, `node:${m}`]));
  assert.deepEqual([...new Set(required.filter((r) => !builtins.has(r)))], ['vscode']);

  // activate() with a stand-in vscode (no workspace folder: no server starts).
  const registered = [];
  const anything = () =>
    new Proxy(function () {}, {
      get: (_t, k) => (k === 'then' || typeof k === 'symbol' ? undefined : anything()),
      apply: () => anything(),
      construct: () => anything(),
    });
  const disposable = { dispose() {} };
  const vscode = new Proxy(
    {
      commands: { registerCommand: (id) => (registered.push(id), disposable), executeCommand: async () => undefined },
      workspace: new Proxy(
        {
          workspaceFolders: undefined,
          textDocuments: [],
          getConfiguration: () => ({ get: () => undefined }),
        },
        { get: (o, k) => (k in o ? o[k] : anything()) },
      ),
      window: new Proxy(
        { activeTextEditor: undefined, visibleTextEditors: [], tabGroups: undefined, state: { focused: false }, onDidChangeWindowState: () => disposable },
        { get: (o, k) => (k in o ? o[k] : anything()) },
      ),
      languages: { onDidChangeDiagnostics: () => disposable, getDiagnostics: () => [] },
      StatusBarAlignment: { Left: 1, Right: 2 },
      lm: undefined,
    },
    { get: (o, k) => (k in o ? o[k] : anything()) },
  );
  const require = createRequire(path.join(dir, 'extension/dist/extension.js'));
  const load = Module._load;
  Module._load = function (request, ...rest) {
    return request === 'vscode' ? vscode : load.call(this, request, ...rest);
  };
  try {
    const mod = require(path.join(dir, 'extension/dist/extension.js'));
    assert.equal(typeof mod.activate, 'function');
    assert.equal(typeof mod.deactivate, 'function');
    const context = { subscriptions: [] };
    mod.activate(context);
    assert.deepEqual(registered.sort(), pkg.contributes.commands.map((c) => c.command).sort());
    assert.ok(context.subscriptions.length > registered.length);
    for (const d of context.subscriptions) d.dispose?.(); // the refresh timer too, or node would not exit
  } finally {
    Module._load = load;
  }
});
