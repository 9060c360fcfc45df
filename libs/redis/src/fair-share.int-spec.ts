import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis from 'ioredis';
import { Worker } from 'bullmq';
import { type InferenceJob, Queues } from '@switchyard/contracts';
import { deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { InferenceQueues } from './inference-queues';
import { inferenceJob as job } from './inference-job.fixture';

const prefix = randomPrefix('t-fair');
const redis = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const queues = new InferenceQueues(redis, prefix);

after(async () => {
  await queues.closeAll();
  await deleteKeysWithPrefix(prefix);
  redis.disconnect();
});

/** Takes `count` jobs one at a time, as one worker slot would (BullMQ's manual fetch): their keys, in order. */
async function takeOrder(model: string, count: number): Promise<string[]> {
  const conn = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(Queues.inference('shared', model), null, { connection: conn, prefix: Queues.bullPrefix(prefix), autorun: false });
  const taken: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const j = await worker.getNextJob('slot', { block: false });
      if (!j) break;
      taken.push((j.data as InferenceJob).keyId);
      await j.moveToCompleted('ok', 'slot', false);
    }
  } finally {
    await worker.close();
    conn.disconnect();
  }
  return taken;
}

test("one key's flood does not make another key's request wait behind it: it runs within a round", async () => {
  const model = 'flood:8b';
  for (let i = 0; i < 40; i++) await queues.add(job(model, 'flooder'));
  // Two of the flood are taken first, then a second key asks.
  const early = await takeOrder(model, 2);
  assert.deepEqual(early, ['flooder', 'flooder']);
  await queues.add(job(model, 'light'));
  await queues.add(job(model, 'light'));
  const order = await takeOrder(model, 40);
  assert.ok(order.indexOf('light') <= 1, `the light key's first request runs within one round, not after 38 others: ${order.join(',')}`);
  assert.ok(order.lastIndexOf('light') <= 3, 'its second, one round later');
});

test('a concurrent burst from one key is spread over rounds, not given one tag', async () => {
  const model = 'burst:8b';
  const places = await Promise.all(Array.from({ length: 30 }, () => queues.claimPlace('shared', model, { priority: 'interactive', key: 'burst' })));
  assert.equal(new Set(places.map((p) => p.bullPriority)).size, 30);
  const other = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'other' });
  assert.equal(other.bullPriority, Math.min(...places.map((p) => p.bullPriority)), "the other key starts at the queue's current round");
});

test('every interactive job runs before any bulk one, whatever the tags', async () => {
  const model = 'classes:8b';
  for (let i = 0; i < 5; i++) await queues.add(job(model, 'batcher', 'bulk'));
  for (let i = 0; i < 8; i++) await queues.add(job(model, 'chatter', 'interactive'));
  const order = await takeOrder(model, 13);
  assert.deepEqual(order, [...Array(8).fill('chatter'), ...Array(5).fill('batcher')]);
});

test('shares: a key with share 3 is served three times as often as a key with share 1 while both flood', async () => {
  const model = 'shares:8b';
  for (let i = 0; i < 30; i++) {
    await queues.add({ ...job(model, 'big'), share: 3 });
    await queues.add(job(model, 'small'));
  }
  const first = await takeOrder(model, 20);
  const big = first.filter((k) => k === 'big').length;
  assert.ok(big >= 14 && big <= 16, `share 3 : 1 over 20 jobs ≈ 15 : 5, got ${big} : ${20 - big}`);
  await takeOrder(model, 40);
});

test("bounds refuse without moving the key's place; jobs ahead count what runs first", async () => {
  const model = 'bounds:8b';
  for (let i = 0; i < 6; i++) await queues.add(job(model, 'a'));
  const full = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'b', bound: 6 });
  assert.equal(full.outcome, 'full');
  assert.equal(full.queued, 6);
  const tight = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'b', maxAhead: 0 });
  assert.equal(tight.outcome, 'wait');
  const fresh = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'b', maxAhead: 1 });
  assert.equal(fresh.outcome, 'admitted', "b's first job runs after a's first: one ahead");
  assert.equal(fresh.ahead, 1);
  const own = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'a', maxAhead: 3 });
  assert.equal(own.outcome, 'wait', "a's seventh job has its own six ahead");
  assert.equal(own.ahead, 6);
  const again = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'a', maxAhead: 100 });
  assert.equal(again.bullPriority, own.bullPriority, 'the refused claim did not advance the key');
  const reserved = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'c', reserved: 4 });
  assert.equal(reserved.queued, 6 + 4);
});
