// What real MCP hosts hand their model from icotes' tool results (ctest label
// `hosts`): Claude Code, Codex and Gemini CLI, pinned in package.json here,
// each run once with icotes as its MCP server (`serve --standalone`) and a
// fake model API on 127.0.0.1 (fake-models.mjs) that calls read_file, grep and
// a failing read_file. The assertions read what the host sent the model next:
//   - read_file: the file's text is there (Claude Code, Codex and VS Code
//     hand their model structuredContent instead of the text when there is
//     one, so by default there is none);
//   - grep: the matching line and its path;
//   - the failure: the error text, flagged as an error where the host can;
//   - Claude Code: the icotes tool definitions it sends once loaded (name,
//     description, input_schema) stay within 16 KiB.
// Every host runs in a temporary HOME with telemetry, updates and error
// reports off, bounded in time; one that is not installed
// (scripts/install-deps.sh) or cannot start here is skipped, saying why.
// ICOTES_HOSTS_VERBOSE=1 prints what each model saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { removeDir, requireBinary, tempDir } from '../helpers.mjs';
import { startFake } from './fake-models.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(HERE, 'node_modules');
const RUN_TIMEOUT_MS = 180000;
// About 4k tokens of tool definitions: tools/list leaves out rarely used
// parameters and validation-only keywords (`serve --full-tool-schemas` lists
// them), and descriptions are short.
const CLAUDE_VIEW_BUDGET = 16 * 1024;

const MARKER = 'ICOTES-MARKER-7f3a: this line is the file text';
const NEEDLE = 'return find_the_needle_4711();';
const MISSING = 'missing-file-91.txt';
const STEPS = [
  { tool: 'read_file', args: { path: 'hello.txt' } },
  { tool: 'grep', args: { pattern: 'find_the_needle_4711' } },
  { tool: 'read_file', args: { path: MISSING } },
];

const HOSTS = {
  claude: { title: 'Claude Code 2.1.332', bin: path.join(MODULES, '.bin', 'claude'), api: 'anthropic' },
  codex: { title: 'Codex 0.171.0', bin: path.join(MODULES, '.bin', 'codex'), api: 'openai' },
  gemini: { title: 'Gemini CLI 0.61.0', bin: path.join(MODULES, '@google', 'gemini-cli', 'bundle', 'gemini.js'), api: 'gemini' },
};

// A process environment without the caller's credentials, proxies or config.
function cleanEnv(home, extra) {
  const env = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', TERM: 'dumb', NO_PROXY: '127.0.0.1,localhost',
    XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'), XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_RUNTIME_DIR: path.join(home, 'run') };
  fs.mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  return { ...env, ...extra };
}

