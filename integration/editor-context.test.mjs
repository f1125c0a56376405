// The editor context through the shared daemon: an editor (vscode-jsonrpc,
// as the VS Code extension and the Neovim plugin talk) sees the capability
// advertised and sends icotes/editor/context; an MCP client (the SDK) reads
// it through the editor_context tool and the icotes://editor/context
// resource; when the editor leaves, its context goes with it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 15000;

async function until(probe, what) {
  let last;
  for (let i = 0; i < 150; i++) {
    last = await probe();
    if (last.ok) return last.value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}: not within 15 s; last: ${JSON.stringify(last.value)}`);
}

describe('editor context', () => {
  let root, runtime, env;
  before(() => {
    root = fs.realpathSync(tempDir('editor-context'));
    runtime = tempDir('editor-context-run');
    fs.chmodSync(runtime, 0o700);
    env = { ...process.env, XDG_RUNTIME_DIR: runtime };
    fs.mkdirSync(path.join(root, 'src'));
    fs.writeFileSync(path.join(root, 'src', 'a.c'), 'int main(void) {\n  int x = 1;\n  return x;\n}\n');
  });
  after(() => {
    removeDir(root);
    removeDir(runtime);
  });

  test('an editor sends its context; an MCP client reads it through editor_context and the resource', async () => {
    const child = spawn(requireBinary(), ['serve', '--root', root, '--idle-timeout', '1000', '--log-level', 'warn'], {
      stdio: ['pipe', 'pipe', 'inherit'], env,
    });
    const editor = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    editor.listen();
    const client = new Client({ name: 'context-ai', version: '1.0.0' });
    const transport = new StdioClientTransport({ command: requireBinary(), args: ['serve', '--attach', '--root', root], env });
    const uri = pathToFileURL(path.join(root, 'src', 'a.c')).href;
    try {
      const init = await withTimeout(editor.sendRequest('initialize', {
        processId: null, rootUri: pathToFileURL(root).href, clientInfo: { name: 'context-editor' }, capabilities: {},
      }), T, 'editor initialize');
      // What both editors test before sending.
      assert.equal(init.capabilities.experimental.icotesEditorContext, true);
      assert.equal(init.capabilities.experimental.icotes.editorContext, true);
      await editor.sendNotification('initialized', {});
      await withTimeout(client.connect(transport), T, 'AI connect');

      const tools = (await client.listTools()).tools;
      const tool = tools.find((t) => t.name === 'editor_context');
      assert.ok(tool, 'editor_context is listed');
      assert.ok(tool.description.length <= 110, tool.description);
      const empty = await client.callTool({ name: 'editor_context', arguments: {} });
      assert.match(empty.content[0].text, /No editor context/);

      // The payload of editors/vscode/src/logic.ts buildEditorContext.
      const range = (l1, c1, l2, c2) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
      const selection = { ...range(1, 2, 2, 10), text: 'int x = 1;\n  return x;' };
      await editor.sendNotification('icotes/editor/context', {
        uri, languageId: 'c', selection, selections: [selection],
        visibleRanges: [{ uri, range: range(0, 0, 3, 1) }],
        openBuffers: [uri, pathToFileURL('/etc/passwd').href],
        diagnostics: [{ uri, range: range(2, 2, 2, 8), severity: 2, message: 'unused', source: 'cc' }],
      });
      const text = await until(async () => {
        const r = await client.callTool({ name: 'editor_context', arguments: {} });
        const t = r.content[0].text;
        return { ok: t.includes('(selected)'), value: t };
      }, 'the context reaches the MCP client');
      assert.match(text, /^editor: context-editor/m);
      assert.ok(text.includes('src/a.c:2:3-3:11 (selected)\nint x = 1;\n  return x;\n'), text);
      assert.ok(text.includes('open tabs:\n- src/a.c\n'), text);
      assert.doesNotMatch(text, /passwd/);
      assert.ok(text.includes('- src/a.c:3:3: warning: unused'), text);

      const listed = (await client.listResources()).resources;
      assert.ok(listed.some((r) => r.uri === 'icotes://editor/context'), JSON.stringify(listed.slice(0, 3)));
      const read = await client.readResource({ uri: 'icotes://editor/context' });
      assert.equal(read.contents[0].mimeType, 'text/plain');
      assert.ok(read.contents[0].text.includes('src/a.c:2:3-3:11 (selected)'), read.contents[0].text);

      // The editor leaves: its context goes.
      await withTimeout(editor.sendRequest('shutdown'), T, 'shutdown');
      await editor.sendNotification('exit');
      child.stdin.end();
      await until(async () => {
        const r = await client.readResource({ uri: 'icotes://editor/context' });
        return { ok: /No editor context/.test(r.contents[0].text), value: r.contents[0].text };
      }, 'the context is forgotten when the editor closes');
    } finally {
      editor.dispose();
      child.kill();
      await client.close();
    }
  });
});
