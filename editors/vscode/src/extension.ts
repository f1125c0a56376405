// icotes for VS Code: one `icotes serve --stdio --root FOLDER` per workspace
// folder (attached to the folder's shared daemon), restarted after a crash
// with backoff; a status bar item; the icotes commands; permission questions
// as notifications; icotes/editor/context; icotes registered as an MCP server
// for VS Code's own AI features. See README.md.
import { execFile } from 'child_process';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import {
  backoffMs,
  buildEditorContext,
  ConnState,
  contextEnabled,
  debounce,
  grantText,
  initializationOptions,
  logLine,
  mcpServerArgs,
  MODES,
  nextAttempt,
  serverArgs,
  Settings,
  statusText,
} from './logic';
import { answerQuestion } from './questions';
import { TerminalRouter } from './terminal';

let output: vscode.OutputChannel;
const folders = new Map<string, FolderClient>(); // folder URI -> client
let status: vscode.StatusBarItem;
let pendingQuestions = 0;
const docs = new Map<string, string>(); // icotes-info: documents

function settings(): Settings & { editorContext: string; contextDebounceMs: number } {
  const c = vscode.workspace.getConfiguration('icotes');
  return {
    path: c.get<string>('path') || 'icotes',
    args: c.get<string[]>('args') ?? [],
    permissionMode: c.get<string>('permissionMode') ?? '',
    editorContext: c.get<string>('editorContext') ?? 'auto',
    contextDebounceMs: c.get<number>('editorContextDebounceMs') ?? 300,
  };
}

function log(msg: string): void {
  output?.appendLine(`[${new Date().toISOString()}] ${msg}`);
}

// Runs the icotes CLI (`icotes permissions mode …`, `icotes daemon restart`).
function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(settings().path, args, { cwd, timeout: 30000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolve({ code, stdout: String(stdout).trim(), stderr: String(stderr).trim() || (err && !stdout ? String(err.message) : '') });
    });
  });
}

class FolderClient {
  client: LanguageClient | undefined;
  state: ConnState = 'stopped';
  clients = 1;
  mode: string | undefined;
  readonly terminals = new TerminalRouter();
  private attempt = -1; // the last restart attempt (logic.nextAttempt)
  private startedAt = 0;
  private stopping = false;
  private retry: NodeJS.Timeout | undefined;
  retryInMs: number | undefined;

  constructor(readonly folder: vscode.WorkspaceFolder) {}

  get root(): string {
    return this.folder.uri.fsPath;
  }

