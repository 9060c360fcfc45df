import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis from 'ioredis';
import { deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { loadEdgeConfig } from '../config/edge.config';
import { InferenceProducer } from './inference.producer';

const prefix = randomPrefix('t-producer');
const redis = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const producer = new InferenceProducer(redis, loadEdgeConfig({ SWITCHYARD_PREFIX: prefix }));

// The producer fails fast while its connection is not ready (a request must not wait for Redis).
before(async () => {
  await redis.ping();
});

after(async () => {
  await producer.onApplicationShutdown();
  await deleteKeysWithPrefix(prefix);
  redis.disconnect();
});

test('a burst of concurrent requests is admitted only up to the queue bound', async () => {
  const verdicts = await Promise.all(Array.from({ length: 12 }, () => producer.claim('shared', 'llama3.1:8b', { priority: 'interactive', key: 'k', bound: 3 })));
  assert.equal(verdicts.filter((v) => v.outcome === 'admitted').length, 3);
});

test('an enqueued job keeps counting against the bound; a released claim does not', async () => {
  const p2 = 'performance';
  const first = await producer.claim(p2, 'codestral:22b', { priority: 'interactive', key: 'k', bound: 2 });
  assert.ok(first.outcome === 'admitted');
  producer.unreserve(p2, 'codestral:22b');
  const a = await producer.claim(p2, 'codestral:22b', { priority: 'interactive', key: 'k', bound: 2 });
  assert.ok(a.outcome === 'admitted');
  await producer.enqueue({
    requestId: 'req_bound_1', pool: p2, model: 'codestral:22b', numCtx: 8192, priority: 'interactive', edgeId: 'e', keyId: 'k', userId: 'u',
    createdAt: Date.now(), estimatedPromptTokens: 3, stream: false, work: { kind: 'generate', prompt: 'x', options: {} },
  });
  const b = await producer.claim(p2, 'codestral:22b', { priority: 'interactive', key: 'k', bound: 2 });
  assert.ok(b.outcome === 'admitted', 'one queued + this one = 2');
  const c = await producer.claim(p2, 'codestral:22b', { priority: 'interactive', key: 'k', bound: 2 });
  assert.equal(c.outcome, 'full');
  assert.equal(c.queued, 2);
});

test('a deep bulk backlog never counts against the interactive bound; bulk counts everything ahead of it', async () => {
  const model = 'qwen2.5:7b';
  const job = (id: string, priority: 'interactive' | 'bulk') => ({
    requestId: id, pool: 'shared' as const, model, numCtx: 8192, priority, edgeId: 'e', keyId: 'k', userId: 'u',
    createdAt: Date.now(), estimatedPromptTokens: 3, stream: false, work: { kind: 'generate' as const, prompt: 'x', options: {} },
  });
  for (let i = 0; i < 5; i++) await producer.enqueue(job(`req_bulk_${i}`, 'bulk'));
  await producer.enqueue(job('req_inter_0', 'interactive'));
  const interactive = await producer.claim('shared', model, { priority: 'interactive', key: 'k', bound: 2 });
  assert.equal(interactive.queued, 1, 'only the interactive job waiting counts');
  assert.ok(interactive.outcome === 'admitted', 'five bulk jobs do not refuse an interactive request');
  producer.unreserve('shared', model);
  const bulk = await producer.claim('shared', model, { priority: 'bulk', key: 'k', bound: 6 });
  assert.equal(bulk.queued, 6, 'a bulk request waits behind everything');
  assert.equal(bulk.outcome, 'full');
  assert.ok((await producer.claim('shared', model, { priority: 'bulk', key: 'k', bound: 10_000 })).outcome === 'admitted', 'the deep bulk bound admits it');
});
