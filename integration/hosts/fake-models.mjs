// Fake model APIs for driving real MCP host CLIs (not a test file): each is an
// HTTP server on 127.0.0.1 (a port of its own choosing) that records every
// request and plays a scripted model: it calls the tools of `steps` in turn,
// one per model turn, then says "done". What a host hands its model for a
// tool result is then read from the next request the host sent.
//
//   const fake = await startFake('anthropic' | 'openai' | 'gemini', {steps, select});
//   ... run the host with fake.url ...
//   fake.calls()  -> [{tool, args, result: {text, isError}}] as the model saw them
//   fake.requests -> every request body, in order
//   await fake.close();
//
// steps: [{tool: 'read_file', args: {...}}, ...] (tool names without the
// host's prefix). select (Anthropic only): the icotes tools to load through
// Claude Code's ToolSearch (default: those of steps), since Claude Code
// defers MCP tools and sends their definitions only once they are selected.
import http from 'node:http';

const SERVER = 'icotes';
const LIFETIME_MS = 300000;  // a fake left running ends by itself

function listen(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let json = {};
      try {
        json = body ? JSON.parse(body) : {};
      } catch { /* a body that is not JSON is recorded as {} */ }
      requests.push({ method: req.method, url: req.url, body: json });
      try {
        handler(req, res, json, body);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(e) } }));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const timer = setTimeout(() => server.close(), LIFETIME_MS);
      timer.unref();
      resolve({
        requests,
        port: server.address().port,
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((r) => { clearTimeout(timer); server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

const json = (res, value) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};
const blockText = (content) => (typeof content === 'string' ? content
  : Array.isArray(content) ? content.map((b) => (typeof b === 'string' ? b : b.text ?? JSON.stringify(b))).join('\n')
    : JSON.stringify(content));

// The Anthropic Messages API as Claude Code uses it (ANTHROPIC_BASE_URL).
async function anthropic({ steps, select }) {
  let n = 0;
  const prefix = `mcp__${SERVER}__`;
  const fake = await listen((req, res, body, raw) => {
    // count_tokens sizes large MCP results: a realistic estimate (4 bytes a token).
    if (!req.url.startsWith('/v1/messages') || req.url.includes('count_tokens'))
      return json(res, { input_tokens: Math.ceil(raw.length / 4) });
    const tools = (body.tools ?? []).map((t) => t.name).filter(Boolean);
    const uses = [];
    for (const m of body.messages ?? []) if (Array.isArray(m.content)) for (const b of m.content) if (b.type === 'tool_use') uses.push(b.name);
    const k = uses.filter((u) => u !== 'ToolSearch').length;
    const step = steps[k];
    const target = step && tools.find((t) => t === prefix + step.tool);
    let content;
    let stop = 'tool_use';
    if (tools.length === 0) {  // side requests (titles, summaries) come without tools
      content = [{ type: 'text', text: 'ok' }];
      stop = 'end_turn';
    } else if (target) {
      content = [{ type: 'tool_use', id: `toolu_${++n}`, name: target, input: step.args }];
    } else if (step && !uses.includes('ToolSearch') && tools.includes('ToolSearch')) {
      const names = (select ?? steps.map((s) => s.tool)).map((t) => prefix + t);
      content = [{ type: 'tool_use', id: `toolu_${++n}`, name: 'ToolSearch', input: { query: `select:${names.join(',')}`, max_results: names.length } }];
    } else {
      content = [{ type: 'text', text: step ? `no tool ${step.tool} among ${tools.join(',')}` : 'done' }];
      stop = 'end_turn';
    }
    const message = { id: `msg_${++n}`, type: 'message', role: 'assistant', model: 'claude-fake', content: [],
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } };
    if (!body.stream) return json(res, { ...message, content, stop_reason: stop, usage: { input_tokens: 10, output_tokens: 5 } });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', { type: 'message_start', message });
    content.forEach((b, index) => {
      if (b.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
      } else {
        send('content_block_start', { type: 'content_block_start', index, content_block: { ...b, input: {} } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } });
    send('message_stop', { type: 'message_stop' });
    res.end();
  });
  // The last main request holds the whole conversation.
  fake.lastMain = () => [...fake.requests].reverse().find((r) => r.url.startsWith('/v1/messages') && !r.url.includes('count_tokens') && r.body.tools?.length)?.body;
  fake.calls = () => {
    const body = fake.lastMain();
    if (!body) return [];
    const uses = [];
    const results = new Map();
    for (const m of body.messages ?? []) {
      if (!Array.isArray(m.content)) continue;
      for (const b of m.content) {
        if (b.type === 'tool_use' && b.name !== 'ToolSearch') uses.push(b);
        if (b.type === 'tool_result') results.set(b.tool_use_id, { text: blockText(b.content), isError: b.is_error === true });
      }
    }
    return uses.map((u) => ({ tool: u.name.slice(prefix.length), args: u.input, result: results.get(u.id) }));
  };
  // The icotes tool definitions Claude Code sent once they were loaded.
  fake.toolDefinitions = () => (fake.lastMain()?.tools ?? []).filter((t) => t.name?.startsWith(prefix));
  return fake;
}

// The OpenAI Responses API as Codex uses it (a model provider's base_url).
async function openai({ steps }) {
  let n = 0;
  const names = (tools) => {
    const out = [];
    for (const t of tools ?? []) {
      if (t.name) out.push({ name: t.name });
      if (t.type === 'namespace' && Array.isArray(t.tools)) for (const s of t.tools) out.push({ namespace: t.name, name: s.name });
    }
    return out;
  };
  const fake = await listen((req, res, body) => {
    if (!req.url.includes('/responses')) return json(res, req.url.includes('/models') ? { object: 'list', data: [], models: [] } : {});
    const input = body.input ?? [];
    const k = input.filter((i) => i.type === 'function_call_output').length;
    const visible = names(body.tools);
    for (const i of input) if (i.type === 'tool_search_output') visible.push(...names(i.tools));
    const step = steps[k];
    // Codex puts an MCP server's tools in a namespace mcp__<server>.
    const target = step && (visible.find((t) => t.name === step.tool && t.namespace?.includes(SERVER))
      ?? visible.find((t) => t.name.endsWith(`${SERVER}__${step.tool}`)));
    const searched = input.filter((i) => i.type === 'tool_search_call').length;
    const id = `resp_${++n}`;
    let item;
    if (target) {
      item = { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: target.name, arguments: JSON.stringify(step.args), status: 'completed' };
      if (target.namespace) item.namespace = target.namespace;
    } else if (step && searched < 3 && (body.tools ?? []).some((t) => t.type === 'tool_search')) {
      // Tools deferred behind Codex's client-side tool_search: ask for them.
      item = { type: 'tool_search_call', id: `ts_${n}`, call_id: `search_${n}`, execution: 'client', status: 'completed',
        arguments: { query: step.tool.replace(/_/g, ' '), limit: 50 } };
    } else {
      item = { type: 'message', id: `msg_${n}`, role: 'assistant', status: 'completed',
        content: [{ type: 'output_text', text: step ? `no tool ${step.tool}` : 'done', annotations: [] }] };
    }
    const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('response.created', { type: 'response.created', response: { id } });
    send('response.output_item.added', { type: 'response.output_item.added', output_index: 0, item });
    send('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item });
    send('response.completed', { type: 'response.completed', response: { id, status: 'completed', output: [item], usage } });
    res.end();
  });
  fake.calls = () => {
    const last = [...fake.requests].reverse().find((r) => r.url.includes('/responses'))?.body;
    if (!last) return [];
    const outputs = new Map();
    for (const i of last.input ?? []) if (i.type === 'function_call_output') outputs.set(i.call_id, i.output);
    return (last.input ?? []).filter((i) => i.type === 'function_call').map((c) => {
      const out = outputs.get(c.call_id);
      // Codex has no error flag on the wire: a failure is known by its text only.
      return { tool: c.name, args: JSON.parse(c.arguments || '{}'), result: out === undefined ? undefined : { text: blockText(out), isError: undefined } };
    });
  };
  return fake;
}

// The Gemini API (generativelanguage v1beta) as Gemini CLI uses it
// (GOOGLE_GEMINI_BASE_URL).
async function gemini({ steps }) {
  const usageMetadata = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };
  const answer = (res, stream, parts) => {
    const body = { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: 'gemini-fake' };
    if (!stream) return json(res, body);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(body)}\r\n\r\n`);
    res.end();
  };
  const fake = await listen((req, res, body) => {
    if (req.url.includes(':countTokens')) return json(res, { totalTokens: 10 });
    if (!req.url.includes(':generateContent') && !req.url.includes(':streamGenerateContent')) return json(res, {});
    const stream = req.url.includes(':streamGenerateContent');
    const cfg = body.generationConfig ?? {};
    if (cfg.responseMimeType === 'application/json' || cfg.responseJsonSchema || cfg.responseSchema) {
      // Utility calls (model routing, next speaker, loop checks): a neutral object.
      return answer(res, stream, [{ text: JSON.stringify({ reasoning: 'fake', next_speaker: 'user', model_choice: 'flash', complexity_reasoning: 'fake', complexity_score: 1 }) }]);
    }
    const contents = body.contents ?? [];
    const k = contents.reduce((a, c) => a + (c.parts ?? []).filter((p) => p.functionResponse).length, 0);
    const declared = [];
    for (const t of body.tools ?? []) for (const f of t.functionDeclarations ?? []) declared.push(f.name);
    const step = steps[k];
    // Gemini CLI names MCP tools mcp_<server>_<tool> (its own read_file exists too).
    const target = step && declared.find((d) => d.endsWith(`${SERVER}_${step.tool}`));
    if (target) return answer(res, stream, [{ functionCall: { name: target, args: step.args } }]);
    return answer(res, stream, [{ text: step ? `no tool ${step.tool}` : 'done' }]);
  });
  fake.calls = () => {
    const last = [...fake.requests].reverse().find((r) => (r.body.contents ?? []).length && !(r.body.generationConfig?.responseMimeType))?.body;
    const calls = [];
    for (const c of last?.contents ?? []) {
      for (const p of c.parts ?? []) {
        if (p.functionCall) calls.push({ tool: p.functionCall.name.replace(/^.*?icotes_/, ''), args: p.functionCall.args });
        if (p.functionResponse) {
          const call = calls.find((x) => !x.result);
          const r = p.functionResponse.response ?? {};
          if (call) call.result = { text: 'error' in r ? JSON.stringify(r.error) : blockText(r.output ?? r), isError: 'error' in r };
        }
      }
    }
    return calls;
  };
  return fake;
}

export function startFake(kind, options) {
  if (kind === 'anthropic') return anthropic(options);
  if (kind === 'openai') return openai(options);
  if (kind === 'gemini') return gemini(options);
  throw new Error(`no fake model API '${kind}'`);
}
