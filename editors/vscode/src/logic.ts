// The extension's decisions that need no VS Code: how the server is started,
// how long to wait before a restart, what the status bar says, how a
// permission question reads as a notification, and the icotes/editor/context
// payload. Unit-tested in node (test/logic.test.mjs).

export const MODES = ['default', 'acceptEdits', 'readOnly'] as const;
export type Mode = (typeof MODES)[number];

export interface Settings {
  path: string; // icotes.path: the binary (default "icotes", found on PATH)
  args: string[]; // icotes.args: extra arguments after `serve --stdio`
  permissionMode: string; // icotes.permissionMode: "" (the workspace's) or a Mode
}

// `icotes serve --stdio ARGS --root FOLDER`: attaches to the folder's shared
// daemon (starting it), like every other client of the workspace. A --root
// in icotes.args is dropped: the folder decides.
export function serverArgs(settings: Pick<Settings, 'args'>, folder: string): string[] {
  const extra: string[] = [];
  const args = settings.args ?? [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--root') {
      i++;
      continue;
    }
    if (args[i].startsWith('--root=') || args[i] === '--stdio' || (i === 0 && args[i] === 'serve')) continue;
    extra.push(args[i]);
  }
  return ['serve', '--stdio', ...extra, '--root', folder];
}

// The MCP server VS Code's own AI features launch: the same daemon, MCP on
// stdio (no --stdio: that flag serves LSP).
export function mcpServerArgs(folder: string): string[] {
  return ['serve', '--root', folder];
}

// initializationOptions: this editor's own permission mode (the server
// refuses "bypass": only its command line sets that).
export function initializationOptions(permissionMode: string): { permissions: { mode: Mode } } | undefined {
  if (!permissionMode) return undefined;
  if (!(MODES as readonly string[]).includes(permissionMode)) {
    throw new Error(`icotes.permissionMode must be one of ${MODES.join(', ')} or empty, not "${permissionMode}"`);
  }
  return { permissions: { mode: permissionMode as Mode } };
}

// Restart delays after a crash: 0.5 s, 1 s, 2 s, ... capped at 30 s; a
// server that ran for a minute counts as healthy again (attempt 0).
export const BACKOFF = { baseMs: 500, maxMs: 30000, healthyAfterMs: 60000, maxAttempts: 8 };

export function backoffMs(attempt: number, b = BACKOFF): number {
  if (attempt < 0) attempt = 0;
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
}

// The restart attempt after a crash of a server that ran for uptimeMs
// (previous: the last attempt, -1 before the first): 0 for the first restart
// and after a healthy run; undefined: give up (maxAttempts quick crashes in a row).
export function nextAttempt(previous: number, uptimeMs: number, b = BACKOFF): number | undefined {
  const attempt = uptimeMs >= b.healthyAfterMs ? 0 : previous + 1;
  return attempt >= b.maxAttempts ? undefined : attempt;
}

export type ConnState = 'starting' | 'connected' | 'restarting' | 'stopped' | 'failed';

export interface StatusInput {
  state: ConnState;
  folders: number; // workspace folders served
  clients?: number; // clients attached to the daemon (icotes/workspace/info)
  mode?: string; // the workspace's permission mode
  ownMode?: string; // this editor's connection's mode when icotes.permissionMode sets one
  questions?: number; // permission questions waiting
  retryInMs?: number;
}

export interface StatusText {
  text: string;
  tooltip: string;
}

