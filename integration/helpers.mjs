// Shared helpers for the integration tier (not a test file: ctest runs only
// integration/*.test.mjs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BINARY = process.env.ICOTES_BINARY;
export const SOURCE_DIR = process.env.ICOTES_SOURCE_DIR;

export function requireBinary() {
  assert.ok(BINARY, 'ICOTES_BINARY must name the icotes binary (ctest sets it)');
  assert.ok(fs.existsSync(BINARY), `ICOTES_BINARY=${BINARY} does not exist; build first`);
  return BINARY;
}

export const sha256 = (data) => createHash('sha256').update(data).digest('hex');

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `icotes-${prefix}-`));
}

export function removeDir(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

// Every entry of a tree: rel path -> "dir 0755", "file 0644 <sha256>", "link <target>".
export function snapshot(root) {
  const out = new Map();
  const walk = (rel) => {
    const abs = path.join(root, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out.set(r, `link ${fs.readlinkSync(path.join(root, r))}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(r);
      } else out.set(r, `file ${mode} ${sha256(fs.readFileSync(path.join(root, r)))}`);
    }
  };
  walk('');
  return out;
}

export function fileEntry(content, mode = 0o644) {
  return `file ${mode.toString(8).padStart(4, '0')} ${sha256(content)}`;
}

// Compare two snapshots, reporting only the differing paths (a few hundred
// entries make deepStrictEqual's diff unreadable).
export function assertSameTree(actual, expected, what) {
  const diffs = [];
  for (const [k, v] of expected) {
    if (!actual.has(k)) diffs.push(`missing ${k} (${v})`);
    else if (actual.get(k) !== v) diffs.push(`changed ${k}: ${actual.get(k)} != expected ${v}`);
  }
  for (const [k, v] of actual) if (!expected.has(k)) diffs.push(`unexpected ${k} (${v})`);
  assert.deepEqual(diffs, [], `${what}: the tree differs from what was expected`);
}

// A promise that rejects after ms, for bounding waits.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with predicate()'s first truthy value (the predicate may return
// a promise), checked every `every` ms; rejects after `ms`. It stops either
// way: a failed wait leaves no timer behind to keep node (and the test)
// running until ctest's timeout.
export async function pollUntil(predicate, ms, what, every = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const hit = await predicate();
    if (hit) return hit;
    if (Date.now() >= end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

// Lines with their terminators, the way read_file counts them.
export function splitLines(text) {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
