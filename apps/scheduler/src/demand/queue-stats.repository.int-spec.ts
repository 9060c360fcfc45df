import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BULLMQ_PRIORITY, poolModelField, Queues, RedisKeys } from '@switchyard/contracts';
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
  assert.deepEqual(first, { pool: 'shared', model: 'x:7b', waiting: 0, active: 0, delayed: 0, oldestCreatedMs: undefined, added: 0 });

  // A bulk job first, then interactive ones that BullMQ will serve before it, then a delayed retry.
  const bulk = await q.add('inference', {}, { jobId: 'bulk-1', priority: BULLMQ_PRIORITY.bulk, timestamp: Date.now() - 60_000 });
  await q.add('inference', {}, { jobId: 'int-1', priority: BULLMQ_PRIORITY.interactive, timestamp: Date.now() - 5_000 });
  await q.add('inference', {}, { jobId: 'int-2', priority: BULLMQ_PRIORITY.interactive });
  await q.add('inference', {}, { jobId: 'plain-1' });
  await q.add('inference', {}, { jobId: 'later-1', delay: 60_000 });

  const second = await read('shared', 'x:7b');
  assert.equal(second?.waiting, 4);
  assert.equal(second?.delayed, 1);
  assert.equal(second?.oldestCreatedMs, bulk.timestamp, 'the oldest job is the bulk one behind the interactive ones');
  assert.equal(second?.added, 5);
  assert.equal((await read('shared', 'x:7b'))?.added, 0, 'arrivals are counted once');
  assert.equal((await read('performance', 'x:7b'))?.waiting, 0, 'pools are separate queues');
});

test("pending bulk lines: the batch service's hash, by (pool, model)", async () => {
  assert.deepEqual(await repo.readBulkPending(), [], 'no batch service: no bulk demand');
  const key = RedisKeys.bulkDemand(prefix);
  await redis.hset(key, { [poolModelField('performance', 'x:7b')]: '1200', [poolModelField('shared', 'y:7b')]: '0', junk: '3' });
  assert.deepEqual(await repo.readBulkPending(), [{ pool: 'performance', model: 'x:7b', pending: 1200 }]);
  await redis.del(key);
});
