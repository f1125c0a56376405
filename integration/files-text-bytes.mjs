#!/usr/bin/env node
// Measures the text an MCP host hands its model for the file tools on the
// workspace of files-fixture.mjs (not a test file):
//   node integration/files-text-bytes.mjs [icotes-binary] [workspace-dir]
// Prints one line per call: bytes of text content, bytes of
// structuredContent JSON, and the number of content blocks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { makeWorkspace } from './files-fixture.mjs';

const binary = process.argv[2] ?? process.env.ICOTES_BINARY;
let root = process.argv[3];
let made = false;
if (!root) {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'icotes-textbytes-'));
  makeWorkspace(root);
  made = true;
}
const transport = new StdioClientTransport({ command: binary, args: ['serve', '--standalone', '--root', root], stderr: 'ignore' });
const client = new Client({ name: 'text-bytes', version: '1.0.0' });
await client.connect(transport);
const calls = [
  ['read_many_files of 3 large files', 'read_many_files', { paths: ['large/large1.txt', 'large/large2.txt', 'large/large3.txt'] }],
  ['read_file of a large file', 'read_file', { path: 'large/large1.txt' }],
  ['list_directory of a 12,000-entry folder', 'list_directory', { path: 'big' }],
  ['list_directory depth 3 at the root', 'list_directory', { path: '.', depth: 3 }],
  ['list_directory depth 3 at the root, includeIgnored', 'list_directory', { path: '.', depth: 3, includeIgnored: true }],
];
for (const [what, name, args] of calls) {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 60000 });
  const text = r.content.filter((c) => c.type === 'text').reduce((n, c) => n + Buffer.byteLength(c.text), 0);
  const structured = r.structuredContent ? Buffer.byteLength(JSON.stringify(r.structuredContent)) : 0;
  console.log(`${what}: ${text} bytes of text, ${structured} bytes of structuredContent, ${r.content.length} blocks${r.isError ? ' (error)' : ''}`);
}
let resources = 0;
let pages = 0;
let cursor;
do {
  const page = await client.listResources(cursor ? { cursor } : {}, { timeout: 60000 });
  resources += page.resources.length;
  ++pages;
  cursor = page.nextCursor;
} while (cursor);
console.log(`resources/list: ${resources} resources in ${pages} pages`);
await client.close();
if (made) fs.rmSync(root, { recursive: true, force: true });
