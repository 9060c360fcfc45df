/**
 * The client every system gets: what the `openai` SDK (node_modules/openai, 6.x, `client.js`) does
 * by default, in simulated time.
 * - Timeout 600 s per attempt (`timeout: 600_000`). The SDK's timer covers the wait for the response
 *   headers; an Ollama server sends them with the first token while Switchyard's edge flushes a
 *   stream's headers at once, so here the timer covers the wait for the first content (first token
 *   of a stream, the whole body otherwise) — the same rule for every system. A request is served only
 *   if an attempt got its first content within the timeout and then completed.
 * - 2 retries (`maxRetries: 2`) on 408, 409, 429 and 5xx (`x-should-retry` overrides either way) and
 *   on a timed-out or failed connection.
 * - Before a retry it waits `retry-after-ms`, else `Retry-After` (seconds or an HTTP date), else
 *   its backoff: min(0.5 s × 2^n, 8 s) × (1 − up to 25% jitter), n = retries made so far. The
 *   installed SDK obeys a server's wait whatever its length (older 4.x releases ignored one over
 *   60 s and backed off instead); `retryAfterCapMs` reproduces those when set.
 * - Every try says what it is, as the SDK's headers do (`X-Stainless-Retry-Count`: the retries made
 *   before it; `X-Stainless-Timeout`: its timeout in seconds): the transport gets `retriesMade`.
 */

export interface ClientPolicy {
  /** Per attempt, simulated ms. */
  timeoutMs: number;
  maxRetries: number;
  /** A server wait above this is ignored in favour of the backoff (undefined: obeyed, as the installed SDK). */
  retryAfterCapMs?: number;
}

export const OPENAI_SDK_DEFAULTS: ClientPolicy = { timeoutMs: 600_000, maxRetries: 2 };

export type Headers = Record<string, string | string[] | undefined>;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name] ?? h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** The SDK's `shouldRetry` for a response. */
export function shouldRetry(status: number, headers: Headers = {}): boolean {
  const explicit = header(headers, 'x-should-retry');
  if (explicit === 'true') return true;
  if (explicit === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The server's requested wait in ms (`retry-after-ms`, else `Retry-After`), if any. `nowMs` for an HTTP date. */
export function serverRetryAfterMs(headers: Headers, nowMs = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined) {
    const v = parseFloat(ms);
    if (!Number.isNaN(v) && v !== 0) return v;
  }
  const ra = header(headers, 'retry-after');
  if (ra !== undefined) {
    const s = parseFloat(ra);
    if (!Number.isNaN(s)) return s === 0 ? undefined : s * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return date - nowMs;
  }
  return undefined;
}

/** The SDK's `calculateDefaultRetryTimeoutMillis`: `retriesMade` = retries already made (0 before the first). */
export function backoffMs(retriesMade: number, random: () => number = Math.random): number {
  const seconds = Math.min(0.5 * Math.pow(2, retriesMade), 8);
  return seconds * (1 - random() * 0.25) * 1000;
}

/**
 * How long (simulated ms) the client waits before retry number `retriesMade + 1`: the server's
 * wait (already in simulated ms) when it gave one (and, with a cap, when within it), else the backoff.
 */
export function retryDelay(policy: ClientPolicy, serverWaitMs: number | undefined, retriesMade: number, random: () => number = Math.random): { ms: number; fromServer: boolean } {
  if (serverWaitMs !== undefined && (policy.retryAfterCapMs === undefined || (serverWaitMs >= 0 && serverWaitMs <= policy.retryAfterCapMs))) {
    return { ms: Math.max(0, serverWaitMs), fromServer: true };
  }
  return { ms: backoffMs(retriesMade, random), fromServer: false };
}

/** What one attempt saw, in simulated ms from the request's first send. */
export interface Attempt {
  startMs: number;
  /** HTTP status; 0 for a failed connection, 408 for the client's own timeout. */
  status: number;
  /** The client gave up waiting (first content not within the timeout). */
  timedOut: boolean;
  /** First content (token or whole body) seen, ms after startMs. */
  firstContentMs?: number;
  /** Ended (body complete, error or abort), ms after startMs. */
  endMs: number;
  ok: boolean;
  /** The server's requested wait (simulated ms), when it gave one. */
  retryAfterMs?: number;
  /** The server's expected wait for an admitted request (simulated ms), when it tells it. */
  expectedWaitMs?: number;
}

/** The result of running an attempt function under the policy. */
export interface ClientOutcome {
  attempts: Attempt[];
  ok: boolean;
  /** First content of the successful attempt, ms after the first send (retries' waits included). */
  ttftMs: number;
  e2eMs: number;
}

/** What the transport must do: send once with this timeout, saying how many retries came before; `headers` for retry decisions. */
export type AttemptFn = (timeoutMs: number, retriesMade: number) => Promise<Omit<Attempt, 'startMs'> & { headers?: Headers }>;

/**
 * Runs attempts as the SDK does. Clock and sleep are injected (simulated ms), so tests run it
 * without a server; `serverToSimMs` converts a server-given wait into simulated ms.
 */
export async function runClient(
  policy: ClientPolicy,
  attempt: AttemptFn,
  clock: { now(): number; sleep(ms: number): Promise<void> },
  opts: { random?: () => number; serverToSimMs?: (ms: number) => number } = {},
): Promise<ClientOutcome> {
  const t0 = clock.now();
  const attempts: Attempt[] = [];
  for (let retriesMade = 0; ; retriesMade++) {
    const startMs = clock.now() - t0;
    const { headers, ...a } = await attempt(policy.timeoutMs, retriesMade);
    const serverWait = headers ? serverRetryAfterMs(headers) : undefined;
    const serverWaitSim = serverWait === undefined ? undefined : (opts.serverToSimMs ?? ((x: number) => x))(serverWait);
    const rec: Attempt = { ...a, startMs, ...(serverWaitSim !== undefined ? { retryAfterMs: serverWaitSim } : {}) };
    attempts.push(rec);
    if (a.ok) {
      return { attempts, ok: true, ttftMs: startMs + (a.firstContentMs ?? a.endMs), e2eMs: startMs + a.endMs };
    }
    // A stream that failed after its first content is not retried (the SDK cannot retry a body it has returned).
    const retryable = a.firstContentMs === undefined && (a.timedOut || a.status === 0 || shouldRetry(a.status, headers ?? {}));
    if (!retryable || retriesMade >= policy.maxRetries) {
      return { attempts, ok: false, ttftMs: NaN, e2eMs: startMs + a.endMs };
    }
    await clock.sleep(retryDelay(policy, serverWaitSim, retriesMade, opts.random).ms);
  }
}
