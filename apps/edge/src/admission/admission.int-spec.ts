import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { APIError } from 'openai';
import { INFERENCE_JOB_NAME, Queues, RedisKeys, type ResidencyEntry } from '@switchyard/contracts';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../testing/edge-harness';

const KEYS = {
  rpm: 'sk-test-rpm-two-0123456789abcdefgh',
  tpm: 'sk-test-tpm-small-0123456789abcdef',
  quota: 'sk-test-quota-spent-0123456789abc',
  narrow: 'sk-test-only-llama-0123456789abcd',
  fresh: 'sk-test-never-cached-0123456789ab',
};

/** Asserts an OpenAI-shaped error with status, type/code/param, x-request-id and x-should-retry. */
function expectError(status: number, code: string | null, extra: (err: APIError) => void = () => undefined) {
  return (err: unknown) => {
    assert.ok(err instanceof APIError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code);
    assertOpenAISchema('ErrorResponse', { error: err.error });
    assert.match(err.headers?.get('x-request-id') ?? '', /^req_/);
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    if (!retryable) assert.equal(err.headers?.get('x-should-retry'), 'false');
    extra(err);
    return true;
  };
}

async function rawPost(h: EdgeHarness, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json', ...headers },
    body,
  });
  const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  assertOpenAISchema('ErrorResponse', json);
  assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
  return { res, json };
}

const chat = (model: string, content = 'hello', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user' as const, content }],
  ...extra,
});