export function statusText(s: StatusInput): StatusText {
  const mode = s.ownMode || s.mode;
  const q = s.questions ? ` $(question) ${s.questions}` : '';
  switch (s.state) {
    case 'starting':
      return { text: '$(sync~spin) icotes', tooltip: 'icotes: starting' };
    case 'restarting':
      return {
        text: '$(sync~spin) icotes',
        tooltip: `icotes: the server stopped; restarting${s.retryInMs !== undefined ? ` in ${Math.round(s.retryInMs / 100) / 10} s` : ''}`,
      };
    case 'stopped':
      return { text: '$(debug-disconnect) icotes', tooltip: 'icotes: not running (icotes: Restart Daemon starts it)' };
    case 'failed':
      return { text: '$(error) icotes', tooltip: 'icotes: the server keeps exiting; see icotes: Show Output' };
    case 'connected': {
      const n = s.clients ?? 1;
      const shared = n > 1 ? ` · ${n} clients` : '';
      const lines = ['icotes: connected'];
      lines.push(n > 1 ? `daemon shared with ${n - 1} other client${n - 1 === 1 ? '' : 's'}` : 'the only client of its daemon');
      if (mode) lines.push(`permission mode: ${mode}${s.ownMode ? ' (this editor, icotes.permissionMode)' : ' (workspace)'}`);
      if (s.folders > 1) lines.push(`${s.folders} workspace folders`);
      if (s.questions) lines.push(`${s.questions} permission question${s.questions === 1 ? '' : 's'} waiting`);
      lines.push('click for icotes commands');
      return { text: `$(check) icotes${mode ? `: ${mode}` : ''}${shared}${q}`, tooltip: lines.join('\n') };
    }
  }
}

// A permission question (window/showMessageRequest from icotes) as a
// notification: "<client> wants to <operation> (<Kind>) on <target>. Allow
// it?" reads "<client> wants to <operation> <target>" with the kind after;
// the first choices are buttons, the rest behind "More…" (a notification
// shows few buttons well). Other messages pass unchanged.
export interface QuestionView {
  text: string;
  buttons: string[];
  more: string[];
}

export const MORE = 'More…';

export function questionView(message: string, actions: { title: string }[], maxButtons = 3): QuestionView {
  let text = message.replace(/^icotes:\s*/, '');
  const m = /^(.*?) wants to (\S+) \((\w+)\) (on|running:) (.*?)\.? Allow it\?$/s.exec(text);
  if (m) {
    const [, who, op, kind, how, target] = m;
    text =
      how === 'running:'
        ? `icotes: ${who} wants to run \`${target}\` (${op}, ${kind})`
        : `icotes: ${who} wants to ${op} ${target} (${kind})`;
  } else {
    text = `icotes: ${text}`;
  }
  const titles = actions.map((a) => a.title);
  if (titles.length <= maxButtons) return { text, buttons: titles, more: [] };
  // Keep Deny visible: Allow once, Allow this session, Deny, More…
  const deny = titles.filter((t) => t === 'Deny');
  const buttons = [...titles.filter((t) => t !== 'Deny').slice(0, Math.max(1, maxButtons - deny.length)), ...deny];
  return { text, buttons: [...buttons, MORE], more: titles.filter((t) => !buttons.includes(t)) };
}

// icotes/editor/context: what the user is looking at. Positions are LSP
// positions (0-based line, UTF-16 character), which VS Code's are.
export interface Pos {
  line: number;
  character: number;
}
export interface Range {
  start: Pos;
  end: Pos;
}
export interface SelectionIn extends Range {
  text: string;
}
export interface DiagnosticIn {
  uri: string;
  range: Range;
  severity: number; // LSP: 1 error, 2 warning, 3 information, 4 hint
  message: string;
  source?: string;
  code?: string | number;
}
export interface ContextInput {
  activeUri?: string;
  languageId?: string;
  selections: SelectionIn[];
  visibleRanges: { uri: string; range: Range }[];
  openTabs: string[];
  diagnostics: DiagnosticIn[];
  // Only files under these folder URIs are reported.
  roots: string[];
}

export const CONTEXT_LIMITS = { selectionChars: 65536, selections: 20, tabs: 100, diagnostics: 200, messageChars: 2000 };

function under(uri: string, roots: string[]): boolean {
  return roots.some((r) => {
    const root = r.endsWith('/') ? r : `${r}/`;
    return uri.startsWith(root);
  });
}

