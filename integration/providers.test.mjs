// providers/list and providers/chat through the icotes executable
// (`icotes call`), with the user's config.toml in a temporary
// XDG_CONFIG_HOME: the listing names where keys come from but never holds
// one; a chat needs Network permission; an openai-kind chat against a
// loopback server speaking Chat Completions streaming loads
// icotes-providers.so from beside the executable and sends the key there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { removeDir, requireBinary, tempDir } from './helpers.mjs';

const SECRET = 'sk-integration-never-printed';
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

// The environment without proxies (they would take loopback requests).
function cleanEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  return env;
}

// `icotes call` (asynchronous: the loopback server runs in this process).
function call(args, env) {
  return new Promise((resolve) => {
    execFile(requireBinary(), ['call', '--in-process', ...args], { env, timeout: 20000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('providers operations', () => {
  let server;
  let port;
  const seen = [];
  let root;
  let env;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        seen.push({ url: req.url, authorization: req.headers.authorization, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta, finish = null) =>
          `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.write(chunk({ role: 'assistant', content: 'Hello ' }));
        res.write(chunk({ content: 'from loopback' }, 'stop'));
        res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
    root = tempDir('providers-ws');
    const config = tempDir('providers-config');
    dirs.push(root, config);
    fs.mkdirSync(path.join(config, 'icotes'));
    fs.writeFileSync(path.join(config, 'icotes', 'script.json'),
      JSON.stringify([{ text: 'scripted answer', chunks: ['scripted ', 'answer'] }]));
    fs.writeFileSync(path.join(config, 'icotes', 'config.toml'), [
      '[providers.local]',
      'kind = "openai"',
      `base_url = "http://127.0.0.1:${port}/v1"`,
      'model = "loopback-model"',
      'api_key_env = "ICOTES_IT_PROVIDER_KEY"',
      '',
      '[providers.demo]',
      'kind = "mock"',
      'model = "scripted"',
      'script = "script.json"',
      '',
      '[agent]',
      'provider = "local"',
    ].join('\n'));
    env = cleanEnv({ XDG_CONFIG_HOME: config, XDG_STATE_HOME: path.join(root, '.state'), ICOTES_IT_PROVIDER_KEY: SECRET });
  });
  after(() => server?.close());

  test('providers/list names the key source, never the key', async () => {
    const r = await call(['--root', root, 'providers/list'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    const out = JSON.parse(r.stdout);
    assert.equal(out.path, path.join(env.XDG_CONFIG_HOME, 'icotes', 'config.toml'));
    assert.deepEqual(out.providers.map((p) => [p.name, p.kind, p.default]), [['demo', 'mock', false], ['local', 'openai', true]]);
    assert.deepEqual(out.providers[1].key, { source: 'env:ICOTES_IT_PROVIDER_KEY', present: true });
  });

  test('providers/chat asks for Network permission', async () => {
    const hi = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], provider: 'demo' });
    const denied = await call(['--root', root, 'providers/chat', hi], env);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr + denied.stdout, /Network/);
    const allowed = await call(['--root', root, '--allow', 'Network', 'providers/chat', hi], env);
    assert.equal(allowed.code, 0, allowed.stderr);
    const out = JSON.parse(allowed.stdout);
    assert.equal(out.text, 'scripted answer');
    assert.equal(out.provider, 'demo');
  });

  test('an openai-kind chat goes through the module to the configured base URL', async () => {
    const hi = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], system: 'Be brief.', maxTokens: 50 });
    const r = await call(['--root', root, '--allow', 'Network', 'providers/chat', hi], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out, {
      text: 'Hello from loopback', model: 'loopback-model', usage: { inputTokens: 9, outputTokens: 4 },
      stop: 'end_turn', provider: 'local',
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].url, '/v1/chat/completions');
    assert.equal(seen[0].authorization, `Bearer ${SECRET}`);
    assert.deepEqual(seen[0].body.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]);
    assert.equal(seen[0].body.max_tokens, 50);
  });
});
