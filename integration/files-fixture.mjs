// A workspace like the ones AI hosts meet (not a test file: ctest runs only
// integration/*.test.mjs): a git repository with a git-ignored node_modules,
// a 12,000-entry folder, three large text files, CRLF, Latin-1 and UTF-16
// files, and small images of each kind read_file shows. Deterministic.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const BIG_DIR_ENTRIES = 12000;

// The smallest valid images of each kind (magic bytes first).
export const IMAGES = {
  // A red 1x1 PNG (zlib-compressed IDAT, CRCs computed).
  'img/dot.png': Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082', 'hex'),
  // The classic 43-byte transparent GIF.
  'img/dot.gif': Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'),
  // A 1x1 baseline JPEG.
  'img/dot.jpg': Buffer.from('/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=', 'base64'),
  // A 1x1 lossless WebP.
  'img/dot.webp': Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64'),
};

// A text of about `bytes` bytes: numbered lines of source-like text.
export function largeText(bytes, seed) {
  const lines = [];
  let size = 0;
  for (let i = 1; size < bytes; ++i) {
    const line = `${seed}:${String(i).padStart(6, '0')} const value_${i % 97} = compute(${i}, "${'x'.repeat(i % 40)}");\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('');
}

export function makeWorkspace(root) {
  const put = (rel, data) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  execFileSync('git', ['init', '-q', root]);
  put('.gitignore', 'node_modules/\n*.log\n/build/\n');
  put('README.md', '# fixture\n');
  // node_modules: 60 packages of 40 files each (git-ignored).
  for (let p = 0; p < 60; ++p) {
    const pkg = `node_modules/pkg-${String(p).padStart(2, '0')}`;
    put(`${pkg}/package.json`, JSON.stringify({ name: `pkg-${p}`, version: '1.0.0' }) + '\n');
    for (let f = 0; f < 20; ++f) put(`${pkg}/lib/module-${f}.js`, `module.exports = ${f};\n`);
    for (let f = 0; f < 19; ++f) put(`${pkg}/dist/bundle-${f}.min.js`, `!function(){return ${f}}();\n`);
  }
  put('debug.log', 'ignored log\n');
  put('build/out.o', 'ignored build output\n');
  // A source tree three levels deep.
  for (let a = 0; a < 8; ++a) {
    for (let b = 0; b < 6; ++b) {
      for (let c = 0; c < 5; ++c) put(`src/mod${a}/part${b}/file${c}.c`, `int f${a}${b}${c}(void) { return ${c}; }\n`);
    }
  }
  // The 12,000-entry folder.
  fs.mkdirSync(path.join(root, 'big'));
  for (let i = 1; i <= BIG_DIR_ENTRIES; ++i)
    fs.writeFileSync(path.join(root, 'big', `file-${String(i).padStart(5, '0')}.txt`), `file ${i}\n`);
  // Three large files (300 KB each).
  for (let i = 1; i <= 3; ++i) put(`large/large${i}.txt`, largeText(300 * 1024, `large${i}`));
  // Encodings and line endings.
  put('text/crlf.txt', 'first line\r\n    indented second\r\nthird line\r\n');
  put('text/latin1.txt', Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e\n', 'latin1'));
  put('text/utf16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hello UTF-16\nsecond line\n', 'utf16le')]));
  for (const [rel, data] of Object.entries(IMAGES)) put(rel, data);
  // An image over the image limit (3.75 MiB).
  put('img/huge.png', Buffer.concat([IMAGES['img/dot.png'].subarray(0, 16), Buffer.alloc(4 * 1024 * 1024, 7)]));
  return root;
}
