import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOpenAISchema, deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { DATABASE, type Database } from '@switchyard/database';
import { Redis } from 'ioredis';
import { BULK_DEMAND_TTL_MS, poolModelField, RedisKeys } from '@switchyard/contracts';
import type { RunningBatchApp } from '../batch-app';
import { BulkDemandPublisher } from '../runner/bulk-demand.publisher';
import { BatchRunner } from '../runner/batch-runner.service';
import { FakeWorker } from '../testing/fake-worker';
import { BatchClient, caller, chatLines, startTestBatch, tempDataDir, TEST_MODELS } from '../testing/test-batch';

interface OutLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: unknown;
}

const parseLines = (text: string): OutLine[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as OutLine);

async function submit(client: BatchClient, content: string, endpoint = '/v1/chat/completions'): Promise<string> {
  const up = await client.upload(content);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  const created = await client.json('POST', '/v1/batches', { input_file_id: up.body.id, endpoint, completion_window: '24h', metadata: { job: 'test' } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assertOpenAISchema('Batch', created.body);
  assert.equal(created.body.status, 'validating');
  return String(created.body.id);
}

describe('batches', () => {
  const prefix = randomPrefix('t-batch');
  const data = tempDataDir();
  let app: RunningBatchApp;
  let worker: FakeWorker;
  let alice: BatchClient;

  before(async () => {
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    worker = new FakeWorker({ redisUrl: TEST_REDIS_URL, prefix, queues: [TEST_MODELS.chat, TEST_MODELS.chat2, TEST_MODELS.embed].map((model) => ({ pool: 'shared', model })), delayMs: 10 });
    await worker.start();
    alice = new BatchClient(app.url, caller('alice'));
  });

  after(async () => {
    await worker?.close();
    await app?.close();
    await deleteKeysWithPrefix(prefix);
    data.cleanup();
  });

  test('a batch of chat lines over two models runs to completed; every body is a chat.completion', async () => {
    const content = `${chatLines(10, TEST_MODELS.chat)}\n${chatLines(6, TEST_MODELS.chat2, 10)}\n`;
    const id = await submit(alice, content);
    const done = await alice.waitFor(id, ['completed', 'failed']);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assertOpenAISchema('Batch', done);
    assert.deepEqual(done.request_counts, { total: 16, completed: 16, failed: 0 });
    for (const t of ['in_progress_at', 'finalizing_at', 'completed_at']) assert.equal(typeof done[t], 'number', t);
    assert.equal(done.error_file_id, undefined);
    const out = await alice.content(String(done.output_file_id));
    assert.equal(out.status, 200);
    const lines = parseLines(out.text);
    assert.equal(lines.length, 16);
    assert.deepEqual(lines.map((l) => l.custom_id).sort(), Array.from({ length: 16 }, (_, i) => `req-${i}`).sort());
    for (const l of lines) {
      assert.match(l.id, /^batch_req_/);
      assert.equal(l.error, null);
      assert.equal(l.response?.status_code, 200);
      assertOpenAISchema('CreateChatCompletionResponse', l.response?.body);
      assert.match(String((l.response?.body as { choices: Array<{ message: { content: string } }> }).choices[0].message.content), /^Hello from /);
    }
    const file = await alice.json('GET', `/v1/files/${String(done.output_file_id)}`);
    assert.equal(file.body.purpose, 'batch_output');
    const list = await alice.json('GET', '/v1/batches?limit=10');
    assert.ok((list.body.data as Array<{ id: string }>).some((b) => b.id === id));
    assert.equal((await new BatchClient(app.url, caller('bob')).json('GET', `/v1/batches/${id}`)).status, 404);
  });

  test('a malformed input fails validation with line numbers', async () => {
    const good = JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: TEST_MODELS.chat, messages: [] } });
    const content = [
      good,
      'not json',
      JSON.stringify({ custom_id: 'b', method: 'POST', url: '/v1/embeddings', body: {} }),
      good,
      JSON.stringify({ custom_id: 'c', method: 'GET', url: '/v1/chat/completions', body: {} }),
    ].join('\n');
    const id = await submit(alice, content);
    const failed = await alice.waitFor(id, ['failed', 'in_progress', 'completed']);
    assert.equal(failed.status, 'failed');
    assertOpenAISchema('Batch', failed);
    const errors = (failed.errors as { data: Array<{ code: string; line: number }> }).data;
    assert.deepEqual(
      errors.map((e) => [e.line, e.code]),
      [
        [2, 'invalid_json_line'],
        [3, 'invalid_url'],
        [4, 'duplicate_custom_id'],
        [5, 'invalid_method'],
      ],
    );
  });

  test('lines for an unknown model, a model not allowed, or an invalid body go to the error file', async () => {
    const limited = new BatchClient(app.url, caller('carol', { allModels: false, allowedModels: [TEST_MODELS.chat] }));
    const content = [
      chatLines(2, TEST_MODELS.chat),
      JSON.stringify({ custom_id: 'unknown', method: 'POST', url: '/v1/chat/completions', body: { model: 'nope:1b', messages: [{ role: 'user', content: 'x' }] } }),
      JSON.stringify({ custom_id: 'forbidden', method: 'POST', url: '/v1/chat/completions', body: { model: TEST_MODELS.chat2, messages: [{ role: 'user', content: 'x' }] } }),
      JSON.stringify({ custom_id: 'invalid', method: 'POST', url: '/v1/chat/completions', body: { model: TEST_MODELS.chat } }),
    ].join('\n');
    const id = await submit(limited, content);
    const done = await limited.waitFor(id, ['completed', 'failed']);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 5, completed: 2, failed: 3 });
    const errors = parseLines((await limited.content(String(done.error_file_id))).text);
    const byId = new Map(errors.map((e) => [e.custom_id, e]));
    assert.equal(byId.get('unknown')?.response?.status_code, 404);
    assert.equal((byId.get('unknown')?.response?.body.error as { code: string }).code, 'model_not_found');
    assert.equal(byId.get('forbidden')?.response?.status_code, 403);
    assert.equal((byId.get('forbidden')?.response?.body.error as { code: string }).code, 'model_not_allowed');
    assert.equal(byId.get('invalid')?.response?.status_code, 400);
    for (const e of errors) assertOpenAISchema('ErrorResponse', e.response?.body);
    assert.equal(parseLines((await limited.content(String(done.output_file_id))).text).length, 2);
  });

  test('a spent token budget fails every line with 429 insufficient_quota', async () => {
    const broke = new BatchClient(app.url, caller('dave', { tokenBudget: 100 }, 100));
    const id = await submit(broke, chatLines(3, TEST_MODELS.chat));
    const done = await broke.waitFor(id, ['completed', 'failed']);
    assert.deepEqual(done.request_counts, { total: 3, completed: 0, failed: 3 });
    const errors = parseLines((await broke.content(String(done.error_file_id))).text);
    assert.deepEqual(
      errors.map((e) => [e.response?.status_code, (e.response?.body.error as { code: string }).code]),
      [
        [429, 'insufficient_quota'],
        [429, 'insufficient_quota'],
        [429, 'insufficient_quota'],
      ],
    );
  });

  test('embeddings lines answer with a list of embeddings', async () => {
    const content = [0, 1].map((i) => JSON.stringify({ custom_id: `e${i}`, method: 'POST', url: '/v1/embeddings', body: { model: TEST_MODELS.embed, input: ['a', 'b'] } })).join('\n');
    const id = await submit(alice, content, '/v1/embeddings');
    const done = await alice.waitFor(id, ['completed', 'failed']);
    assert.equal(done.status, 'completed');
    for (const l of parseLines((await alice.content(String(done.output_file_id))).text)) {
      assertOpenAISchema('CreateEmbeddingResponse', l.response?.body);
      assert.equal((l.response?.body.data as unknown[]).length, 2);
    }
  });
});

