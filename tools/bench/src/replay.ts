import OpenAI, { toFile } from 'openai';
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
  /** The entry's index in the trace (a batch line's custom_id). */
  index: number;
  /** Real ms after the replay's start when it was sent (for a batch line: when the batch was submitted). */
  sentMs: number;
  /** Answered as a line of the bulk batch rather than as a request (ttftMs = e2eMs = until the batch completed). */
  viaBatch?: boolean;
}

/** The bulk batch as Switchyard ran it (`--bulk-as-batch`). */
export interface BatchOutcome {
  id: string;
  status: string;
  lines: number;
  /** Real ms after the replay's start: submitted (upload started), and the batch's completed_at (whole seconds, so up to 1 real s early). */
  submittedMs: number;
  completedAtMs: number;
  /** Real ms after the replay's start when polling first saw a terminal status. */
  observedDoneMs: number;
  counts: { total: number; completed: number; failed: number };
  /** Output and error files against the input: every custom_id must be in them exactly once. */
  check: { outputLines: number; errorLines: number; missing: number; duplicates: number; unknown: number; ok: boolean };
  error?: string;
}

export interface ReplayOutcome {
  results: RequestResult[];
  batch?: BatchOutcome;
}

export interface ReplayOptions {
  /** Switchyard only: send the trace's bulk entries as one batch when the first of them arrives. */
  bulkAsBatch?: boolean;
  onProgress?: (done: number) => void;
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

/** The chat request Switchyard's edge gets for entry `i` (online, or as the body of a batch line). */
export function chatBody(e: TraceEntry, i: number): Record<string, unknown> {
  return {
    model: e.model,
    messages: [{ role: 'user', content: promptOf(e.prompt_tokens, i) }],
    max_tokens: e.max_tokens,
    stream: e.stream,
    ...(e.stream ? { stream_options: { include_usage: true } } : {}),
  };
}

/** The batch input file for the bulk entries: one line per entry, custom_id = its index in the trace. */
export function batchInput(trace: TraceEntry[], indices: number[]): string {
  return indices.map((i) => JSON.stringify({ custom_id: String(i), method: 'POST', url: '/v1/chat/completions', body: chatBody(trace[i], i) })).join('\n') + '\n';
}

interface OutputLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: unknown;
}

/** Output and error files against the expected custom_ids: status per id, and what is missing, doubled or unknown. */
export function checkBatchFiles(expected: string[], output: string, errors: string): { status: Map<string, number>; check: BatchOutcome['check'] } {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  const status = new Map<string, number>();
  let unknown = 0;
  const parse = (text: string, fromErrorFile: boolean) => {
    let n = 0;
    for (const l of text.split('\n')) {
      if (!l.trim()) continue;
      n++;
      let line: OutputLine;
      try {
        line = JSON.parse(l) as OutputLine;
      } catch {
        unknown++;
        continue;
      }
      const id = String(line.custom_id ?? '');
      if (!want.has(id)) {
        unknown++;
        continue;
      }
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const code = line.response?.status_code ?? 0;
      status.set(id, fromErrorFile || line.error ? (code >= 400 ? code : 0) : code);
    }
    return n;
  };
  const outputLines = parse(output, false);
  const errorLines = parse(errors, true);
  const missing = expected.filter((id) => !seen.has(id)).length;
  const duplicates = [...seen.values()].filter((c) => c > 1).length;
  return { status, check: { outputLines, errorLines, missing, duplicates, unknown, ok: missing === 0 && duplicates === 0 && unknown === 0 } };
}

/**
 * Sends every trace entry at its time (t / timeScale real seconds after start) and records when its
 * first token and its end arrived. Requests run concurrently; nothing waits for an earlier one.
 * With `bulkAsBatch` (Switchyard), the bulk entries go instead as one batch, submitted when the
 * first of them arrives and polled until it ends; each gets a result from the output file.
 */