// Why a host cannot run here, or null.
function whyNot(host) {
  if (!fs.existsSync(host.bin)) return `${host.title} is not installed (scripts/install-deps.sh installs integration/hosts/node_modules)`;
  try {
    const cmd = host.bin.endsWith('.js') ? [process.execPath, host.bin] : [host.bin];
    const home = tempDir('host-version');
    try {
      execFileSync(cmd[0], [...cmd.slice(1), '--version'], { env: cleanEnv(home, {}), timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      removeDir(home);
    }
  } catch (e) {
    return `${host.title} cannot run here: ${String(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`;
  }
  return null;
}

// Runs `argv` in `cwd`, killed (its whole process group) after RUN_TIMEOUT_MS.
function run(argv, cwd, env) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${RUN_TIMEOUT_MS} ms]`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* the group ended with it */ }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function icotesToolNames(root) {
  const client = new Client({ name: 'icotes-hosts', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: requireBinary(), args: ['serve', '--standalone', '--root', root, '--log-level', 'error'] }), { timeout: 30000 });
  try {
    return (await client.listTools({}, { timeout: 30000 })).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

function makeWorkspace(dir) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'hello.txt'), `first line\n${MARKER}\nlast line\n`);
  fs.writeFileSync(path.join(dir, 'src', 'needle.c'), `int main(void) {\n  ${NEEDLE}\n}\n`);
}

const ICOTES_ARGS = (ws) => ['serve', '--standalone', '--root', ws, '--log-level', 'warn'];

// Writes the host's configuration into `home` and runs it once.
async function runHost(kind, ws, home, fake) {
  const prompt = 'Use the icotes tools as instructed.';
  const icotes = requireBinary();
  if (kind === 'claude') {
    fs.writeFileSync(path.join(home, 'mcp.json'), JSON.stringify({ mcpServers: { icotes: { command: icotes, args: ICOTES_ARGS(ws) } } }));
    const allowed = [...new Set(STEPS.map((s) => `mcp__icotes__${s.tool}`))].join(',');
    return run([HOSTS.claude.bin, '-p', prompt, '--mcp-config', path.join(home, 'mcp.json'), '--strict-mcp-config',
      '--allowedTools', allowed, '--output-format', 'json'], ws, cleanEnv(home, {
      ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: 'sk-test', DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_ERROR_REPORTING: '1', DISABLE_BUG_COMMAND: '1' }));
  }
  if (kind === 'codex') {
    const codexHome = path.join(home, '.codex');
    fs.mkdirSync(codexHome, { recursive: true });
    fs.writeFileSync(path.join(codexHome, 'config.toml'), [
      // An unknown model: every MCP tool inline (no tool_search round).
      'model = "gpt-test"', 'model_provider = "fake"', 'approval_policy = "never"', 'sandbox_mode = "read-only"',
      'check_for_update_on_startup = false', '',
      '[model_providers.fake]', 'name = "fake"', `base_url = "${fake.url}/v1"`, 'wire_api = "responses"',
      'env_key = "FAKE_OPENAI_KEY"', 'request_max_retries = 0', 'stream_max_retries = 0', '',
      '[mcp_servers.icotes]', `command = ${JSON.stringify(icotes)}`, `args = ${JSON.stringify(ICOTES_ARGS(ws))}`, ''].join('\n'));
    return run([process.execPath, HOSTS.codex.bin, 'exec', '--skip-git-repo-check', '--json', prompt], ws,
      cleanEnv(home, { CODEX_HOME: codexHome, FAKE_OPENAI_KEY: 'sk-test' }));
  }
  fs.mkdirSync(path.join(home, '.gemini'), { recursive: true });
  fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify({
    mcpServers: { icotes: { command: icotes, args: ICOTES_ARGS(ws), trust: true } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { disableAutoUpdate: true, disableUpdateNag: true },
    // Picked by hand: the "gateway" auth chosen when only the base URL is set fails in -p mode.
    security: { auth: { selectedType: 'gemini-api-key' } },
  }, null, 1));
  return run([process.execPath, HOSTS.gemini.bin, '-p', prompt, '--yolo', '--output-format', 'json'], ws,
    cleanEnv(home, { GOOGLE_GEMINI_BASE_URL: fake.url, GEMINI_API_KEY: 'fake-key', GEMINI_CLI_TRUST_WORKSPACE: 'true' }));
}

for (const [kind, host] of Object.entries(HOSTS)) {
  const skip = whyNot(host) ?? false;
  describe(`${host.title}: what its model receives from icotes`, { timeout: RUN_TIMEOUT_MS + 60000 }, () => {
    let tmp;
    let fake;
    let outcome;
    let calls = [];
    const diagnose = () => `host exit ${outcome?.code}${outcome?.signal ? ` (${outcome.signal})` : ''}\nstderr: ${outcome?.stderr.slice(-2000)}\n`
      + `stdout: ${outcome?.stdout.slice(-1500)}\ncalls seen by the model: ${JSON.stringify(calls).slice(0, 3000)}`;
    const callOf = (i) => {
      const c = calls[i];
      assert.ok(c && c.result, `the model got a result for call ${i + 1} (${STEPS[i].tool})\n${diagnose()}`);
      assert.equal(c.tool, STEPS[i].tool, diagnose());
      return c.result;
    };

    before(async () => {
      if (skip) return;
      tmp = tempDir(`host-${kind}`);
      const ws = path.join(tmp, 'ws');
      const home = path.join(tmp, 'home');
      fs.mkdirSync(home);
      makeWorkspace(ws);
      const select = kind === 'claude' ? await icotesToolNames(ws) : undefined;
      fake = await startFake(host.api, { steps: STEPS, select });
      outcome = await runHost(kind, ws, home, fake);
      calls = fake.calls();
      if (process.env.ICOTES_HOSTS_VERBOSE) console.log(`${host.title}: exit ${outcome.code}; the model saw:\n${JSON.stringify(calls, null, 1)}`);
    });
    after(async () => {
      await fake?.close();
      removeDir(tmp);
    });

    test('read_file: the file text reaches the model', { skip }, () => {
      const r = callOf(0);
      assert.ok(r.text.includes(MARKER), `the file text is not in what the model got:\n${r.text.slice(0, 2000)}`);
      assert.notEqual(r.isError, true);
    });

    test('grep: the matching line and its path reach the model', { skip }, () => {
      const r = callOf(1);
      assert.ok(r.text.includes(NEEDLE) && r.text.includes('src/needle.c'), `grep's match is not in what the model got:\n${r.text.slice(0, 2000)}`);
    });

    test('a failed call: the error text reaches the model, flagged where the host can', { skip }, () => {
      const r = callOf(2);
      assert.match(r.text, /Error/, r.text);
      assert.ok(r.text.includes(MISSING), r.text);
      // Codex's wire format has no error flag: the "Error:" text is all its model has.
      if (kind !== 'codex') assert.equal(r.isError, true, `the host did not flag the error: ${JSON.stringify(r)}`);
    });

    if (kind === 'claude') {
      test(`the icotes tool definitions Claude Code sends once loaded fit in ${CLAUDE_VIEW_BUDGET} bytes`, { skip }, (t) => {
        const defs = fake.toolDefinitions();
        assert.ok(defs.length >= 10, `Claude Code loaded the icotes tools (${defs.length})\n${diagnose()}`);
        const size = (t) => Buffer.byteLength(JSON.stringify({ name: t.name, description: t.description, input_schema: t.input_schema }));
        const total = defs.reduce((n, t) => n + size(t), 0);
        const top = defs.map((t) => `${t.name.replace('mcp__icotes__', '')} ${size(t)}`).sort((a, b) => b.split(' ')[1] - a.split(' ')[1]).slice(0, 8);
        t.diagnostic(`${defs.length} tools in ${total} bytes (largest: ${top.join(', ')})`);
        assert.ok(total <= CLAUDE_VIEW_BUDGET, `${defs.length} tools in ${total} bytes (largest: ${top.join(', ')})`);
      });
    }
  });
}
