// An MCP client (the TypeScript SDK, as Claude Code and Cursor use it) for
// the Neovim plugin's test (integration/nvim/plugin.lua):
//   node mcp-client.mjs ROOT '[{"tool": "read_file", "args": {...}}, ...]'
// spawns `$ICOTES_BINARY serve --root ROOT` (which attaches to the
// workspace's daemon, where Neovim is attached too), calls the tools in
// order and prints one JSON line per call: {tool, isError, text}. It
// declares no elicitation, so a permission question goes to the editor.
// Every request is bounded; the process exits 0 once all calls answered.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [root, stepsJson] = process.argv.slice(2);
const steps = JSON.parse(stepsJson);
const timer = setTimeout(() => {
  console.error('mcp-client: did not finish within 50 s');
  process.exit(3);
}, 50000);

const transport = new StdioClientTransport({
  command: process.env.ICOTES_BINARY,
  args: ['serve', '--root', root],
  env: process.env,
  stderr: 'inherit',
});
const client = new Client({ name: 'nvim-plugin-test', version: '1.0.0' }, { capabilities: {} });
await client.connect(transport);
for (const step of steps) {
  const r = await client.callTool({ name: step.tool, arguments: step.args }, undefined, { timeout: 45000 });
  const text = (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  process.stdout.write(JSON.stringify({ tool: step.tool, isError: !!r.isError, text }) + '\n');
}
await client.close();
clearTimeout(timer);
