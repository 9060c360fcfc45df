import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { admin, Platform, startPlatform } from './platform';

/**
 * The whole platform, started as `npm start` starts it (simulated GPUs, PGlite, the launcher),
 * driven by the official `openai` client as a user would drive it.
 */
let p: Platform;
let client: OpenAI;

before(async () => {
  p = await startPlatform({ EDGE_QUEUE_BOUND: '3' });
  client = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
});

after(async () => {
  await p?.stop();
});

async function busySlots(model: string): Promise<number> {
  let total = 0;
  for (const url of p.workerUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('switchyard_worker_busy_slots{') && line.includes(`model="${model}"`)) total += Number(line.split(' ').pop());
    }
  }
  return total;
}

async function raw(path: string, init: RequestInit = {}) {
  return fetch(`${p.baseUrl}${path}`, init);
}

describe('the portal examples work unchanged but for the host', () => {
  test('the seed curl example: POST /api/chat/completions', async () => {
    const res = await raw('/api/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${p.demoKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Why is the sky blue?' }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.ok(res.headers.get('x-request-id'));
    const body = (await res.json()) as OpenAI.Chat.Completions.ChatCompletion;
    assertOpenAISchema('CreateChatCompletionResponse', body);
    assert.ok((body.choices[0].message.content ?? '').length > 0);
  });

  test('a doubled slash from joining a base URL ending in / still routes', async () => {
    const res = await raw('/api//models', { headers: { authorization: `Bearer ${p.demoKey}` } });
    assert.equal(res.status, 200);
    assertOpenAISchema('ListModelsResponse', await res.json());
  });

  test('client.models.list() with a baseURL ending in /api/', async () => {
    const portal = new OpenAI({ baseURL: `${p.baseUrl}/api/`, apiKey: p.demoKey, maxRetries: 0 });
    const page = await portal.models.list();
    const ids = page.data.map((m) => m.id);
    for (const m of ['llama3.1:8b', 'codellama:13b', 'codestral:22b', 'mistral-large:123b']) assert.ok(ids.includes(m), `${m} listed`);
    assertOpenAISchema('ListModelsResponse', { object: 'list', data: page.data });
  });
});

describe('every route through the official client', () => {
  test('models: list and one model with its residency and context window', async () => {
    const page = await client.models.list();
    for (const m of page.data) assertOpenAISchema('Model', m);
    const one = (await client.models.retrieve('mistral-large:123b')) as OpenAI.Models.Model & { switchyard?: { context_window: number } };
    assertOpenAISchema('Model', one);
    assert.equal(one.switchyard?.context_window, 4096);
  });

  test('chat, non-stream', async () => {
    const r = await client.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 20 });
    assertOpenAISchema('CreateChatCompletionResponse', r);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage?.completion_tokens, 20);
  });

  test('chat, stream with include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'Tell me a story' }],
      max_tokens: 30,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) {
      assertOpenAISchema('CreateChatCompletionStreamResponse', c);
      chunks.push(c);
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(finish?.choices[0].finish_reason, 'length');
    const usage = chunks[chunks.length - 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage?.completion_tokens, 30);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.ok(text.length > 0);
  });

  test('completions with suffix (fill-in-the-middle), non-stream and stream', async () => {
    const r = await client.completions.create({ model: 'codestral:22b', prompt: 'def add(a, b):\n    ', suffix: '\n    return result', max_tokens: 16 });
    assertOpenAISchema('CreateCompletionResponse', r);
    assert.ok(r.choices[0].text.length > 0);
    const stream = await client.completions.create({ model: 'codestral:22b', prompt: 'def add(a, b):\n    ', suffix: '\n', max_tokens: 8, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
  });

  test('the largest portal model, mistral-large:123b (a whole GPU), is served', async () => {
    const r = await client.chat.completions.create({ model: 'mistral-large:123b', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 });
    assertOpenAISchema('CreateChatCompletionResponse', r);
    assert.equal(r.usage?.completion_tokens, 5);
  });

  test('embeddings: the SDK default (base64) and float', async () => {
    const r = await client.embeddings.create({ model: 'nomic-embed-text', input: ['first text', 'second text'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, 768);
    const f = await client.embeddings.create({ model: 'nomic-embed-text', input: 'one', encoding_format: 'float' });
    assertOpenAISchema('CreateEmbeddingResponse', f);
    assert.equal(f.data[0].embedding.length, 768);
  });
});

describe('errors a user can act on', () => {
  test('401 for a bad key', async () => {
    const bad = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: 'sk-not-a-real-key', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e: unknown) => e instanceof APIError && e.status === 401 && !JSON.stringify(e.error).includes('sk-not-a-real-key'));
  });

  test('404 for an unknown model', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model:1b', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => e instanceof APIError && e.status === 404 && e.code === 'model_not_found',
    );
  });

  test('400 for a bad body, in OpenAI error shape', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], n: 2 }), (e: unknown) => e instanceof APIError && e.status === 400);
    const res = await raw('/v1/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${p.demoKey}`, 'content-type': 'application/json' }, body: '{"model": ' });
    assert.equal(res.status, 400);
    assertOpenAISchema('ErrorResponse', await res.json());
  });

  test("429 over a key's requests-per-minute limit, with x-ratelimit headers", async () => {
    const k = await admin(p).createKey({ requestsPerMinute: 2 });
    const limited = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: k.key, maxRetries: 0 });
    for (let i = 0; i < 2; i++) await limited.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    await assert.rejects(limited.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof APIError);
      assert.equal(e.status, 429);
      assert.equal(e.headers?.get('x-ratelimit-limit-requests'), '2');
      assert.equal(e.headers?.get('x-ratelimit-remaining-requests'), '0');
      assert.ok(Number(e.headers?.get('retry-after')) > 0);
      return true;
    });
  });

  test("503 with Retry-After when a model's queue is full", async () => {
    const attempts = await Promise.allSettled(
      Array.from({ length: 12 }, () => client.chat.completions.create({ model: 'qwen2.5:72b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 })),
    );
    const rejected = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => a.reason as APIError);
    const full = rejected.filter((e) => e.status === 503);
    assert.ok(full.length >= 1, `expected 503s, got ${rejected.map((e) => e.status).join(',')}`);
    for (const e of full) {
      assert.ok(Number(e.headers?.get('retry-after')) >= 1);
      assert.ok(Number(e.headers?.get('retry-after-ms')) > 0);
      assertOpenAISchema('ErrorResponse', { error: e.error });
    }
    assert.ok(attempts.some((a) => a.status === 'fulfilled'), 'the admitted requests are served once the model loads');
  });
});