  async start(): Promise<void> {
    this.stopping = false;
    const s = settings();
    let init;
    try {
      init = initializationOptions(s.permissionMode);
    } catch (e) {
      void vscode.window.showErrorMessage(String((e as Error).message));
    }
    const serverOptions: ServerOptions = {
      command: s.path,
      args: serverArgs(s, this.root),
      options: { cwd: this.root },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', pattern: `${this.root.replace(/[[\]{}*?]/g, '[$&]')}/**/*` }],
      workspaceFolder: this.folder,
      outputChannel: output,
      initializationOptions: init,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        // Restarts are ours (with backoff, handlers installed again).
        closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
      },
    };
    const client = new LanguageClient('icotes', `icotes (${this.folder.name})`, serverOptions, clientOptions);
    this.client = client;
    this.state = 'starting';
    updateStatus();
    // Once per client: a failed start reports both a rejection and a state change.
    let handled = false;
    const stopped = () => {
      if (handled || this.client !== client) return;
      handled = true;
      this.onStopped();
    };
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped) stopped();
    });
    this.startedAt = Date.now();
    log(`starting ${s.path} ${serverArgs(s, this.root).join(' ')}`);
    try {
      await client.start();
    } catch (e) {
      log(`start failed for ${this.root}: ${e instanceof Error ? e.message : String(e)}`);
      stopped();
      return;
    }
    // After start: these replace the client's own handlers.
    client.onRequest('window/showMessageRequest', (params: any, token) => {
      pendingQuestions++;
      updateStatus();
      return answerQuestion(params, questionUi, token).finally(() => {
        pendingQuestions--;
        updateStatus();
      });
    });
    client.onNotification('icotes/event', (params: any) => this.terminals.onEvent(params));
    this.state = 'connected';
    this.retryInMs = undefined;
    await this.refresh();
    scheduleContext();
  }

  private onStopped(): void {
    this.terminals.disconnected();
    if (this.stopping) {
      this.state = 'stopped';
      updateStatus();
      return;
    }
    const next = nextAttempt(this.attempt, Date.now() - this.startedAt);
    if (next === undefined) {
      this.state = 'failed';
      log(`icotes for ${this.root} keeps exiting; not restarting (icotes: Restart Daemon tries again)`);
      void vscode.window.showErrorMessage(`icotes for ${this.folder.name} keeps exiting; see the icotes output.`, 'Show Output').then((c) => {
        if (c) output.show();
      });
      updateStatus();
      return;
    }
    this.attempt = next;
    const delay = backoffMs(next);
    this.state = 'restarting';
    this.retryInMs = delay;
    log(`icotes for ${this.root} stopped; restarting in ${delay} ms (attempt ${next})`);
    updateStatus();
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    const c = this.client;
    if (c && c.state !== State.Stopped) {
      try {
        await c.stop(5000);
      } catch (e) {
        log(`stop: ${(e as Error).message}`);
      }
    }
    this.state = 'stopped';
    updateStatus();
  }

  async restart(): Promise<void> {
    await this.stop();
    this.attempt = -1;
    await this.start();
  }

  request<T = any>(method: string, params: unknown = {}): Promise<T> {
    if (!this.client || this.state !== 'connected') {
      return Promise.reject(new Error(`icotes is not connected for ${this.folder.name}`));
    }
    return this.client.sendRequest(method, params) as Promise<T>;
  }

  // The workspace's mode (icotes/permissions/list reads the permission files
  // as they are now) and, with clients, the daemon's clients
  // (icotes/workspace/info: a read the gate records in the audit log, so not
  // on every periodic refresh), for the status bar.
  async refresh(clients = true): Promise<void> {
    try {
      if (clients) {
        const info = await this.request('icotes/workspace/info', {});
        this.clients = Array.isArray(info?.clients) ? info.clients.length : 1;
      }
      const perms = await this.request('icotes/permissions/list', {});
      this.mode = perms?.mode;
    } catch (e) {
      log(`status: ${(e as Error).message}`);
    }
    updateStatus();
  }

  contextOn(): boolean {
    return this.state === 'connected' && contextEnabled(settings().editorContext, this.client?.initializeResult?.capabilities);
  }
}

const questionUi = {
  notify: (text: string, buttons: string[]) => vscode.window.showWarningMessage(text, ...buttons),
  pick: (titles: string[], placeHolder: string) => vscode.window.showQuickPick(titles, { placeHolder, ignoreFocusOut: true }),
};

function folderOf(uri?: vscode.Uri): FolderClient | undefined {
  const f = uri && vscode.workspace.getWorkspaceFolder(uri);
  if (f) return folders.get(f.uri.toString());
  return undefined;
}

// The folder of the active editor, else the only one, else ask.
async function pickFolder(): Promise<FolderClient | undefined> {
  const active = folderOf(vscode.window.activeTextEditor?.document.uri);
  if (active) return active;
  const all = [...folders.values()];
  if (all.length <= 1) {
    if (!all.length) void vscode.window.showErrorMessage('icotes: open a folder first');
    return all[0];
  }
  const p = await vscode.window.showQuickPick(
    all.map((f) => ({ label: f.folder.name, description: f.root, f })),
    { placeHolder: 'Which workspace folder?' },
  );
  return p?.f;
}

