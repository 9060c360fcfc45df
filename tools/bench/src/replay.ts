import OpenAI, { toFile } from 'openai';
import { Agent, request } from 'undici';
import { Attempt, AttemptFn, ClientPolicy, Headers, OPENAI_SDK_DEFAULTS, runClient } from './placement/client';
import { TraceEntry } from './trace';

/** What one request of the trace saw. Times are simulated ms (real ms × the time scale). */
export interface RequestResult {
  model: string;
  priority: 'interactive' | 'bulk';
  user: string;
  stream: boolean;
  /** The last attempt's HTTP status (0: no response; a batch line: its status_code). */
  status: number;
  /** Served: an attempt got its first content within the client's timeout and completed. */
  ok: boolean;
  /** From the first send to the first content of the successful attempt (retry waits included); NaN if not served. */
  ttftMs: number;
  /** From the first send to the end of the last attempt. */
  e2eMs: number;
  /** By how much the first send lagged its scheduled time (a client that cannot keep up). */
  lagMs: number;
  /** The entry's index in the trace (a batch line's custom_id). */
  index: number;
  /** When the first attempt was sent, after the replay's start (for a batch line: when the batch was submitted). */
  sentMs: number;
  /** Every attempt the client made (not for batch lines). */
  attempts: Attempt[];
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
  /** The client's behaviour (default: the openai SDK's), in simulated ms. */
  client?: ClientPolicy;
  onProgress?: (done: number) => void;
}