describe('what happens behind the API', () => {
  test("a client that disconnects cancels its job: the GPU slot is freed within 1 s", async () => {
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'llama3.1:70b', messages: [{ role: 'user', content: 'Write a very long essay' }], max_tokens: 4000, stream: true },
      { signal: ac.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    let got = 0;
    while (got < 3) {
      const { value, done } = await it.next();
      assert.ok(!done, 'the stream is still running');
      if (value.choices[0]?.delta?.content) got++;
    }
    assert.ok((await busySlots('llama3.1:70b')) >= 1, 'the job holds a GPU slot while streaming');
    ac.abort();
    const t0 = Date.now();
    let busy = await busySlots('llama3.1:70b');
    while (busy > 0 && Date.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 100));
      busy = await busySlots('llama3.1:70b');
    }
    assert.equal(busy, 0);
    assert.ok(Date.now() - t0 <= 1500, `slot freed after ${Date.now() - t0} ms`);
  });

  test('a revoked key is refused within 1 s', async () => {
    const k = await admin(p).createKey();
    const c = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: k.key, maxRetries: 0 });
    await c.models.list();
    await admin(p).revoke(k.id);
    const t0 = Date.now();
    let status = 200;
    while (Date.now() - t0 < 3000) {
      try {
        await c.models.list();
      } catch (e) {
        status = e instanceof APIError ? (e.status ?? 0) : 0;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - t0 < 1000, `refused after ${Date.now() - t0} ms`);
  });

  test('usage appears in the ledger once per request', async () => {
    const k = await admin(p).createKey();
    const c = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: k.key, maxRetries: 0 });
    await c.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'one' }], max_tokens: 5 });
    const s = await c.chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'two' }], max_tokens: 7, stream: true });
    for await (const _ of s) void _;
    let usage = await admin(p).usage(k.id);
    const t0 = Date.now();
    while (usage.totals.requests < 2 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      usage = await admin(p).usage(k.id);
    }
    await new Promise((r) => setTimeout(r, 500));
    usage = await admin(p).usage(k.id);
    assert.equal(usage.totals.requests, 2);
    assert.equal(usage.totals.completionTokens, 12);
  });
});

describe('observability of the running platform', () => {
  /** The metrics catalogue (docs/metrics.md): service section -> metric names. */
  function catalogue(): Map<string, string[]> {
    const text = readFileSync(path.resolve(__dirname, '../../../docs/metrics.md'), 'utf8');
    const out = new Map<string, string[]>();
    let section = '';
    for (const line of text.split('\n')) {
      const h = /^### (.+)$/.exec(line);
      if (h) section = h[1].trim();
      const m = /^\| `(switchyard_[a-z0-9_]+)`/.exec(line);
      if (m && section) out.set(section, [...(out.get(section) ?? []), m[1]]);
    }
    return out;
  }

  test("a scrape of each service returns the catalogue's metrics for it", async () => {
    const cat = catalogue();
    const targets: Record<string, string[]> = {
      edge: [p.baseUrl],
      auth: [p.authUrl],
      scheduler: [p.schedulerUrl],
      worker: p.workerUrls,
    };
    const common = cat.get('All services') ?? [];
    assert.ok(common.includes('switchyard_build_info'));
    for (const [service, urls] of Object.entries(targets)) {
      const names = [...common, ...(cat.get(service) ?? [])];
      assert.ok(names.length > common.length, `the catalogue lists ${service}'s metrics`);
      for (const url of urls) {
        const res = await fetch(`${url}/metrics`);
        assert.equal(res.status, 200);
        const text = await res.text();
        const missing = names.filter((n) => !text.includes(`# TYPE ${n} `));
        assert.deepEqual(missing, [], `${service} at ${url} is missing catalogue metrics`);
        assert.ok(!text.includes(p.demoKey), 'no key in metrics');
      }
    }
  });

  test('every service answers /healthz and /readyz', async () => {
    for (const url of [p.baseUrl, p.authUrl, p.schedulerUrl, ...p.workerUrls]) {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
    }
  });
});