function updateStatus(): void {
  if (!status) return;
  const f = folderOf(vscode.window.activeTextEditor?.document.uri) ?? [...folders.values()][0];
  if (!f) {
    status.hide();
    return;
  }
  const own = settings().permissionMode || undefined;
  const t = statusText({
    state: f.state,
    folders: folders.size,
    clients: f.clients,
    mode: f.mode,
    ownMode: own,
    questions: pendingQuestions,
    retryInMs: f.retryInMs,
  });
  status.text = t.text;
  status.tooltip = t.tooltip;
  status.show();
}

// Read-only documents (permissions, the event log).
async function showInfo(name: string, text: string): Promise<void> {
  const uri = vscode.Uri.from({ scheme: 'icotes-info', path: `/${name}`, query: String(Date.now()) });
  docs.set(uri.toString(), text);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: true });
}

async function cmdPermissionMode(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  const mode = await vscode.window.showQuickPick(
    MODES.map((m) => ({
      label: m,
      description: m === f.mode ? '(current)' : '',
      detail:
        m === 'default'
          ? 'ask before edits and commands'
          : m === 'acceptEdits'
            ? 'edits in the workspace allowed, commands asked'
            : 'reads only: every change denied',
    })),
    { placeHolder: `icotes permission mode for ${f.folder.name} (every client of the workspace without a mode of its own)` },
  );
  if (!mode) return;
  const r = await cli(['permissions', 'mode', mode.label, '--root', f.root], f.root);
  if (r.code === 0) void vscode.window.showInformationMessage(`icotes: ${r.stdout || `mode ${mode.label}`}`);
  else void vscode.window.showErrorMessage(`icotes permissions mode ${mode.label} failed: ${r.stderr}${r.stdout}`);
  await f.refresh();
}

function listPermissions(f: FolderClient): Promise<any> {
  return f.request('icotes/permissions/list', {});
}

async function cmdShowPermissions(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  try {
    const r = await listPermissions(f);
    const lines = [`icotes permissions for ${f.root}`, `mode: ${r.mode}`];
    for (const rule of r.rules?.allow ?? []) lines.push(`rule allow ${rule}`);
    for (const rule of r.rules?.deny ?? []) lines.push(`rule deny ${rule}`);
    for (const g of r.grants ?? []) lines.push(`grant ${grantText(g)}`);
    if (!(r.grants ?? []).length) lines.push('no remembered answers');
    await showInfo('permissions.txt', lines.join('\n') + '\n');
  } catch (e) {
    void vscode.window.showErrorMessage(`icotes/permissions/list: ${(e as Error).message}`);
  }
}

async function cmdRevoke(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  let r: any;
  try {
    r = await listPermissions(f);
  } catch (e) {
    void vscode.window.showErrorMessage(`icotes/permissions/list: ${(e as Error).message}`);
    return;
  }
  const items: (vscode.QuickPickItem & { grant?: any; rule?: string })[] = [];
  for (const g of r.grants ?? []) items.push({ label: grantText(g), description: 'remembered answer', grant: g });
  for (const kind of ['allow', 'deny']) {
    for (const rule of r.rules?.[kind] ?? []) items.push({ label: `${kind} ${rule}`, description: 'rule', rule });
  }
  if (!items.length) {
    void vscode.window.showInformationMessage('icotes: nothing to revoke');
    return;
  }
  const item = await vscode.window.showQuickPick(items, { placeHolder: 'Revoke which icotes permission?' });
  if (!item) return;
  if (item.grant) {
    const g = item.grant;
    try {
      const rr = await f.request('icotes/permissions/revoke', { kind: g.kind, scope: g.scope, value: g.value, answer: g.answer });
      if (rr?.revoked) void vscode.window.showInformationMessage(`icotes: revoked ${item.label}`);
      else void vscode.window.showErrorMessage(`icotes: not revoked: ${item.label} (not found)`);
    } catch (e) {
      void vscode.window.showErrorMessage(`icotes: not revoked: ${(e as Error).message}`);
    }
  } else if (item.rule) {
    // Rules are removed by their text; rules written by hand in
    // .icotes/config.toml are removed there.
    const c = await cli(['permissions', 'revoke', item.rule, '--root', f.root], f.root);
    if (c.code === 0) void vscode.window.showInformationMessage(`icotes: ${c.stdout}`);
    else void vscode.window.showErrorMessage(`icotes: ${c.stderr}${c.stdout}`);
  }
  await f.refresh();
}

