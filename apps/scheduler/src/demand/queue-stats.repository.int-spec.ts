import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BULLMQ_PRIORITY, bullmqPriority, type InferenceJob, poolModelField, Queues, RedisKeys } from '@switchyard/contracts';
import { DeferredDemand, InferenceQueues } from '@switchyard/redis';
import { loadSchedulerConfig } from '../config/scheduler.config';
import { model } from '../policy/cluster-state.fixtures';
import { dropPrefix, newPrefix, TEST_REDIS_URL } from '../testing/scheduler-harness';
import { QueueStatsRepository } from './queue-stats.repository';

const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const prefix = newPrefix();
const config = loadSchedulerConfig({ REDIS_URL: TEST_REDIS_URL, SWITCHYARD_PREFIX: prefix });
const repo = new QueueStatsRepository(redis, config, [model('x:7b', 5), model('y:7b', 5)]);
const q = new Queue(Queues.inference('shared', 'x:7b'), { connection: redis, prefix: Queues.bullPrefix(prefix) });

after(async () => {
  await q.close();
  await repo.beforeApplicationShutdown();
  await dropPrefix(redis, prefix);
  await redis.quit();
});

const read = async (pool: string, m: string) => (await repo.readAll()).find((s) => s.pool === pool && s.model === m);

test('counts, the oldest waiting job across priority bands, and arrivals since the last read', async () => {
  assert.deepEqual(
    repo.units().map((u) => poolModelField(u.pool, u.model)).sort(),
    ['performance|x:7b', 'performance|y:7b', 'shared|x:7b', 'shared|y:7b'],
  );
  const first = await read('shared', 'x:7b');
  assert.deepEqual(first, {
    pool: 'shared',
    model: 'x:7b',
    waiting: 0,
    interactiveWaiting: 0,
    bulkWaiting: 0,
    active: 0,
    delayed: 0,
    oldestCreatedMs: undefined,
    oldestInteractiveCreatedMs: undefined,
    added: 0,
    addedBulk: 0,
    finished: 0,
    deferred: 0,
  });

  // A bulk job first, then interactive ones that BullMQ will serve before it, then a delayed retry.
  const bulk = await q.add('inference', {}, { jobId: 'bulk-1', priority: BULLMQ_PRIORITY.bulk, timestamp: Date.now() - 60_000 });
  const int1 = await q.add('inference', {}, { jobId: 'int-1', priority: BULLMQ_PRIORITY.interactive, timestamp: Date.now() - 5_000 });
  await q.add('inference', {}, { jobId: 'int-2', priority: BULLMQ_PRIORITY.interactive });
  await q.add('inference', {}, { jobId: 'plain-1' });
  await q.add('inference', {}, { jobId: 'later-1', delay: 60_000 });

  const second = await read('shared', 'x:7b');
  assert.equal(second?.waiting, 4);
  assert.equal(second?.interactiveWaiting, 3, 'interactive, and the job without a priority (BullMQ runs it first)');
  assert.equal(second?.bulkWaiting, 1);
  assert.equal(second?.delayed, 1);
  assert.equal(second?.oldestCreatedMs, bulk.timestamp, 'the oldest job is the bulk one behind the interactive ones');
  assert.equal(second?.oldestInteractiveCreatedMs, int1.timestamp, 'and the oldest interactive one');
  assert.equal(second?.added, 5);
  assert.equal(second?.addedBulk, 1);
  assert.equal((await read('shared', 'x:7b'))?.added, 0, 'arrivals are counted once');
  assert.equal((await read('performance', 'x:7b'))?.waiting, 0, 'pools are separate queues');
});

test('fair-share tags: the oldest job of a class is found though it is not the head of its range', async () => {
  const y = new Queue(Queues.inference('shared', 'y:7b'), { connection: redis, prefix: Queues.bullPrefix(prefix) });
  await read('shared', 'y:7b');
  const t0 = Date.now();
  // A flooding key's jobs: tags 0, 10, 20, … in arrival order; a second key's job, later, at tag 10.
  const flood = [];
  for (let i = 0; i < 5; i++) flood.push(await y.add('inference', {}, { jobId: `flood-${i}`, priority: bullmqPriority('interactive', i * 10), timestamp: t0 - 50_000 + i }));
  await y.add('inference', {}, { jobId: 'other-0', priority: bullmqPriority('interactive', 10), timestamp: t0 - 1_000 });
  await y.add('inference', {}, { jobId: 'bulk-a', priority: bullmqPriority('bulk', 30), timestamp: t0 - 20_000 });
  await y.add('inference', {}, { jobId: 'bulk-b', priority: bullmqPriority('bulk', 0), timestamp: t0 - 2_000 });
  // The flood's first job runs; the oldest waiting interactive job is now its second (tag 10), not the head's neighbour.
  await y.remove('flood-0');
  const s = await read('shared', 'y:7b');
  assert.equal(s?.interactiveWaiting, 5);
  assert.equal(s?.bulkWaiting, 2);
  assert.equal(s?.oldestInteractiveCreatedMs, flood[1].timestamp);
  assert.equal(s?.oldestCreatedMs, flood[1].timestamp);
  const alone = await (async () => {
    await y.obliterate({ force: true });
    await y.add('inference', {}, { jobId: 'bulk-c', priority: bullmqPriority('bulk', 50), timestamp: t0 - 9_000 });
    await y.add('inference', {}, { jobId: 'bulk-d', priority: bullmqPriority('bulk', 0), timestamp: t0 - 1_000 });
    return read('shared', 'y:7b');
  })();
  assert.equal(alone?.interactiveWaiting, 0);
  assert.equal(alone?.oldestInteractiveCreatedMs, undefined);
  assert.equal(alone?.oldestCreatedMs, t0 - 9_000, 'the oldest bulk job, at the end of its range');
  await y.close();
});