export interface Target {
  /** `openai`: Switchyard's edge (SSE / JSON); `ollama`: a proxy in front of Ollama (NDJSON). */
  kind: 'openai' | 'ollama';
  baseUrl: string;
  /** Bearer key for an entry (Switchyard only: one per trace user, bulk entries on the bulk key). */
  keyFor?: (e: TraceEntry) => string;
  /** Bearer key of the bulk batch (Switchyard only). */
  bulkKey?: string;
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
 * Sends every trace entry at its time (t / timeScale real seconds after start) through the client
 * model (client.ts: the openai SDK's timeout and retries, in simulated time) and records every
 * attempt. Requests run concurrently; nothing waits for an earlier one. With `bulkAsBatch`
 * (Switchyard), the bulk entries go instead as one batch, submitted when the first of them arrives
 * and polled until it ends; each gets a result from the output file. Results are in simulated ms.
 */
export async function replay(trace: TraceEntry[], target: Target, timeScale: number, opts: ReplayOptions = {}): Promise<ReplayOutcome> {
  const agent = new Agent({ connections: 4096, pipelining: 0, keepAliveTimeout: 30000, headersTimeout: 0, bodyTimeout: 0 });
  const start = performance.now();
  const startEpoch = Date.now();
  const sim = (realMs: number) => realMs * timeScale;
  const dueOf = (i: number) => start + (trace[i].t * 1000) / timeScale;
  const asBatch = !!opts.bulkAsBatch && target.kind === 'openai';
  const bulk = asBatch ? trace.map((e, i) => (e.priority === 'bulk' ? i : -1)).filter((i) => i >= 0) : [];
  const online = trace.map((_, i) => i).filter((i) => !asBatch || trace[i].priority !== 'bulk');
  const policy = opts.client ?? OPENAI_SDK_DEFAULTS;
  const clock = { now: () => sim(performance.now()), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms / timeScale)) };
  let done = 0;
  const tick = (n: number) => {
    done += n;
    opts.onProgress?.(done);
  };
  const onlineResults = Promise.all(
    online.map(async (i): Promise<RequestResult> => {
      const due = dueOf(i);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now();
      const out = await runClient(policy, (timeoutMs, retriesMade) => attemptOnce(trace[i], i, target, agent, timeoutMs, retriesMade, timeScale), clock, { serverToSimMs: sim });
      tick(1);
      const e = trace[i];
      const last = out.attempts[out.attempts.length - 1];
      return {
        model: e.model,
        priority: e.priority,
        user: e.user,
        stream: e.stream,
        status: last.status,
        ok: out.ok,
        ttftMs: out.ttftMs,
        e2eMs: out.e2eMs,
        lagMs: sim(Math.max(0, sent - due)),
        index: i,
        sentMs: sim(sent - start),
        attempts: out.attempts,
      };
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
            const answered = sim(Math.max(0, (Number.isFinite(batch!.completedAtMs) ? batch!.completedAtMs : batch!.observedDoneMs) - (dueOf(i) - start)));
            return {
              model: trace[i].model,
              priority: trace[i].priority,
              user: trace[i].user,
              stream: trace[i].stream,
              status: code,
              ok: code === 200,
              ttftMs: code === 200 ? answered : NaN,
              e2eMs: answered,
              lagMs: sim(Math.max(0, batch!.submittedMs - (dueOf(i) - start))),
              index: i,
              sentMs: sim(batch!.submittedMs),
              attempts: [],
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
  const client = new OpenAI({ baseURL: `${target.baseUrl}/v1`, apiKey: target.bulkKey ?? '', maxRetries: 3, timeout: 600_000 });
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

/** Header (lower-case) an admitted request may carry with the edge's expected wait for it, in ms. */
export const EXPECTED_WAIT_HEADERS = ['x-switchyard-expected-wait-ms', 'x-expected-wait-ms'];

/**
 * One attempt: sends the request and reads the answer; aborts when no first content (a token, or
 * the whole body when not streaming) came within `timeoutSimMs`. Times in simulated ms.
 */
async function attemptOnce(e: TraceEntry, i: number, target: Target, agent: Agent, timeoutSimMs: number, retriesMade: number, timeScale: number): ReturnType<AttemptFn> {
  const sent = performance.now();
  const now = () => (performance.now() - sent) * timeScale;
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutSimMs / timeScale);
  let firstContentMs: number | undefined;
  let headers: Headers | undefined;
  let status = 0;
  try {
    const res =
      target.kind === 'openai'
        ? await request(`${target.baseUrl}/v1/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            signal: ac.signal,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${target.keyFor?.(e) ?? ''}`,
              // As the openai SDK says it on every try; its timeout in the server's (real) seconds.
              'x-stainless-retry-count': String(retriesMade),
              'x-stainless-timeout': String(Math.trunc(timeoutSimMs / timeScale / 1000)),
            },
            body: JSON.stringify(chatBody(e, i)),
          })
        : await request(`${target.baseUrl}/api/chat`, {
            method: 'POST',
            dispatcher: agent,
            signal: ac.signal,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: e.model,
              messages: [{ role: 'user', content: promptOf(e.prompt_tokens, i) }],
              stream: e.stream,
              options: { num_ctx: target.numCtx(e.model), num_predict: e.max_tokens },
            }),
          });
    status = res.statusCode;
    headers = res.headers as Headers;
    let failed = res.statusCode >= 400;
    if (failed) clearTimeout(timer);
    let buffered = '';
    for await (const chunk of res.body) {
      if (firstContentMs === undefined && !failed) {
        buffered += (chunk as Buffer).toString('utf8');
        if (buffered.includes('"error"')) failed = true;
        if (!e.stream) continue;
        // First content: an SSE data line with delta content, or an NDJSON line with message content.
        if (/"content":"[^"]/.test(buffered)) {
          firstContentMs = now();
          clearTimeout(timer);
        }
        if (buffered.length > 65536) buffered = buffered.slice(-1024);
      }
    }
    clearTimeout(timer);
    const endMs = now();
    if (!failed && firstContentMs === undefined) firstContentMs = endMs;
    const expected = EXPECTED_WAIT_HEADERS.map((h) => headers?.[h]).find((v) => v !== undefined);
    return {
      status,
      ok: !failed,
      timedOut: false,
      ...(firstContentMs !== undefined ? { firstContentMs } : {}),
      endMs,
      headers,
      ...(expected !== undefined && Number.isFinite(Number(expected)) ? { expectedWaitMs: Number(expected) * timeScale } : {}),
    };
  } catch {
    clearTimeout(timer);
    return { status: timedOut ? 0 : status, ok: false, timedOut, ...(firstContentMs !== undefined ? { firstContentMs } : {}), endMs: now(), headers: timedOut ? undefined : headers };
  }
}