describe('admission: every refusal in OpenAI\'s shape, before anything is queued', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      env: { EDGE_QUEUE_BOUND: '2', EDGE_MAX_BODY_BYTES: String(64 * 1024), EDGE_MAX_TOKENS_CAP: '4096' },
      keys: {
        [KEYS.rpm]: { keyId: 'key-rpm', userId: 'u-rpm', policy: { requestsPerMinute: 2 } },
        [KEYS.tpm]: { keyId: 'key-tpm', userId: 'u-tpm', policy: { tokensPerMinute: 300 } },
        [KEYS.quota]: { keyId: 'key-quota', userId: 'u-quota', policy: { tokenBudget: 1000 }, budgetUsed: 1000 },
        [KEYS.narrow]: { keyId: 'key-narrow', userId: 'u-narrow', policy: { allModels: false, allowedModels: ['llama3.1:8b'] } },
        [KEYS.fresh]: { keyId: 'key-fresh', userId: 'u-fresh' },
      },
    });
  });
  after(async () => {
    await h.close();
  });

  test('401: no key, a non-Bearer header, an unknown key; the key is never echoed', async () => {
    for (const headers of [{ authorization: '' }, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const { res, json } = await rawPost(h, '/v1/chat/completions', JSON.stringify(chat('llama3.1:8b')), headers);
      assert.equal(res.status, 401);
      assert.equal(json.error.code, 'invalid_api_key');
      assert.equal(json.error.type, 'invalid_request_error');
      assert.equal(res.headers.get('x-should-retry'), 'false');
    }
    const bad = 'sk-this-key-does-not-exist-42';
    await assert.rejects(
      h.client(bad).chat.completions.create(chat('llama3.1:8b')),
      expectError(401, 'invalid_api_key', (err) => assert.ok(!err.message.includes(bad))),
    );
  });

  test('503 when the auth service is down (not 401), retryable', async () => {
    h.auth.unavailable = true;
    try {
      await assert.rejects(h.client(KEYS.fresh).chat.completions.create(chat('llama3.1:8b')), expectError(503, 'auth_unavailable'));
    } finally {
      h.auth.unavailable = false;
    }
  });

  test('404 model_not_found for a model outside the catalogue; 403 for one the key may not use', async () => {
    await assert.rejects(h.client().chat.completions.create(chat('gpt-4o')), expectError(404, 'model_not_found', (e) => assert.equal(e.param, 'model')));
    await assert.rejects(h.client().completions.create({ model: 'nope:1b', prompt: 'x' }), expectError(404, 'model_not_found'));
    await assert.rejects(h.client().embeddings.create({ model: 'nope', input: 'x' }), expectError(404, 'model_not_found'));
    await assert.rejects(
      h.client(KEYS.narrow).chat.completions.create(chat('codellama:13b')),
      expectError(403, 'model_not_allowed', (e) => assert.equal(e.type, 'permission_error')),
    );
    await h.client(KEYS.narrow).chat.completions.create(chat('llama3.1:8b'));
  });

  test('requests per minute: x-ratelimit-* headers, then 429 with Retry-After from the window', async () => {
    const c = h.client(KEYS.rpm);
    const first = await c.chat.completions.create(chat('llama3.1:8b')).withResponse();
    assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.match(first.response.headers.get('x-ratelimit-reset-requests') ?? '', /^(\d+m)?\d+(\.\d+)?(ms|s)$/);
    const stream = await c.chat.completions.create({ ...chat('llama3.1:8b'), stream: true }).withResponse();
    assert.equal(stream.response.headers.get('x-ratelimit-remaining-requests'), '0');
    for await (const _ of stream.data) void _;
    await assert.rejects(
      c.chat.completions.create(chat('llama3.1:8b')),
      expectError(429, 'rate_limit_exceeded', (err) => {
        const ms = Number(err.headers?.get('retry-after-ms'));
        assert.ok(ms > 50_000 && ms <= 60_000, `retry-after-ms ${ms}: until the oldest request leaves the minute`);
        assert.equal(err.headers?.get('retry-after'), String(Math.ceil(ms / 1000)));
        assert.equal(err.headers?.get('x-ratelimit-remaining-requests'), '0');
        assert.equal(err.type, 'rate_limit_error');
      }),
    );
  });

  test('tokens per minute: reserved prompt + max_tokens, 429 when over; a request larger than the limit is not retryable', async () => {
    const c = h.client(KEYS.tpm);
    const ok = await c.chat.completions.create(chat('llama3.1:8b', 'hi', { max_tokens: 150 })).withResponse();
    assert.equal(ok.response.headers.get('x-ratelimit-limit-tokens'), '300');
    // The reservation is settled to the worker's count: 8 + 3 tokens stay in the window, not ~160.
    await new Promise((r) => setTimeout(r, 50));
    const again = await c.chat.completions.create(chat('llama3.1:8b', 'hi', { max_tokens: 200 })).withResponse();
    assert.ok(Number(again.response.headers.get('x-ratelimit-remaining-tokens')) < 300 - 200);
    await new Promise((r) => setTimeout(r, 50));
    // 2 × 11 settled tokens in the window + 8 + 290 reserved > 300.
    await assert.rejects(
      c.chat.completions.create(chat('llama3.1:8b', 'hi', { max_tokens: 290 })),
      expectError(429, 'rate_limit_exceeded', (err) => assert.ok(Number(err.headers?.get('retry-after-ms')) > 0)),
    );
    await assert.rejects(
      c.chat.completions.create(chat('llama3.1:8b', 'hi', { max_tokens: 400 })),
      expectError(429, 'request_too_large', (err) => assert.equal(err.headers?.get('x-should-retry'), 'false')),
    );
  });

  test('token budget spent: 429 insufficient_quota, not retryable', async () => {
    await assert.rejects(
      h.client(KEYS.quota).chat.completions.create(chat('llama3.1:8b')),
      expectError(429, 'insufficient_quota', (err) => {
        assert.equal(err.type, 'insufficient_quota');
        assert.equal(err.headers?.get('x-should-retry'), 'false');
      }),
    );
  });

  test('a full (pool, model) queue: 503 with Retry-After from queue position and load time, then from residency', async () => {
    const queue = new Queue(Queues.inference('shared', 'cold:70b'), { connection: h.redis, prefix: Queues.bullPrefix(h.prefix) });
    try {
      await queue.add(INFERENCE_JOB_NAME, { placeholder: 1 }, { jobId: 'filler-1' });
      await queue.add(INFERENCE_JOB_NAME, { placeholder: 2 }, { jobId: 'filler-2' });
      // Not resident: 2 s + 40 GB / 2 GB/s load guess, plus 1 job ahead × 4 s ÷ 4 slots.
      await assert.rejects(
        h.client().chat.completions.create(chat('cold:70b')),
        expectError(503, 'queue_full', (err) => {
          assert.equal(err.headers?.get('retry-after-ms'), '23000');
          assert.equal(err.headers?.get('retry-after'), '23');
        }),
      );
      const entry: ResidencyEntry = { model: 'cold:70b', workers: ['w1'], loading: [], loadSeconds: 30, slots: 2, updatedAt: Date.now() };
      await h.redis.hset(RedisKeys.residency(h.prefix), 'cold:70b', JSON.stringify(entry));
      await queue.add(INFERENCE_JOB_NAME, { placeholder: 3 }, { jobId: 'filler-3' });
      await new Promise((r) => setTimeout(r, 1100)); // the edge reads residency at most a second old
      // Resident on 2 slots, 2 jobs ahead of a free place: 2 × 4 s ÷ 2 = 4 s, no load.
      await assert.rejects(
        h.client().chat.completions.create(chat('cold:70b')),
        expectError(503, 'queue_full', (err) => assert.equal(err.headers?.get('retry-after-ms'), '4000')),
      );
      assert.equal((await queue.getJobCounts('waiting')).waiting, 3, 'nothing of ours was queued');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  test("max_tokens above EDGE_MAX_TOKENS_CAP: 400; above the model's max_output_tokens: clamped to it", async () => {
    const clamped = await h.client().chat.completions.create(chat('tiny:1b', 'x [echo]', { max_tokens: 129 }));
    assert.equal((JSON.parse(clamped.choices[0].message.content ?? '{}') as { options: { num_predict?: number } }).options.num_predict, 128);
    await assert.rejects(
      h.client().chat.completions.create(chat('llama3.1:8b', 'x', { max_completion_tokens: 5000 })),
      expectError(400, 'invalid_value', (e) => assert.equal(e.param, 'max_completion_tokens')),
    );
    await assert.rejects(
      h.client().completions.create({ model: 'tiny:1b', prompt: 'x', max_tokens: 5000 }),
      expectError(400, 'invalid_value', (e) => assert.equal(e.param, 'max_tokens')),
    );
    await h.client().completions.create({ model: 'tiny:1b', prompt: 'x', max_tokens: 1000 });
  });

  test('a prompt that cannot fit the fixed context window: 400 context_length_exceeded', async () => {
    await assert.rejects(
      h.client().chat.completions.create(chat('tiny:1b', 'word '.repeat(400))),
      expectError(400, 'context_length_exceeded', (e) => {
        assert.equal(e.param, 'messages');
        assert.match(e.message, /maximum context length is 512 tokens/);
      }),
    );
    // Fits alone, but not with the completion asked for: the limit is clamped to the room left (as Ollama does).
    const clamped = await h.client().chat.completions.create(chat('tiny:1b', `${'x'.repeat(1200)} [echo]`, { max_tokens: 128 }));
    const sent = JSON.parse(clamped.choices[0].message.content ?? '{}') as { options: { num_predict?: number } };
    assert.ok((sent.options.num_predict ?? 0) > 0 && (sent.options.num_predict ?? 0) < 128, `num_predict clamped to the room left: ${sent.options.num_predict}`);
    await assert.rejects(h.client().completions.create({ model: 'tiny:1b', prompt: 'x'.repeat(1600) }), expectError(400, 'context_length_exceeded', (e) => assert.equal(e.param, 'prompt')));
    await h.client().chat.completions.create(chat('tiny:1b', 'x'.repeat(900), { max_tokens: 128 }));
  });

  test('413 for a body over EDGE_MAX_BODY_BYTES, 400 for bad JSON, 404 for an unknown route', async () => {
    const big = JSON.stringify(chat('llama3.1:8b', 'x'.repeat(70 * 1024)));
    const tooBig = await rawPost(h, '/v1/chat/completions', big);
    assert.equal(tooBig.res.status, 413);
    assert.equal(tooBig.json.error.code, 'request_too_large');
    assert.equal(tooBig.res.headers.get('x-should-retry'), 'false');

    for (const body of ['{"model": ', 'null', '[1,2]']) {
      const { res, json } = await rawPost(h, '/v1/chat/completions', body);
      assert.equal(res.status, 400, body);
      assert.equal(json.error.type, 'invalid_request_error');
      assert.equal(res.headers.get('x-should-retry'), 'false');
    }
    const missing = await rawPost(h, '/api/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(missing.res.status, 400);
    assert.equal(missing.json.error.param, 'model');

    for (const [method, path] of [
      ['POST', '/v1/unknown'],
      ['GET', '/v1/chat/completions'],
      ['POST', '/v2/chat/completions'],
    ]) {
      const res = await fetch(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${ALL_KEY}` } });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
      const json = await res.json();
      assertOpenAISchema('ErrorResponse', json);
    }
  });

  test('x-request-id: a sane client id is echoed, yet never becomes the job id', async () => {
    const before = h.worker.received.length;
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json', 'x-request-id': 'client-trace-1' },
      body: JSON.stringify(chat('llama3.1:8b')),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'client-trace-1');
    assert.equal(h.worker.received.length, before + 1);
    assert.notEqual(h.worker.received[before].requestId, 'client-trace-1');
  });

  test('rejections are counted by reason', async () => {
    const text = await h.metrics();
    for (const reason of ['auth', 'model_not_found', 'forbidden', 'rate_limit_requests', 'rate_limit_tokens', 'quota', 'queue_full', 'max_tokens', 'context_length', 'body_too_large']) {
      assert.match(text, new RegExp(`switchyard_edge_rejections_total\\{reason="${reason}"\\} [1-9]`), reason);
    }
    assert.match(text, /switchyard_edge_requests_total\{route="chat\/completions",model="unknown",status="404"\} [1-9]/);
  });
});

/** A streamed request to cold:70b with the headers the `openai` SDK sends on its try number `retriesMade + 1`: its status and headers. */
async function sdkTry(h: EdgeHarness, key: string, retriesMade: number, timeoutS: number, content = 'hello') {
  const ac = new AbortController();
  const res = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    signal: ac.signal,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-stainless-retry-count': String(retriesMade),
      'x-stainless-timeout': String(timeoutS),
    },
    body: JSON.stringify(chat('cold:70b', content, { stream: true })),
  });
  const error = res.status === 200 ? undefined : ((await res.json()) as { error: { code: string; message: string } }).error;
  ac.abort();
  return { status: res.status, headers: res.headers, error };
}

/** cold:70b resident on one slot with five jobs ahead of any new request. */
async function fiveAhead(h: EdgeHarness): Promise<Queue> {
  const queue = new Queue(Queues.inference('shared', 'cold:70b'), { connection: h.redis, prefix: Queues.bullPrefix(h.prefix) });
  const entry: ResidencyEntry = { model: 'cold:70b', workers: ['w1'], loading: [], loadSeconds: 30, slots: 1, updatedAt: Date.now() };
  await h.redis.hset(RedisKeys.residency(h.prefix), 'cold:70b', JSON.stringify(entry));
  for (let i = 1; i <= 5; i++) await queue.add(INFERENCE_JOB_NAME, { placeholder: i }, { jobId: `filler-${i}` });
  return queue;
}

describe("admission by expected wait: a client's last try", () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({ env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000', EDGE_QUEUE_BOUND: '50' } });
  });
  after(async () => {
    await h.close();
  });

  test('is admitted when its expected wait is within half its timeout; first tries and first retries keep to the bound', async () => {
    // Resident on one slot, nothing served yet (4 s a job assumed), five jobs ahead: 20 s, past the 3 s bound.
    const queue = await fiveAhead(h);
    try {
      for (const retriesMade of [0, 1]) {
        const r = await sdkTry(h, ALL_KEY, retriesMade, 600);
        assert.equal(r.status, 503, `try ${retriesMade + 1}`);
        assert.equal(r.error?.code, 'expected_wait_exceeded');
        assert.ok(Number(r.headers.get('retry-after-ms')) > 0);
      }
      // The SDK's last try (2 retries by default) with its 600 s timeout: admitted, told its wait.
      const last = await sdkTry(h, ALL_KEY, 2, 600);
      assert.equal(last.status, 200);
      assert.equal(last.headers.get('x-switchyard-expected-wait-ms'), '20000');
      assert.match(await h.metrics(), /switchyard_edge_last_try_admissions_total\{model="cold:70b"\} 1\b/);
      // A client that gives up after 20 s may wait 10 s: refused, and told which bound it was held to.
      const impatient = await sdkTry(h, ALL_KEY, 2, 20);
      assert.equal(impatient.status, 503);
      assert.match(impatient.error?.message ?? '', /bound of 10 s/);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('admission by expected wait: a place kept for a refused request goes to that request sent again', () => {
  const OTHER_KEY = 'sk-test-another-user-0123456789ab';
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      env: { EDGE_MAX_EXPECTED_WAIT_MS: '1500', EDGE_DEFAULT_SERVICE_MS: '1000', EDGE_QUEUE_BOUND: '50' },
      keys: { [OTHER_KEY]: { keyId: 'key-other', userId: 'user-2' } },
    });
  });
  after(async () => {
    await h.close();
  });

  test("an application that retries by itself, its SDK's retries off (0 on every try), is admitted when it comes back when told; a first try is not", async () => {
    // One job at a time, 1 s each assumed, five ahead: 5 s, past the 1.5 s bound.
    const queue = await fiveAhead(h);
    try {
      const first = await sdkTry(h, ALL_KEY, 0, 600);
      assert.equal(first.status, 503);
      assert.equal(first.error?.code, 'expected_wait_exceeded');
      const retryAfterMs = Number(first.headers.get('retry-after-ms'));
      assert.ok(retryAfterMs > 0 && retryAfterMs < 10_000, `told to come back in ${retryAfterMs} ms`);
      await new Promise((r) => setTimeout(r, retryAfterMs + 50));
      const someoneElse = await sdkTry(h, OTHER_KEY, 0, 600);
      assert.equal(someoneElse.status, 503, "another key's first try does not take the place kept for the refused request");
      const next = await sdkTry(h, ALL_KEY, 0, 600, 'my next question');
      assert.equal(next.status, 503, "nor the same key's next request");
      const back = await sdkTry(h, ALL_KEY, 0, 600);
      assert.equal(back.status, 200, 'the refused request, back when told, is admitted past the bound');
      assert.equal(back.headers.get('x-switchyard-expected-wait-ms'), '5000');
      assert.match(await h.metrics(), /switchyard_edge_kept_places_total\{model="cold:70b"\} 1\b/);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