describe('cancel and restart', () => {
  const prefix = randomPrefix('t-batch-cr');
  const data = tempDataDir();
  let app: RunningBatchApp | undefined;
  let worker: FakeWorker;

  before(async () => {
    worker = new FakeWorker({ redisUrl: TEST_REDIS_URL, prefix, queues: [{ pool: 'shared', model: TEST_MODELS.chat }], delayMs: 100, concurrency: 2 });
    await worker.start();
  });

  after(async () => {
    await worker?.close();
    await app?.close();
    await deleteKeysWithPrefix(prefix);
    data.cleanup();
  });

  test('cancel: queued lines are removed, running ones cancelled; cancelled with partial output', async () => {
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    const client = new BatchClient(app.url, caller('erin'));
    const id = await submit(client, chatLines(40, TEST_MODELS.chat));
    await client.waitFor(id, ['in_progress']);
    await new Promise((r) => setTimeout(r, 400));
    const cancelling = await client.json('POST', `/v1/batches/${id}/cancel`);
    assert.equal(cancelling.status, 200);
    assert.ok(['cancelling', 'cancelled'].includes(String(cancelling.body.status)));
    const done = await client.waitFor(id, ['cancelled']);
    assertOpenAISchema('Batch', done);
    assert.equal(typeof done.cancelled_at, 'number');
    const counts = done.request_counts as { total: number; completed: number };
    assert.equal(counts.total, 40);
    assert.ok(counts.completed < 40, JSON.stringify(counts));
    if (counts.completed > 0) assert.equal(parseLines((await client.content(String(done.output_file_id))).text).length, counts.completed);
    await app.close();
    app = undefined;
  });

  test('expiry: past expires_at the batch ends expired, partial results kept, the rest batch_expired', async () => {
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 2 });
    const client = new BatchClient(app.url, caller('gina'));
    const id = await submit(client, chatLines(30, TEST_MODELS.chat));
    await client.waitFor(id, ['in_progress']);
    await new Promise((r) => setTimeout(r, 300));
    await app.app.get<symbol, Database>(DATABASE).query('update batch_batches set expires_at = now() where id = $1', [id]);
    const done = await client.waitFor(id, ['expired']);
    assertOpenAISchema('Batch', done);
    assert.equal(typeof done.expired_at, 'number');
    const counts = done.request_counts as { total: number; completed: number; failed: number };
    assert.equal(counts.total, 30);
    assert.ok(counts.failed > 0);
    const errors = parseLines((await client.content(String(done.error_file_id))).text);
    assert.equal(errors.length, counts.failed);
    for (const e of errors) assert.equal((e.error as { code: string }).code, 'batch_expired');
    await app.close();
    app = undefined;
  });

  test('a restart of the batch service mid-run still answers every line exactly once', async () => {
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    const client = new BatchClient(app.url, caller('frank'));
    const id = await submit(client, chatLines(30, TEST_MODELS.chat));
    for (;;) {
      const b = await client.json('GET', `/v1/batches/${id}`);
      if ((b.body.request_counts as { completed: number }).completed >= 6) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await app.close();
    // The worker keeps running the queued jobs while nobody listens on the relay.
    await new Promise((r) => setTimeout(r, 500));
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    const again = new BatchClient(app.url, caller('frank'));
    const done = await again.waitFor(id, ['completed', 'failed'], 60_000);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 30, completed: 30, failed: 0 });
    const lines = parseLines((await again.content(String(done.output_file_id))).text);
    assert.equal(lines.length, 30);
    assert.equal(new Set(lines.map((l) => l.custom_id)).size, 30);
    assert.equal(new Set(lines.map((l) => l.response?.request_id)).size, 30);
    for (const l of lines) assertOpenAISchema('CreateChatCompletionResponse', l.response?.body);
  });

  test('the runner keeps only a window of a batch\'s lines in the queue (BATCH_WINDOW_PER_MODEL)', async () => {
    await app?.close();
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    const client = new BatchClient(app.url, caller('hal'));
    // No worker serves this model: queued lines stay queued, so the window is what is queued.
    const id = await submit(client, chatLines(20, TEST_MODELS.chat2));
    await client.waitFor(id, ['in_progress']);
    await new Promise((r) => setTimeout(r, 2500)); // several runner passes
    const db = app.app.get<symbol, Database>(DATABASE);
    const states = await db.query<{ state: string; n: number }>('select state, count(*)::bigint as n from batch_lines where batch_id = $1 group by state', [id]);
    const count = Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)]));
    assert.deepEqual(count, { queued: 4, pending: 16 });
    await client.json('POST', `/v1/batches/${id}/cancel`);
  });

  test("bulk demand for the scheduler: a running batch's pending lines per (pool, model), with an expiry; gone when it stops", async () => {
    await app?.close();
    app = await startTestBatch({ dataDir: data.dir, prefix, redisUrl: TEST_REDIS_URL, window: 4 });
    const client = new BatchClient(app.url, caller('gina'));
    // No worker serves this model: its lines stay where the runner puts them.
    const id = await submit(client, chatLines(6, TEST_MODELS.chat2));
    await client.waitFor(id, ['in_progress']);
    // Stop the runner's passes, and set the scene: 4 lines not yet in the queue.
    await app.app.get(BatchRunner).onModuleDestroy();
    const db = app.app.get<symbol, Database>(DATABASE);
    await db.query("update batch_lines set state = 'queued' where batch_id = $1", [id]);
    const first = (await db.query<{ line: number }>('select min(line) as line from batch_lines where batch_id = $1', [id])).rows[0].line;
    const held = await db.query("update batch_lines set state = 'pending' where batch_id = $1 and line >= $2 returning line", [id, Number(first) + 2]);
    assert.equal(held.rows.length, 4);
    const publisher = app.app.get(BulkDemandPublisher);
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const key = RedisKeys.bulkDemand(prefix);
    try {
      await publisher.publish(Date.now(), true);
      assert.deepEqual(await redis.hgetall(key), { [poolModelField('shared', TEST_MODELS.chat2)]: '4' });
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= BULK_DEMAND_TTL_MS, `expires (pttl ${ttl})`);
      // A batch being stopped has no demand: its field goes (here the whole key).
      await db.query("update batch_batches set ending = 'cancelled' where id = $1", [id]);
      await publisher.publish(Date.now(), true);
      assert.equal(await redis.exists(key), 0);
    } finally {
      await redis.quit();
      await app.close();
      app = undefined;
    }
  });
});
