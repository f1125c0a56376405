// An icotes terminal seen by the editor: created with icotes/terminal/create
// on the workspace's daemon, so the terminal an AI reads and types into
// (terminal_read, terminal_write) is the one the user sees. Output comes as
// icotes/event notifications (terminal/<id>/output, replayed from the start
// with since = 0); keys go to icotes/terminal/write; the size to
// icotes/terminal/resize; closing kills the program (icotes/terminal/kill).
// Independent of VS Code: the Pseudoterminal in extension.ts wraps it.

export interface Rpc {
  request(method: string, params: unknown): Promise<any>;
}

export interface TerminalEvents {
  output(text: string): void;
  exit(code: number | undefined, how: string): void;
}

export class TerminalCore {
  id: string | undefined;
  alive = false;
  private subscription: number | undefined;
  private size: { cols: number; rows: number } | undefined;
  private pending: string | undefined = ''; // typed before the terminal was created
  // One icotes/terminal/write in flight at a time, keys typed while it is
  // sent together after it: one request per burst of typing rather than per
  // key, and the order kept even by a daemon older than the one that runs a
  // terminal's writes in arrival order (keys typed fast came out as "eco h").
  private writing: Promise<unknown> | undefined;
  private queued = '';

  constructor(
    private readonly rpc: Rpc,
    private readonly events: TerminalEvents,
    private readonly register: (id: string, t: TerminalCore) => void,
    private readonly unregister: (id: string) => void,
  ) {}

  // Creating it needs the Bash permission: the question (if any) comes to
  // this editor and is answered while the request waits.
  async open(cols: number, rows: number, opts: { shell?: string; args?: string[]; cwd?: string } = {}): Promise<string> {
    this.size = { cols, rows };
    const r = await this.rpc.request('icotes/terminal/create', { cols, rows, ...opts });
    this.id = String(r.id);
    this.alive = true;
    this.register(this.id, this);
    const typed = this.pending;
    this.pending = undefined;
    if (typed) void this.write(typed);
    const s = await this.rpc.request('icotes/events/subscribe', {
      topics: [`terminal/${this.id}/output`, `terminal/${this.id}/exit`],
      since: 0,
    });
    this.subscription = s.subscription;
    return this.id;
  }

  // An icotes/event notification for this terminal.
  onEvent(what: string, data: any): void {
    if (what === 'output' && typeof data?.data === 'string') {
      this.events.output(data.data);
    } else if (what === 'exit') {
      this.alive = false;
      const how = data?.signal != null ? `signal ${data.signal}` : `code ${data?.exitCode}`;
      this.events.exit(typeof data?.exitCode === 'number' ? data.exitCode : undefined, how);
    }
  }

  // Keys typed while the terminal is being created (its Bash question may be
  // on screen) are sent once it exists.
  write(data: string): Promise<unknown> {
    if (this.pending !== undefined) {
      this.pending += data;
      return Promise.resolve(undefined);
    }
    if (!this.alive || !this.id) return Promise.resolve(undefined);
    this.queued += data;
    if (!this.writing) this.writing = this.flush();
    return this.writing;
  }

  // Sends what was queued, one write at a time, until nothing is left.
  private async flush(): Promise<unknown> {
    let last: unknown;
    try {
      while (this.queued && this.alive && this.id) {
        const data = this.queued;
        this.queued = '';
        last = await this.rpc.request('icotes/terminal/write', { id: this.id, data });
      }
    } finally {
      this.writing = undefined;
    }
    return last;
  }

  resize(cols: number, rows: number): Promise<unknown> {
    if (!this.alive || !this.id || (this.size?.cols === cols && this.size?.rows === rows)) return Promise.resolve(undefined);
    this.size = { cols, rows };
    return this.rpc.request('icotes/terminal/resize', { id: this.id, cols, rows });
  }

  async close(): Promise<void> {
    if (!this.id) return;
    this.unregister(this.id);
    const calls: Promise<unknown>[] = [];
    if (this.alive) calls.push(this.rpc.request('icotes/terminal/kill', { id: this.id }));
    if (this.subscription !== undefined) {
      calls.push(this.rpc.request('icotes/events/unsubscribe', { subscription: this.subscription }));
    }
    this.alive = false;
    await Promise.allSettled(calls);
  }
}

// Routes icotes/event notifications to the terminals of one connection.
export class TerminalRouter {
  private readonly terminals = new Map<string, TerminalCore>();

  create(rpc: Rpc, events: TerminalEvents): TerminalCore {
    return new TerminalCore(
      rpc,
      events,
      (id, t) => this.terminals.set(id, t),
      (id) => this.terminals.delete(id),
    );
  }

  onEvent(params: { topic?: string; data?: unknown }): void {
    const m = /^terminal\/(.+)\/(output|exit)$/.exec(params?.topic ?? '');
    if (!m) return;
    this.terminals.get(m[1])?.onEvent(m[2], params.data);
  }

  // The connection is gone: every terminal says so.
  disconnected(): void {
    for (const t of this.terminals.values()) {
      if (t.alive) {
        t.alive = false;
        t.onEvent('exit', { exitCode: undefined, signal: 'disconnected' });
      }
    }
    this.terminals.clear();
  }
}