async function cmdEventLog(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  try {
    const r = await f.request('icotes/permissions/log', { limit: 2000 });
    const lines = [
      `icotes permission log for ${f.root}`,
      '(newest first: time, client, operation, kind, target, answer, decided by; calls needing no permission left out)',
    ];
    const recs = (r?.records ?? []).filter((x: any) => x.kind !== 'None').slice(0, 500);
    for (const rec of recs) lines.push(logLine(rec));
    if (!recs.length) lines.push('(no decisions yet)');
    await showInfo('event-log.txt', lines.join('\n') + '\n');
  } catch (e) {
    void vscode.window.showErrorMessage(`icotes/permissions/log: ${(e as Error).message}`);
  }
}

async function cmdRestartDaemon(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  await f.stop();
  const r = await cli(['daemon', 'restart', '--root', f.root], f.root);
  log(`icotes daemon restart: ${r.code} ${r.stdout} ${r.stderr}`);
  await f.restart();
  if (r.code === 0) void vscode.window.showInformationMessage(`icotes: daemon restarted for ${f.folder.name}`);
  else void vscode.window.showWarningMessage(`icotes daemon restart: ${r.stderr}${r.stdout} (the client was started again)`);
}

async function cmdOpenTerminal(): Promise<void> {
  const f = await pickFolder();
  if (!f) return;
  const write = new vscode.EventEmitter<string>();
  const close = new vscode.EventEmitter<number | void>();
  const core = f.terminals.create(
    { request: (m, p) => f.request(m, p) },
    {
      output: (text) => write.fire(text),
      exit: (_code, how) => write.fire(`\r\n[icotes terminal exited, ${how}]\r\n`),
    },
  );
  const pty: vscode.Pseudoterminal = {
    onDidWrite: write.event,
    onDidClose: close.event,
    open: (dims) => {
      core.open(dims?.columns ?? 80, dims?.rows ?? 24).then(
        (id) => log(`terminal ${id} opened for ${f.root}`),
        (e) => write.fire(`[icotes terminal not started: ${(e as Error).message}]\r\n`),
      );
    },
    close: () => void core.close(),
    handleInput: (data) => void core.write(data),
    setDimensions: (d) => void core.resize(d.columns, d.rows),
  };
  const term = vscode.window.createTerminal({ name: `icotes: ${f.folder.name}`, pty });
  term.show();
}

async function cmdMenu(): Promise<void> {
  const items = [
    ['icotes.permissionMode', 'Permission Mode…'],
    ['icotes.showPermissions', 'Show Permissions'],
    ['icotes.revoke', 'Revoke…'],
    ['icotes.openTerminal', 'Open Terminal'],
    ['icotes.showEventLog', 'Show Event Log'],
    ['icotes.restartDaemon', 'Restart Daemon'],
    ['icotes.showOutput', 'Show Output'],
  ].map(([command, label]) => ({ label: `icotes: ${label}`, command }));
  const f = folderOf(vscode.window.activeTextEditor?.document.uri) ?? [...folders.values()][0];
  const p = await vscode.window.showQuickPick(items, { placeHolder: f ? String(status.tooltip ?? '').split('\n')[0] : 'icotes' });
  if (p) await vscode.commands.executeCommand(p.command);
}