export async function replay(trace: TraceEntry[], target: Target, timeScale: number, opts: ReplayOptions = {}): Promise<ReplayOutcome> {
  const agent = new Agent({ connections: 2048, pipelining: 0, keepAliveTimeout: 30000, headersTimeout: 0, bodyTimeout: 0 });
  const start = performance.now();
  const startEpoch = Date.now();
  const dueOf = (i: number) => start + (trace[i].t * 1000) / timeScale;
  const asBatch = !!opts.bulkAsBatch && target.kind === 'openai';
  const bulk = asBatch ? trace.map((e, i) => (e.priority === 'bulk' ? i : -1)).filter((i) => i >= 0) : [];
  const online = trace.map((_, i) => i).filter((i) => !asBatch || trace[i].priority !== 'bulk');
  let done = 0;
  const tick = (n: number) => {
    done += n;
    opts.onProgress?.(done);
  };
  const onlineResults = Promise.all(
    online.map(async (i) => {
      const due = dueOf(i);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now();
      const r = await send(trace[i], i, target, agent, sent);
      tick(1);
      return { ...r, lagMs: Math.max(0, sent - due), index: i, sentMs: sent - start };
    }),
  );
  let batch: BatchOutcome | undefined;
  const batchResults: Promise<RequestResult[]> =
    bulk.length === 0
      ? Promise.resolve([])
      : (async () => {
          const due = Math.min(...bulk.map(dueOf));
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const run = await runBatch(trace, bulk, target, start, startEpoch);
          batch = run.outcome;
          tick(bulk.length);
          return bulk.map((i): RequestResult => {
            const code = run.status.get(String(i)) ?? 0;
            const answered = Math.max(0, (Number.isFinite(batch!.completedAtMs) ? batch!.completedAtMs : batch!.observedDoneMs) - (dueOf(i) - start));
            return {
              model: trace[i].model,
              priority: trace[i].priority,
              status: code,
              ok: code === 200,
              ttftMs: answered,
              e2eMs: answered,
              lagMs: Math.max(0, batch!.submittedMs - (dueOf(i) - start)),
              index: i,
              sentMs: batch!.submittedMs,
              viaBatch: true,
            };
          });
        })();
  const [a, b] = await Promise.all([onlineResults, batchResults]);
  await agent.close();
  return { results: [...a, ...b].sort((x, y) => x.index - y.index), batch };
}

/** Uploads the bulk entries as a batch, creates it, polls it to a terminal status and reads its files. */
async function runBatch(trace: TraceEntry[], indices: number[], target: Target, start: number, startEpoch: number): Promise<{ outcome: BatchOutcome; status: Map<string, number> }> {
  const client = new OpenAI({ baseURL: `${target.baseUrl}/v1`, apiKey: target.keys?.bulk ?? '', maxRetries: 3, timeout: 600_000 });
  const submittedMs = performance.now() - start;
  const ids = indices.map(String);
  const outcome: BatchOutcome = {
    id: '',
    status: 'not created',
    lines: indices.length,
    submittedMs,
    completedAtMs: NaN,
    observedDoneMs: NaN,
    counts: { total: indices.length, completed: 0, failed: 0 },
    check: { outputLines: 0, errorLines: 0, missing: indices.length, duplicates: 0, unknown: 0, ok: false },
  };
  try {
    const file = await client.files.create({ file: await toFile(Buffer.from(batchInput(trace, indices)), 'bench-bulk.jsonl'), purpose: 'batch' });
    let b = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    outcome.id = b.id;
    while (!['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) {
      await new Promise((r) => setTimeout(r, 100));
      b = await client.batches.retrieve(b.id);
    }
    outcome.observedDoneMs = performance.now() - start;
    outcome.status = b.status;
    const end = b.completed_at ?? b.failed_at ?? b.expired_at ?? b.cancelled_at;
    if (end) outcome.completedAtMs = end * 1000 - startEpoch;
    outcome.counts = { total: b.request_counts?.total ?? indices.length, completed: b.request_counts?.completed ?? 0, failed: b.request_counts?.failed ?? 0 };
    const text = async (id: string | null | undefined) => (id ? (await client.files.content(id)).text() : '');
    const checked = checkBatchFiles(ids, await text(b.output_file_id), await text(b.error_file_id));
    outcome.check = checked.check;
    return { outcome, status: checked.status };
  } catch (err) {
    outcome.error = err instanceof Error ? err.message : String(err);
    if (!Number.isFinite(outcome.observedDoneMs)) outcome.observedDoneMs = performance.now() - start;
    return { outcome, status: new Map() };
  }
}

async function send(e: TraceEntry, i: number, target: Target, agent: Agent, sent: number): Promise<Omit<RequestResult, 'lagMs' | 'index' | 'sentMs'>> {
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
            body: JSON.stringify(chatBody(e, i)),
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
