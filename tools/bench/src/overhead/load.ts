/**
 * The load client (undici): one request at a time for latency, streams for time to first token,
 * closed loops of N connections for requests/s, and N streams held open at once.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import { percentile } from '../stats';

/** One system's chat completions endpoint, with the headers it needs and the two bodies sent. */
export interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  streamBody: string;
}

const TIMEOUTS = { headersTimeout: 120_000, bodyTimeout: 120_000 };

export function agent(connections: number): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
}

/** One non-stream request; ms to the whole answer. Throws on anything but a 200 with a choice. */
export async function call(t: Target, dispatcher: Dispatcher): Promise<number> {
  const started = performance.now();
  const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.body, dispatcher, ...TIMEOUTS });
  const text = await res.body.text();
  if (res.statusCode !== 200 || !text.includes('"choices"')) throw new Error(`${t.name}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  return performance.now() - started;
}

/** One streamed request: ms to the first chunk with text, and to `data: [DONE]`. */
export async function streamCall(t: Target, dispatcher: Dispatcher): Promise<{ ttft: number; total: number }> {
  const started = performance.now();
  const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.streamBody, dispatcher, ...TIMEOUTS });
  if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
  let ttft = NaN;
  let text = '';
  for await (const chunk of res.body) {
    text += (chunk as Buffer).toString();
    if (Number.isNaN(ttft) && /"content":"[^"]/.test(text)) ttft = performance.now() - started;
  }
  if (!text.includes('data: [DONE]')) throw new Error(`${t.name}: stream without [DONE]: ${text.slice(0, 300)}`);
  return { ttft, total: performance.now() - started };
}

export interface Throughput {
  connections: number;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  firstError?: string;
}

/**
 * `connections` closed loops (each sends its next request when the last is answered) for
 * `warmupS + seconds`; only the requests that finish inside the last `seconds` count. `window`
 * is called as that window opens and closes (CPU meters).
 */
export async function closedLoop(
  t: Target,
  connections: number,
  seconds: number,
  warmupS: number,
  window: { open?: () => void; close?: () => void } = {},
): Promise<Throughput> {
  const dispatcher = agent(connections);
  const t0 = performance.now();
  const from = t0 + warmupS * 1000;
  const until = from + seconds * 1000;
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let phase: 'warm-up' | 'open' | 'closed' = 'warm-up';
  const open = () => {
    phase = 'open';
    window.open?.();
  };
  const close = () => {
    if (phase !== 'open') return;
    phase = 'closed';
    window.close?.();
  };
  const opener = setTimeout(open, warmupS * 1000);
  const closer = setTimeout(close, (warmupS + seconds) * 1000);
  try {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < until) {
          try {
            const ms = await call(t, dispatcher);
            const end = performance.now();
            if (end >= from && end < until) samples.push(ms);
          } catch (err) {
            errors++;
            firstError ??= err instanceof Error ? err.message : String(err);
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      }),
    );
  } finally {
    clearTimeout(opener);
    clearTimeout(closer);
    close();
    await dispatcher.close();
  }
  return { connections, requests: samples.length, errors, rps: samples.length / seconds, p50: percentile(samples, 50), p99: percentile(samples, 99), firstError };
}

export interface HeldStreams {
  opened: number;
  completed: number;
  failed: number;
  firstError?: string;
}

/**
 * Opens `n` streams at once and waits until every one has its response headers (the gateway holds
 * it open); `whileOpen` runs then (the backend is paused, so none can finish before it). `release`
 * lets them finish; each must end with `data: [DONE]` to count as completed.
 */
export async function holdStreams(t: Target, n: number, hooks: { whileOpen: () => Promise<void>; release: () => void }, openTimeoutMs = 60_000): Promise<HeldStreams> {
  const dispatcher = agent(n + 8);
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  let onOpened: () => void = () => undefined;
  const allOpen = new Promise<void>((resolve) => (onOpened = resolve));
  const settledOne = () => {
    if (opened + failed === n) onOpened();
  };
  const one = async (): Promise<boolean> => {
    try {
      const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.streamBody, dispatcher, ...TIMEOUTS });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
      opened++;
      settledOne();
      let text = '';
      for await (const chunk of res.body) text += (chunk as Buffer).toString();
      if (!text.includes('data: [DONE]')) throw new Error(`stream without [DONE]: ${text.slice(-200)}`);
      return true;
    } catch (err) {
      failed++;
      firstError ??= err instanceof Error ? err.message : String(err);
      settledOne();
      return false;
    }
  };
  const streams = Array.from({ length: n }, one);
  try {
    const timedOut = new Promise<void>((r) => setTimeout(r, openTimeoutMs).unref());
    await Promise.race([allOpen, timedOut]);
    await hooks.whileOpen();
  } finally {
    hooks.release();
  }
  const results = await Promise.all(streams);
  await dispatcher.close();
  return { opened, completed: results.filter(Boolean).length, failed, firstError };
}