// icotes/editor/context, debounced, to the client of the active editor's folder.
function contextSnapshot(f: FolderClient) {
  const ed = vscode.window.activeTextEditor;
  const roots = [f.folder.uri.toString()];
  const p = (x: vscode.Position) => ({ line: x.line, character: x.character });
  const r = (x: vscode.Range) => ({ start: p(x.start), end: p(x.end) });
  const tabs: string[] = [];
  const groups = (vscode.window as any).tabGroups?.all ?? [];
  for (const g of groups) {
    for (const t of g.tabs ?? []) {
      const u = t.input?.uri;
      if (u instanceof vscode.Uri && u.scheme === 'file') tabs.push(u.toString());
    }
  }
  if (!groups.length) for (const d of vscode.workspace.textDocuments) if (d.uri.scheme === 'file') tabs.push(d.uri.toString());
  const diagnostics = [];
  for (const [uri, ds] of vscode.languages.getDiagnostics()) {
    if (uri.scheme !== 'file') continue;
    for (const d of ds) {
      diagnostics.push({
        uri: uri.toString(),
        range: r(d.range),
        severity: d.severity + 1,
        message: d.message,
        ...(d.source ? { source: d.source } : {}),
        ...(d.code !== undefined ? { code: typeof d.code === 'object' ? String(d.code.value) : d.code } : {}),
      });
    }
  }
  return buildEditorContext({
    activeUri: ed && ed.document.uri.scheme === 'file' ? ed.document.uri.toString() : undefined,
    languageId: ed?.document.languageId,
    selections: ed ? ed.selections.map((s) => ({ ...r(s), text: ed.document.getText(s) })) : [],
    visibleRanges: vscode.window.visibleTextEditors
      .filter((e) => e.document.uri.scheme === 'file')
      .flatMap((e) => e.visibleRanges.map((v) => ({ uri: e.document.uri.toString(), range: r(v) }))),
    openTabs: tabs,
    diagnostics,
    roots,
  });
}

let sendContext: ReturnType<typeof debounce<[]>> | undefined;
function scheduleContext(): void {
  sendContext?.();
}
function makeContextSender() {
  return debounce(() => {
    const f = folderOf(vscode.window.activeTextEditor?.document.uri);
    if (!f || !f.contextOn() || !f.client) return;
    try {
      void f.client.sendNotification('icotes/editor/context', contextSnapshot(f));
    } catch (e) {
      log(`editor context: ${(e as Error).message}`);
    }
  }, settings().contextDebounceMs);
}

function addFolder(folder: vscode.WorkspaceFolder): void {
  if (folder.uri.scheme !== 'file' || folders.has(folder.uri.toString())) return;
  const f = new FolderClient(folder);
  folders.set(folder.uri.toString(), f);
  void f.start();
}

async function removeFolder(folder: vscode.WorkspaceFolder): Promise<void> {
  const f = folders.get(folder.uri.toString());
  folders.delete(folder.uri.toString());
  await f?.stop();
  updateStatus();
}

// icotes as an MCP server for VS Code's own AI features (VS Code 1.101+):
// `icotes serve --root FOLDER` per folder, the same daemon as the editor.
function registerMcp(context: vscode.ExtensionContext): void {
  const lm = (vscode as any).lm;
  const Def = (vscode as any).McpStdioServerDefinition;
  if (!lm?.registerMcpServerDefinitionProvider || !Def) {
    log('MCP server definitions need VS Code 1.101 or later; not registered');
    return;
  }
  const changed = new vscode.EventEmitter<void>();
  context.subscriptions.push(
    changed,
    vscode.workspace.onDidChangeWorkspaceFolders(() => changed.fire()),
    lm.registerMcpServerDefinitionProvider('icotes.mcp', {
      onDidChangeMcpServerDefinitions: changed.event,
      provideMcpServerDefinitions: () =>
        (vscode.workspace.workspaceFolders ?? [])
          .filter((f) => f.uri.scheme === 'file')
          .map((f) => new Def(`icotes (${f.name})`, settings().path, mcpServerArgs(f.uri.fsPath), {})),
    }),
  );
  log('MCP server definitions registered (icotes.mcp): one per workspace folder');
}

