// bench/jsonl_server.mjs: a stdio server spoken to in newline-delimited
// JSON-RPC 2.0, with no SDK (its own cost stays small next to the server's).
// Used by bench/exec_bench.mjs and bench/terminal_bench.mjs.
import { spawn } from 'node:child_process';

export class JsonLineServer {
  /// name: for error messages; cmd/args/options: as child_process.spawn.
  constructor(name, cmd, args, options) {
    this.name = name;
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.pending = new Map();
    this.nextId = 1;
    this.onNotification = () => {};  // server-sent messages that are not answers
    this.stderr = '';
    this.child.stderr.on('data', (d) => { this.stderr += d; });
    let buf = '';
    this.child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }  // a server's stray log line
        if (msg.id !== undefined && this.pending.has(msg.id)) {
          this.pending.get(msg.id)(msg);
          this.pending.delete(msg.id);
        } else if (msg.method) {
          this.onNotification(msg);
        }
      }
    });
  }

  /// The whole answer (result or error); rejects after timeoutMs (milliseconds).
  request(method, params, timeoutMs = 60000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: ${method}: no answer in ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`)),
        timeoutMs);
      this.pending.set(id, (m) => { clearTimeout(timer); resolve(m); });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  /// The result; an error answer throws.
  async ok(method, params, timeoutMs) {
    const m = await this.request(method, params, timeoutMs);
    if (m.error) throw new Error(`${this.name}: ${method}: ${JSON.stringify(m.error)}`);
    return m.result;
  }

  notify(method, params) { this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`); }

  /// Ends stdin and waits for the exit (SIGKILL after 5 s).
  async stop() {
    this.child.stdin.end();
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  close() { this.child.kill('SIGKILL'); }
}
