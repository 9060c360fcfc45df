import { Agent, request } from 'undici';
import { TraceEntry } from './trace';

/** What one request of the trace saw. Times are real milliseconds since the request was sent. */
export interface RequestResult {
  model: string;
  priority: 'interactive' | 'bulk';
  status: number;
  ok: boolean;
  ttftMs: number;
  e2eMs: number;
  /** Real ms by which the send lagged its scheduled time (a client that cannot keep up). */
  lagMs: number;
}

export interface Target {
  /** `openai`: Switchyard's edge (SSE / JSON); `ollama`: a proxy in front of Ollama (NDJSON). */
  kind: 'openai' | 'ollama';
  baseUrl: string;
  /** Bearer key per priority class (Switchyard only). */
  keys?: { interactive: string; bulk: string };
  /** The fixed context window per model, sent as num_ctx by the baselines as Switchyard's workers do. */
  numCtx: (model: string) => number;
}

const WORDS = ['the', 'quick', 'model', 'loads', 'onto', 'a', 'busy', 'GPU', 'while', 'requests', 'wait', 'in', 'line'];

/** A prompt of about `tokens` tokens (≈ 4 characters each). */
export function promptOf(tokens: number, i: number): string {
  const out: string[] = [`Request ${i}:`];
  let chars = out[0].length;
  for (let k = 0; chars < tokens * 4; k++) {
    const w = WORDS[(i + k) % WORDS.length];
    out.push(w);
    chars += w.length + 1;
  }
  return out.join(' ');
}

/**
 * Sends every trace entry at its time (t / timeScale real seconds after start) and records when its
 * first token and its end arrived. Requests run concurrently; nothing waits for an earlier one.
 */
export async function replay(trace: TraceEntry[], target: Target, timeScale: number, onProgress?: (done: number) => void): Promise<RequestResult[]> {
  const agent = new Agent({ connections: 2048, pipelining: 0, keepAliveTimeout: 30000, headersTimeout: 0, bodyTimeout: 0 });
  const start = performance.now();
  let done = 0;
  const results = await Promise.all(
    trace.map(async (e, i) => {
      const due = start + (e.t * 1000) / timeScale;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now();
      const r = await send(e, i, target, agent, sent);
      done++;
      onProgress?.(done);
      return { ...r, lagMs: Math.max(0, sent - due) };
    }),
  );
  await agent.close();
  return results;
}

async function send(e: TraceEntry, i: number, target: Target, agent: Agent, sent: number): Promise<Omit<RequestResult, 'lagMs'>> {
  const prompt = promptOf(e.prompt_tokens, i);
  const base = { model: e.model, priority: e.priority };
  const now = () => performance.now() - sent;
  try {
    const res =
      target.kind === 'openai'
        ? await request(`${target.baseUrl}/v1/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${target.keys?.[e.priority] ?? ''}` },
            body: JSON.stringify({
              model: e.model,
              messages: [{ role: 'user', content: prompt }],
              max_tokens: e.max_tokens,
              stream: e.stream,
              ...(e.stream ? { stream_options: { include_usage: true } } : {}),
            }),
          })
        : await request(`${target.baseUrl}/api/chat`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: e.model,
              messages: [{ role: 'user', content: prompt }],
              stream: e.stream,
              options: { num_ctx: target.numCtx(e.model), num_predict: e.max_tokens },
            }),
          });
    let ttft = NaN;
    let failed = res.statusCode >= 400;
    let buffered = '';
    for await (const chunk of res.body) {
      if (Number.isNaN(ttft)) {
        buffered += (chunk as Buffer).toString('utf8');
        if (!e.stream) continue;
        // First content: an SSE data line with delta content, or an NDJSON line with message content.
        if (/"content":"[^"]/.test(buffered)) ttft = now();
        if (buffered.includes('"error"')) failed = true;
        if (buffered.length > 65536) buffered = buffered.slice(-1024);
      }
    }
    const e2e = now();
    if (Number.isNaN(ttft)) ttft = e2e;
    return { ...base, status: res.statusCode, ok: !failed, ttftMs: ttft, e2eMs: e2e };
  } catch {
    const t = now();
    return { ...base, status: 0, ok: false, ttftMs: t, e2eMs: t };
  }
}
