// The sandbox against attacks, on the real binary over JSON-RPC (LSP framing):
//  - a client's LD_PRELOAD (a .so any sandboxed command can write into the
//    workspace) must not run code on the host: not in bwrap, not in an
//    unsandboxed command, not in a terminal; refused with -32602 naming it,
//    while `echo` alone is allowed (`--allow 'Bash(echo:*)'`);
//  - .git cannot be swapped for one with a core.fsmonitor, and no
//    repository can be made where there is none;
//  - a fork bomb is stopped by the kernel, as root (a pids cgroup) and as an
//    unprivileged user (RLIMIT_NPROC in the sandbox's user namespace, the
//    server run as uid 65534 through setpriv): its forks fail with EAGAIN,
//    the tasks under the server never pass the limit (sampled every few ms),
//    the run ends with processLimit.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node.js';
import { removeDir, requireBinary, tempDir, withTimeout } from './helpers.mjs';

const T = 60000;  // bound for every request
const dirs = [];
after(() => { for (const d of dirs) removeDir(d); });

// A temp dir holding the workspace `ws/` and, beside it (outside the
// workspace), `markers/` and the server's state.
function box(execToml) {
  const top = tempDir('exec-sandbox');
  dirs.push(top);
  const root = path.join(top, 'ws');
  for (const d of [root, path.join(top, 'markers'), path.join(top, 'state')]) fs.mkdirSync(d);
  if (execToml) {
    fs.mkdirSync(path.join(root, '.icotes'));
    fs.writeFileSync(path.join(root, '.icotes/config.toml'), `[exec]\n${execToml}`);
  }
  return { top, root, markers: path.join(top, 'markers') };
}

