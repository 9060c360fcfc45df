import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Worker } from 'bullmq';
import { type InferenceJob, PRIORITY_RANGE, Queues } from '@switchyard/contracts';
import { deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { BULLMQ_VERSION, INSTALLED_BULLMQ_VERSION, patchedAddScript } from './bullmq-add';
import { InferenceQueues } from './inference-queues';
import { inferenceJob } from './inference-job.fixture';

const prefix = randomPrefix('t-bulladd');
const redis = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const queues = new InferenceQueues(redis, prefix);

after(async () => {
  await queues.closeAll();
  await deleteKeysWithPrefix(prefix);
  redis.disconnect();
});

/** One creation time, so two jobs' stored data differ only in their ids. */
const job = (model: string, keyId: string): InferenceJob => ({ ...inferenceJob(model, keyId), createdAt: 1_700_000_000_000 });

test('BullMQ is the pinned version its add script was read from, and the script still has the shape patched', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies.bullmq, BULLMQ_VERSION, 'package.json pins the BullMQ version bullmq-add.ts was written for');
  assert.equal(INSTALLED_BULLMQ_VERSION, BULLMQ_VERSION);
  assert.match(patchedAddScript(), /local opts = cmsgpack\.unpack\(ARGV\[3\]\)\nopts\['priority'\] = syPrio\n/);
  assert.throws(() => patchedAddScript({ name: 'addPrioritizedJob', keys: 9, content: 'local opts = cmsgpack.unpack(ARGV[2])' }), /needs updating/);
  assert.throws(() => patchedAddScript({ name: 'addPrioritizedJob', keys: 10, content: 'local opts = cmsgpack.unpack(ARGV[3])' }), /needs updating/);
});

test('a job claimed and added in one script is stored exactly as Queue.add stores it at the claimed priority', async () => {
  const model = 'same:7b';
  const q = queues.get('shared', model);
  const a = job(model, 'k1');
  const place = await queues.claimAndAdd(a, { priority: 'interactive', key: 'k1' });
  assert.equal(place.outcome, 'admitted');
  const b = job(model, 'k1');
  // The same job through BullMQ's own add, at the priority the claim gives it.
  const claimed = await queues.claimPlace('shared', model, { priority: 'interactive', key: 'k1' });
  assert.equal(claimed.bullPriority, place.bullPriority + 20, 'the claim in one script advanced the key as claimPlace does');
  await queues.add(b, claimed.bullPriority);

  const ha = await redis.hgetall(q.toKey(a.requestId));
  const hb = await redis.hgetall(q.toKey(b.requestId));
  const strip = (h: Record<string, string>, id: string) => {
    const { timestamp, ...rest } = h;
    assert.ok(Math.abs(Number(timestamp) - Date.now()) < 10_000);
    return { ...rest, data: rest.data.replace(id, 'ID'), opts: rest.opts.replace(id, 'ID') };
  };
  assert.equal(ha.priority, String(place.bullPriority));
  assert.deepEqual(strip(ha, a.requestId), { ...strip(hb, b.requestId), priority: ha.priority, opts: strip(hb, b.requestId).opts.replace(`"priority":${hb.priority}`, `"priority":${ha.priority}`) });
  assert.deepEqual(JSON.parse(ha.data), a);

  // Prioritized score = priority × 2^32 + BullMQ's insertion counter; the marker wakes a blocked worker.
  const scoreA = Number(await redis.zscore(q.keys.prioritized, a.requestId));
  const scoreB = Number(await redis.zscore(q.keys.prioritized, b.requestId));
  assert.equal(Math.floor(scoreA / 2 ** 32), place.bullPriority);
  assert.equal(Math.floor(scoreB / 2 ** 32), claimed.bullPriority);
  assert.equal(scoreB % 2 ** 32, (scoreA % 2 ** 32) + 1, 'both took the next value of the same pc counter');
  assert.equal(await redis.exists(q.keys.marker), 1);
  assert.equal(await q.getJobState(a.requestId), 'prioritized');

  // The events stream the scheduler reads: added, then waiting, for each.
  const events = (await redis.xrange(q.keys.events, '-', '+')).map(([, f]) => `${f[1]}:${f[3]}`);
  assert.deepEqual(events, [`added:${a.requestId}`, `waiting:${a.requestId}`, `added:${b.requestId}`, `waiting:${b.requestId}`]);
});

test('a refused claim adds nothing; an existing job id is not added twice', async () => {
  const model = 'bound:7b';
  const q = queues.get('shared', model);
  const first = job(model, 'k1');
  assert.equal((await queues.claimAndAdd(first, { priority: 'interactive', key: 'k1', bound: 1 })).outcome, 'admitted');
  const refused = job(model, 'k1');
  const place = await queues.claimAndAdd(refused, { priority: 'interactive', key: 'k1', bound: 1 });
  assert.equal(place.outcome, 'full');
  assert.equal(place.queued, 1);
  assert.equal(await redis.exists(q.toKey(refused.requestId)), 0);
  const wait = await queues.claimAndAdd(job(model, 'k2'), { priority: 'interactive', key: 'k2', maxAhead: 0 });
  assert.equal(wait.outcome, 'wait');
  assert.equal(await queues.claimAndAdd(first, { priority: 'interactive', key: 'k1' }).then((p) => p.outcome), 'admitted');
  assert.equal(await q.count(), 1);
});

test('jobs added this way are taken, run and completed by a real BullMQ worker, in fair-share order', async () => {
  const model = 'run:7b';
  const added: InferenceJob[] = [];
  for (const key of ['flood', 'flood', 'flood', 'flood', 'other', 'other']) {
    const j = job(model, key);
    added.push(j);
    assert.equal((await queues.claimAndAdd(j, { priority: 'interactive', key })).outcome, 'admitted');
  }
  // A bulk job added the same way waits behind every interactive one.
  const bulk = { ...job(model, 'bulk'), priority: 'bulk' as const };
  const bulkPlace = await queues.claimAndAdd(bulk, { priority: 'bulk', key: 'bulk' });
  assert.ok(bulkPlace.bullPriority >= PRIORITY_RANGE.bulk.min);
  const ran: string[] = [];
  const conn = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const done = new Promise<void>((resolve) => {
    const worker = new Worker(
      Queues.inference('shared', model),
      async (j) => {
        const data = j.data as InferenceJob;
        ran.push(data.keyId);
        return { ok: data.requestId };
      },
      { connection: conn, prefix: Queues.bullPrefix(prefix), concurrency: 1 },
    );
    worker.on('completed', () => {
      if (ran.length === 7) void worker.close().then(resolve);
    });
  });
  await done;
  conn.disconnect();
  assert.deepEqual(ran, ['flood', 'other', 'flood', 'other', 'flood', 'flood', 'bulk']);
  const q = queues.get('shared', model);
  const counts = await q.getJobCounts('prioritized', 'active', 'completed', 'failed');
  assert.deepEqual(counts, { prioritized: 0, active: 0, completed: 0, failed: 0 }, 'completed and removed (removeOnComplete)');
  const completed = (await redis.xrange(q.keys.events, '-', '+')).filter(([, f]) => f[1] === 'completed');
  assert.equal(completed.length, 7);
});