// The output channel, also appended to a file when ICOTES_VSCODE_LOG names
// one (for tests and bug reports).
function teeToFile(channel: vscode.OutputChannel, file: string | undefined): vscode.OutputChannel {
  if (!file) return channel;
  const fs = require('fs') as typeof import('fs');
  const put = (text: string) => {
    try {
      fs.appendFileSync(file, text);
    } catch {
      // best effort
    }
  };
  return new Proxy(channel, {
    get(target, key, receiver) {
      if (key === 'append') return (v: string) => (put(v), target.append(v));
      if (key === 'appendLine') return (v: string) => (put(`${v}\n`), target.appendLine(v));
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function activate(context: vscode.ExtensionContext): void {
  output = teeToFile(vscode.window.createOutputChannel('icotes'), process.env.ICOTES_VSCODE_LOG);
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  status.command = 'icotes.menu';
  sendContext = makeContextSender();
  const reg = (id: string, fn: () => unknown) => vscode.commands.registerCommand(id, fn);
  context.subscriptions.push(
    output,
    status,
    vscode.workspace.registerTextDocumentContentProvider('icotes-info', {
      provideTextDocumentContent: (uri) => docs.get(uri.toString()) ?? '',
    }),
    reg('icotes.menu', cmdMenu),
    reg('icotes.permissionMode', cmdPermissionMode),
    reg('icotes.showPermissions', cmdShowPermissions),
    reg('icotes.revoke', cmdRevoke),
    reg('icotes.openTerminal', cmdOpenTerminal),
    reg('icotes.showEventLog', cmdEventLog),
    reg('icotes.restartDaemon', cmdRestartDaemon),
    reg('icotes.showOutput', () => output.show()),
    vscode.workspace.onDidChangeWorkspaceFolders((e) => {
      e.added.forEach(addFolder);
      e.removed.forEach((f) => void removeFolder(f));
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('icotes.editorContextDebounceMs')) {
        sendContext?.cancel();
        sendContext = makeContextSender();
      }
      if (e.affectsConfiguration('icotes.path') || e.affectsConfiguration('icotes.args') || e.affectsConfiguration('icotes.permissionMode')) {
        void vscode.window
          .showInformationMessage('icotes: the new settings apply when the server restarts.', 'Restart now')
          .then((c) => {
            if (c) for (const f of folders.values()) void f.restart();
          });
      }
      updateStatus();
    }),
    vscode.window.onDidChangeActiveTextEditor(() => {
      updateStatus();
      scheduleContext();
    }),
    vscode.window.onDidChangeTextEditorSelection(() => scheduleContext()),
    vscode.window.onDidChangeTextEditorVisibleRanges(() => scheduleContext()),
    vscode.languages.onDidChangeDiagnostics(() => scheduleContext()),
    { dispose: () => sendContext?.cancel() },
  );
  const tabs = (vscode.window as any).tabGroups;
  if (tabs?.onDidChangeTabs) context.subscriptions.push(tabs.onDidChangeTabs(() => scheduleContext()));
  // The mode and the clients change from elsewhere (the CLI, other
  // clients): refreshed every 10 s while this window has focus, and on focus.
  // (the mode every 10 s; the clients too on focus).
  const refreshAll = (clients: boolean) => {
    for (const f of folders.values()) if (f.state === 'connected') void f.refresh(clients);
  };
  const timer = setInterval(() => {
    if (vscode.window.state.focused) refreshAll(false);
  }, 10000);
  context.subscriptions.push(
    { dispose: () => clearInterval(timer) },
    vscode.window.onDidChangeWindowState((w) => {
      if (w.focused) refreshAll(true);
    }),
  );
  registerMcp(context);
  for (const f of vscode.workspace.workspaceFolders ?? []) addFolder(f);
  updateStatus();
}

export async function deactivate(): Promise<void> {
  await Promise.allSettled([...folders.values()].map((f) => f.stop()));
  folders.clear();
}