test('jobs that finished since the last read', async () => {
  const z = new Queue(Queues.inference('performance', 'y:7b'), { connection: redis, prefix: Queues.bullPrefix(prefix) });
  await read('performance', 'y:7b');
  const connection = redis.duplicate();
  const worker = new Worker(z.name, async () => 'ok', { connection, prefix: Queues.bullPrefix(prefix) });
  const done = new Promise<void>((resolve) => {
    let n = 0;
    worker.on('completed', () => ++n === 3 && resolve());
  });
  for (let i = 0; i < 3; i++) await z.add('inference', {}, { jobId: `f-${i}`, priority: BULLMQ_PRIORITY.interactive });
  await done;
  await worker.close();
  await connection.quit();
  const s = await read('performance', 'y:7b');
  assert.equal(s?.added, 3);
  assert.equal(s?.finished, 3);
  await z.close();
});

test("jobs the edge claims and adds in one script (libs/redis bullmq-add.ts) are seen as BullMQ's own adds are", async () => {
  const queues = new InferenceQueues(redis, prefix);
  const job = (requestId: string, priority: 'interactive' | 'bulk', createdAt: number): InferenceJob => ({
    requestId, pool: 'performance', model: 'x:7b', numCtx: 8192, priority, edgeId: 'e', keyId: 'k', userId: 'u',
    createdAt, estimatedPromptTokens: 3, stream: false, work: { kind: 'generate', prompt: 'x', options: {} },
  });
  await read('performance', 'x:7b');
  const before = Date.now();
  await queues.claimAndAdd(job('one-int', 'interactive', before), { priority: 'interactive', key: 'k' });
  await queues.claimAndAdd(job('one-bulk', 'bulk', before), { priority: 'bulk', key: 'k' });
  const s = await read('performance', 'x:7b');
  assert.equal(s?.waiting, 2);
  assert.equal(s?.interactiveWaiting, 1);
  assert.equal(s?.bulkWaiting, 1);
  assert.equal(s?.added, 2);
  assert.equal(s?.addedBulk, 1);
  assert.ok(s?.oldestInteractiveCreatedMs !== undefined && s.oldestInteractiveCreatedMs >= before);
  await queues.closeAll();
});

test("pending bulk lines: the batch service's hash, by (pool, model)", async () => {
  assert.deepEqual(await repo.readBulkPending(), [], 'no batch service: no bulk demand');
  const key = RedisKeys.bulkDemand(prefix);
  await redis.hset(key, { [poolModelField('performance', 'x:7b')]: '1200', [poolModelField('shared', 'y:7b')]: '0', junk: '3' });
  assert.deepEqual(await repo.readBulkPending(), [{ pool: 'performance', model: 'x:7b', pending: 1200 }]);
  await redis.del(key);
});

test("requests the edge refused and told to come back count as the queue's deferred demand until their time comes", async () => {
  const edge = new DeferredDemand(redis, prefix);
  await edge.defer('shared', 'y:7b', { keyId: 'key_1' }, 'soon', () => 200);
  for (let i = 0; i < 3; i++) await edge.defer('shared', 'y:7b', { keyId: 'key_1' }, `later-${i}`, () => 60_000);
  await edge.defer('performance', 'y:7b', { keyId: 'key_1' }, 'other-pool', () => 60_000);
  assert.equal((await read('shared', 'y:7b'))?.deferred, 4);
  assert.equal((await read('performance', 'y:7b'))?.deferred, 1);
  assert.equal((await read('shared', 'x:7b'))?.deferred, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await read('shared', 'y:7b'))?.deferred, 3, 'the one told to come back after 200 ms no longer counts');
});
