import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Attempt, AttemptFn, backoffMs, OPENAI_SDK_DEFAULTS, retryDelay, runClient, serverRetryAfterMs, shouldRetry } from './client';

/** A clock that advances only when the client sleeps or an attempt takes time. */
function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    clock: { now: () => now, sleep: async (ms: number) => void (sleeps.push(ms), (now += ms)) },
    advance: (ms: number) => (now += ms),
    sleeps,
  };
}

type Reply = Omit<Attempt, 'startMs'> & { headers?: Record<string, string> };
const reply = (status: number, extra: Partial<Reply> = {}): Reply => ({ status, ok: status === 200, timedOut: false, endMs: 10, ...(status === 200 ? { firstContentMs: 5 } : {}), ...extra });

function scripted(c: ReturnType<typeof fakeClock>, replies: Reply[]): AttemptFn {
  let i = 0;
  return async () => {
    const r = replies[i++];
    c.advance(r.endMs);
    return r;
  };
}

test('retries the statuses the SDK retries, and obeys x-should-retry', () => {
  for (const s of [408, 409, 429, 500, 502, 503, 504]) assert.equal(shouldRetry(s), true, String(s));
  for (const s of [400, 401, 403, 404, 422]) assert.equal(shouldRetry(s), false, String(s));
  assert.equal(shouldRetry(400, { 'x-should-retry': 'true' }), true);
  assert.equal(shouldRetry(503, { 'x-should-retry': 'false' }), false);
});

test('retry-after-ms wins over Retry-After; seconds and HTTP dates are read', () => {
  assert.equal(serverRetryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' }), 1500);
  assert.equal(serverRetryAfterMs({ 'retry-after': '2' }), 2000);
  assert.equal(serverRetryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4_000), 6_000);
  assert.equal(serverRetryAfterMs({}), undefined);
});

test('backoff: 0.5 s × 2^n capped at 8 s, minus up to 25% jitter', () => {
  assert.equal(backoffMs(0, () => 0), 500);
  assert.equal(backoffMs(1, () => 0), 1000);
  assert.equal(backoffMs(5, () => 0), 8000);
  assert.equal(backoffMs(0, () => 1), 375);
  for (let n = 0; n < 6; n++) {
    const ms = backoffMs(n);
    const base = Math.min(0.5 * 2 ** n, 8) * 1000;
    assert.ok(ms > 0.75 * base - 1e-9 && ms <= base, `${n}: ${ms}`);
  }
});

test('a server wait is obeyed whatever its length (SDK 6.x); with the 4.x cap, a long one falls back to the backoff', () => {
  assert.deepEqual(retryDelay(OPENAI_SDK_DEFAULTS, 90_000, 0, () => 0), { ms: 90_000, fromServer: true });
  assert.deepEqual(retryDelay({ ...OPENAI_SDK_DEFAULTS, retryAfterCapMs: 60_000 }, 90_000, 0, () => 0), { ms: 500, fromServer: false });
  assert.deepEqual(retryDelay(OPENAI_SDK_DEFAULTS, undefined, 1, () => 0), { ms: 1000, fromServer: false });
});

test('two retries at most: 503, 503, 503 is not served; waits follow the headers', async () => {
  const c = fakeClock();
  const out = await runClient(OPENAI_SDK_DEFAULTS, scripted(c, [reply(503, { headers: { 'retry-after-ms': '30' } }), reply(503), reply(503)]), c.clock, {
    random: () => 0,
    serverToSimMs: (ms) => ms * 20,
  });
  assert.equal(out.ok, false);
  assert.equal(out.attempts.length, 3);
  assert.deepEqual(c.sleeps, [600, 1000]); // 30 real ms × 20; then the backoff for the second retry
  assert.equal(out.attempts[0].retryAfterMs, 600);
  assert.equal(out.attempts[1].startMs, 10 + 600);
});

test('served after a retry: TTFT counts from the first send, retry waits included', async () => {
  const c = fakeClock();
  const out = await runClient(OPENAI_SDK_DEFAULTS, scripted(c, [reply(429, { headers: { 'retry-after': '2' } }), reply(200)]), c.clock, { random: () => 0 });
  assert.equal(out.ok, true);
  assert.equal(out.ttftMs, 10 + 2000 + 5);
  assert.equal(out.e2eMs, 10 + 2000 + 10);
});

test('a timed-out attempt is retried; a client error or a stream that broke after its first token is not', async () => {
  const c = fakeClock();
  const timedOut = await runClient(OPENAI_SDK_DEFAULTS, scripted(c, [reply(0, { timedOut: true, endMs: 600_000 }), reply(200)]), c.clock, { random: () => 0 });
  assert.equal(timedOut.ok, true);
  assert.equal(timedOut.attempts.length, 2);
  const c2 = fakeClock();
  const bad = await runClient(OPENAI_SDK_DEFAULTS, scripted(c2, [reply(404), reply(200)]), c2.clock);
  assert.equal(bad.ok, false);
  assert.equal(bad.attempts.length, 1);
  const c3 = fakeClock();
  const broken = await runClient(OPENAI_SDK_DEFAULTS, scripted(c3, [reply(200, { ok: false, firstContentMs: 3 }), reply(200)]), c3.clock);
  assert.equal(broken.ok, false);
  assert.equal(broken.attempts.length, 1);
});

test('each attempt gets the policy timeout and the retries made before it (what the SDK says in X-Stainless-Retry-Count)', async () => {
  const c = fakeClock();
  const seen: Array<[number, number]> = [];
  await runClient({ timeoutMs: 1234, maxRetries: 2 }, async (t, n) => (seen.push([t, n]), reply(n < 2 ? 503 : 200)), c.clock, { random: () => 0 });
  assert.deepEqual(seen, [
    [1234, 0],
    [1234, 1],
    [1234, 2],
  ]);
});