function clip(text: string, max: number): { text: string; truncated?: boolean } {
  if (text.length <= max) return { text };
  // Do not split a surrogate pair.
  let end = max;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return { text: text.slice(0, end), truncated: true };
}

export interface EditorContext {
  uri: string | null;
  languageId?: string;
  selection: (Range & { text: string; truncated?: boolean }) | null;
  selections: (Range & { text: string; truncated?: boolean })[];
  visibleRanges: { uri: string; range: Range }[];
  openBuffers: string[];
  diagnostics: DiagnosticIn[];
}

// The notification's params (the shape the Neovim plugin sends, plus
// selections and diagnostics); files outside the roots are left out.
export function buildEditorContext(input: ContextInput, limits = CONTEXT_LIMITS): EditorContext {
  const active = input.activeUri && under(input.activeUri, input.roots) ? input.activeUri : null;
  const selections = active
    ? input.selections.slice(0, limits.selections).map((s) => {
        const c = clip(s.text, limits.selectionChars);
        return { start: s.start, end: s.end, text: c.text, ...(c.truncated ? { truncated: true } : {}) };
      })
    : [];
  const seen = new Set<string>();
  const tabs: string[] = [];
  for (const t of input.openTabs) {
    if (!seen.has(t) && under(t, input.roots) && tabs.length < limits.tabs) {
      seen.add(t);
      tabs.push(t);
    }
  }
  const sev = (d: DiagnosticIn) => (d.uri === active ? 0 : 10) + d.severity;
  const diagnostics = input.diagnostics
    .filter((d) => under(d.uri, input.roots))
    .sort((a, b) => sev(a) - sev(b))
    .slice(0, limits.diagnostics)
    .map((d) => ({ ...d, message: clip(d.message, limits.messageChars).text }));
  return {
    uri: active,
    ...(active && input.languageId ? { languageId: input.languageId } : {}),
    selection: selections[0] ?? null,
    selections,
    visibleRanges: input.visibleRanges.filter((v) => under(v.uri, input.roots)),
    openBuffers: tabs,
    diagnostics,
  };
}

// Whether to send icotes/editor/context: the setting "on"/"off", else
// ("auto") when the server's initialize result advertises it.
export function contextEnabled(setting: string, capabilities: unknown): boolean {
  if (setting === 'on') return true;
  if (setting === 'off') return false;
  const exp = (capabilities as { experimental?: Record<string, unknown> } | undefined)?.experimental;
  if (!exp || typeof exp !== 'object') return false;
  if (exp.icotesEditorContext === true) return true;
  const ic = exp.icotes as Record<string, unknown> | undefined;
  return !!ic && typeof ic === 'object' && ic.editorContext === true;
}

// A trailing-edge debounce (the timer functions are passed for tests).
export function debounce<A extends unknown[]>(
  fn: (...a: A) => void,
  ms: number,
  timers: { set: typeof setTimeout; clear: typeof clearTimeout } = { set: setTimeout, clear: clearTimeout },
): ((...a: A) => void) & { cancel(): void } {
  let t: ReturnType<typeof setTimeout> | undefined;
  const f = (...a: A) => {
    if (t !== undefined) timers.clear(t);
    t = timers.set(() => {
      t = undefined;
      fn(...a);
    }, ms);
  };
  f.cancel = () => {
    if (t !== undefined) timers.clear(t);
    t = undefined;
  };
  return f;
}

// A grant from icotes/permissions/list, as one line.
export interface Grant {
  kind?: string;
  scope?: string;
  value?: string;
  answer?: string;
}
export function grantText(g: Grant): string {
  return `${g.answer ?? 'allow'} ${g.kind ?? '?'} ${g.scope ?? '?'}${g.value ? ` ${g.value}` : ''}`;
}

// A permission-log record as one line (time in ms since the epoch).
export function logLine(r: Record<string, unknown>): string {
  const t = new Date(Number(r.time ?? 0)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return [t, r.client, r.operation, r.kind, r.target, r.answer, r.decidedBy].map((v) => String(v ?? '')).join('  ');
}