// `icotes serve` with an LSP-framed client; `wrap` runs it through another
// program (setpriv), which execs it (same pid).
async function start(b, args, { wrap = [], env = {} } = {}) {
  const argv = [...wrap, requireBinary(), 'serve', '--standalone', '--root', b.root, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, XDG_STATE_HOME: path.join(b.top, 'state'), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  await withTimeout(conn.sendRequest('initialize', {
    processId: process.pid, rootUri: null, capabilities: {}, clientInfo: { name: 'exec-sandbox-test' },
  }), T, 'initialize');
  conn.sendNotification('initialized', {});
  return {
    pid: child.pid,
    stderr: () => stderr,
    request: (method, params) => withTimeout(conn.sendRequest(method, params), T, method),
    async stop() {
      await withTimeout(conn.sendRequest('shutdown'), T, 'shutdown');
      conn.sendNotification('exit');
      await withTimeout(exited, T, 'exit');
      conn.dispose();
    },
  };
}

// A shared object whose constructor creates <markers>/loaded-<pid>.
function markerLibrary(b) {
  const src = path.join(b.top, 'e.c');
  fs.writeFileSync(src, `#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
  char p[4096]; snprintf(p, sizeof p, "${b.markers}/loaded-%d", (int)getpid());
  int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644); if (fd >= 0) close(fd);
}
`);
  const so = path.join(b.root, 'e.so');  // where a sandboxed command could have written it
  execFileSync('cc', ['-shared', '-fPIC', '-o', so, src]);
  return so;
}

const hasProgram = (name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

describe('environment', { timeout: 120000 }, () => {
  test('a client LD_PRELOAD runs nothing on the host: refused, naming the variable', async (t) => {
    if (!hasProgram('cc')) return t.skip('no C compiler to build the library');
    for (const execToml of [undefined, 'sandbox = false\n']) {
      const b = box(execToml);
      const so = markerLibrary(b);
      const server = await start(b, ['--allow', 'Bash(echo:*)']);
      try {
        for (const name of ['LD_PRELOAD', 'LD_AUDIT', 'LD_LIBRARY_PATH', 'GCONV_PATH', 'MALLOC_TRACE']) {
          await assert.rejects(server.request('icotes/exec/run', { command: 'echo hi', env: { [name]: so } }), (e) => {
            assert.equal(e.code, -32602, `${name}: ${e.message}`);
            assert.match(e.message, new RegExp(`${name} is refused`));
            return true;
          });
          await assert.rejects(server.request('icotes/exec/run',
            { command: 'echo hi', env: { [name]: so }, background: true }), (e) => e.code === -32602);
        }
        assert.deepEqual(fs.readdirSync(b.markers), [], 'a process loaded the library');
        // The command alone runs.
        const r = await server.request('icotes/exec/run', { command: 'echo hi' });
        assert.equal(r.stdout, 'hi\n');
        assert.equal(r.sandboxed, execToml === undefined);
      } finally {
        await server.stop();
      }
    }
  });

  test('terminals refuse loader variables too', async (t) => {
    if (!hasProgram('cc')) return t.skip('no C compiler to build the library');
    const b = box();
    const so = markerLibrary(b);
    const server = await start(b, ['--allow', 'Bash']);
    try {
      await assert.rejects(server.request('icotes/terminal/create',
        { shell: '/bin/sh', args: ['-c', 'true'], env: { LD_PRELOAD: so } }), (e) => {
        assert.equal(e.code, -32602, e.message);
        assert.match(e.message, /LD_PRELOAD is refused/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(b.markers), []);
    } finally {
      await server.stop();
    }
  });
});

describe('protected paths', { timeout: 120000 }, () => {
  test('.git cannot be swapped for one with core.fsmonitor; none can be made where there is none', async () => {
    const b = box();
    const server = await start(b, ['--allow', 'Bash']);
    try {
      // No repository: `git init` fails, nothing is left.
      let r = await server.request('icotes/exec/run',
        { command: "git init -q . && git config core.fsmonitor 'touch pwned'" });
      assert.notEqual(r.exitCode, 0, r.stdout + r.stderr);
      assert.equal(fs.existsSync(path.join(b.root, '.git')), false, 'the placeholder is gone after the run');
      // A repository: .git cannot be renamed away and replaced.
      execFileSync('git', ['init', '-q', b.root]);
      const config = fs.readFileSync(path.join(b.root, '.git/config'), 'utf8');
      r = await server.request('icotes/exec/run', {
        command: "mv .git .git-real && mkdir .git && printf '[core]\\n\\tfsmonitor = touch pwned\\n' > .git/config",
      });
      assert.notEqual(r.exitCode, 0, r.stdout + r.stderr);
      assert.equal(fs.readFileSync(path.join(b.root, '.git/config'), 'utf8'), config);
      assert.equal(fs.existsSync(path.join(b.root, '.git-real')), false);
      r = await server.request('icotes/exec/run', { command: "git config core.fsmonitor 'touch pwned'" });
      assert.notEqual(r.exitCode, 0);
      assert.equal(fs.readFileSync(path.join(b.root, '.git/config'), 'utf8'), config);
      // The user's git finds nothing to run.
      execFileSync('git', ['-C', b.root, 'status', '--porcelain']);
      assert.equal(fs.existsSync(path.join(b.root, 'pwned')), false);
    } finally {
      await server.stop();
    }
  });
});

// --- the kernel's process limit ---------------------------------------------------

const LIMIT = 32;

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// Tasks (processes and threads) below `pid`, walked through /proc while it changes.
function tasksBelow(pid) {
  const queue = [];
  const visit = (p) => {
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return 0;
    }
    for (const tid of tids) {
      for (const c of readText(`/proc/${p}/task/${tid}/children`).split(' ')) if (c.trim()) queue.push(c.trim());
    }
    return tids.length;
  };
  visit(pid);
  let n = 0;
  for (let i = 0; i < queue.length && i < 100000; ++i) n += visit(queue[i]);
  return n;
}

// Every task on the machine (the 4th field of /proc/loadavg: running/total).
const hostTasks = () => Number(readText('/proc/loadavg').split(' ')[3].split('/')[1]);

// Tasks whose real uid is `uid`, on the whole machine.
function tasksOfUid(uid) {
  let n = 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const status = readText(`/proc/${p}/status`);
    const m = /^Uid:\s+(\d+)/m.exec(status);
    const threads = /^Threads:\s+(\d+)/m.exec(status);
    if (m && Number(m[1]) === uid) n += threads ? Number(threads[1]) : 1;
  }
  return n;
}

// The classic bomb, whose processes each exit once they started the next
// two, and a loop that keeps what it started (a build gone wild). The
// bomb's shell stays (sleep, not wait): when it exits, the sandbox's pid 1
// ends and takes the bomb with it, on a loaded machine before the limit.
const BOMBS = ['f() { f | f & }; f; sleep 15', 'while :; do sleep 100 & done'];

// Runs `code` through `server`, sampling until the answer comes.
async function forkBomb(server, code, { uid } = {}) {
  const samples = { tree: 0, host: 0, uid: 0 };
  const baseline = hostTasks();
  let done = false;
  const sampling = (async () => {
    while (!done) {
      samples.tree = Math.max(samples.tree, tasksBelow(server.pid));
      samples.host = Math.max(samples.host, hostTasks() - baseline);
      if (uid !== undefined) samples.uid = Math.max(samples.uid, tasksOfUid(uid));
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    const r = await server.request('icotes/exec/runCode', { language: 'bash', code, timeoutMs: 30000 });
    return { r, samples };
  } finally {
    done = true;
    await sampling;
  }
}

// `exact`: the kernel says when it refused a fork (a pids cgroup counts
// them): a run that goes on is ended as processLimit, one that ends on its
// own first says so in its note. RLIMIT_NPROC leaves no count: the
// watchdog sees the limit reached when it lasts (the loop), the classic
// bomb may end on its own first.
function assertStopped({ r, samples }, who, code, exact) {
  const what = `${who}, ${code}: ${r.status}, ${r.note}\n${r.stderr.slice(0, 1000)}`;
  assert.match(r.stderr, /Resource temporarily unavailable/, `no EAGAIN seen inside: ${what}`);
  // Below the server: bwrap, its pid 1 and the limit, a few counted twice
  // by a walk of a changing tree (the server's own threads are not below it).
  assert.ok(samples.tree <= LIMIT + 2 + 8, `${samples.tree} tasks below the server: ${what}`);
  // The machine: the same, and what the other programs of a shared machine
  // did meanwhile.
  assert.ok(samples.host <= LIMIT + 2 + 150, `${samples.host} more tasks on the machine: ${what}`);
  if (code.startsWith('while')) assert.equal(r.status, 'processLimit', what);
  else if (exact && r.status !== 'processLimit') assert.match(r.note, /the kernel refused \d+ forks? past the limit/, what);
  else assert.ok(['processLimit', 'exited'].includes(r.status), what);
  if (r.status === 'processLimit') {
    assert.match(r.note, new RegExp(`reached ${LIMIT} processes and threads`), what);
    assert.match(r.note, /the kernel refused more/, what);
  }
}

describe('fork bomb', { timeout: 180000 }, () => {
  test('as root: a pids cgroup stops it', async (t) => {
    if (process.getuid() !== 0) return t.skip('not root here (the unprivileged case runs below)');
    const b = box(`max_processes = ${LIMIT}\n`);
    const server = await start(b, ['--allow', 'Bash']);
    try {
      for (const code of BOMBS) {
        const result = await forkBomb(server, code);
        if (/without a writable pids cgroup/.test(server.stderr()))
          return t.skip('root without a writable pids cgroup here: no kernel limit (the log says so)');
        assertStopped(result, 'root', code, true);
      }
    } finally {
      await server.stop();
    }
  });

  test('as an unprivileged user: RLIMIT_NPROC in the sandbox user namespace stops it', async (t) => {
    const uid = process.getuid() === 0 ? 65534 : process.getuid();
    let wrap = [];
    if (process.getuid() === 0) {
      if (!hasProgram('setpriv')) return t.skip('setpriv (util-linux) is missing: cannot run the server as uid 65534');
      wrap = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
    }
    const b = box(`max_processes = ${LIMIT}\n`);
    if (process.getuid() === 0) {
      fs.chmodSync(b.top, 0o755);
      execFileSync('chown', ['-R', `${uid}:${uid}`, b.root, path.join(b.top, 'state')]);
    }
    // A PATH the unprivileged user can use (not root's shims).
    const server = await start(b, ['--allow', 'Bash'],
      { wrap, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/' } });
    try {
      const probe = await server.request('icotes/exec/run', { command: 'id -u' }).catch((e) => e);
      if (probe instanceof Error) {
        assert.match(probe.message, /sandbox/, probe.message);
        return t.skip(`bwrap does not work for uid ${uid} here: ${probe.message}`);
      }
      assert.equal(probe.stdout.trim(), String(uid));
      for (const code of BOMBS) {
        const before = tasksOfUid(uid);
        const result = await forkBomb(server, code, { uid });
        assertStopped(result, `uid ${uid}`, code, false);
        // The user's tasks: the server's (a worker or two more while it
        // waits), bwrap, its pid 1 and the limit.
        assert.ok(result.samples.uid - before <= LIMIT + 2 + 8,
          `${result.samples.uid - before} more tasks of uid ${uid}`);
      }
    } finally {
      await server.stop();
    }
  });
});
