/**
 * QueuePuller against the real Redis: slots, prompt takes (never the 5 s drain delay), lock
 * renewal, and a stop that lets the job in flight finish and takes nothing new.
 */
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisConnection } from '@switchyard/redis';
import { deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { QueuePuller, type JobProcessor } from './queue-puller';
import { sleep, waitFor, within } from '../testing/wait';

const QUEUE = 'puller-test';

describe('QueuePuller', () => {
  const prefixes: string[] = [];
  let prefix: string;
  let connection: Redis;
  let queue: Queue;
  let pullers: QueuePuller[];
  /** Lets every held job go (so a failed assertion cannot leave close() waiting on one). */
  let releases: (() => void)[];
  const held = () => new Promise<void>((r) => releases.push(r));
  const releaseAll = () => releases.splice(0).forEach((r) => r());

  beforeEach(() => {
    prefix = randomPrefix('t-puller');
    prefixes.push(prefix);
    connection = createRedisConnection(TEST_REDIS_URL, { name: 'puller-test', role: 'blocking' });
    queue = new Queue(QUEUE, { connection: { url: TEST_REDIS_URL }, prefix });
    pullers = [];
    releases = [];
  });

  afterEach(async () => {
    releaseAll();
    await Promise.all(pullers.map((p) => p.close()));
    await queue.close();
    connection.disconnect();
  });

  after(async () => {
    for (const p of prefixes) await deleteKeysWithPrefix(p);
  });

  const pull = (process: JobProcessor, opts: { slots?: number; lockDuration?: number; paused?: boolean } = {}) => {
    const puller = new QueuePuller(QUEUE, process, { connection, prefix, name: 'w-test', slots: opts.slots ?? 2, lockDuration: opts.lockDuration ?? 30_000, maxStalledCount: 1, paused: opts.paused ?? false });
    pullers.push(puller);
    return puller;
  };
  const add = (id: string, priority = 1) => queue.add('job', { id }, { jobId: id, priority, removeOnComplete: false });

  test('runs at most `slots` jobs at once, the highest priority first, and completes every one', async () => {
    let running = 0;
    let most = 0;
    const order: string[] = [];
    const puller = pull(
      async (job: Job) => {
        order.push(job.id ?? '');
        most = Math.max(most, ++running);
        await sleep(30);
        running--;
        return job.id;
      },
      { slots: 2, paused: true },
    );
    for (let i = 0; i < 5; i++) await add(`low-${i}`, 5);
    await add('high', 1);
    puller.resume();
    await waitFor(async () => (await queue.getCompletedCount()) === 6, 5_000, 'six jobs completed');
    assert.equal(most, 2);
    assert.equal(order[0], 'high');
    assert.equal((await queue.getJob('low-3'))?.returnvalue, 'low-3');
  });

  test('takes a job added while another runs, or right after one finished, at once (not after the drain delay)', async () => {
    const started = new Map<string, number>();
    pull(async (job: Job) => {
      started.set(job.id ?? '', Date.now());
      if (job.id === 'long') await held();
    });
    await add('long');
    await waitFor(() => started.has('long'), 2_000, 'the long job to start');
    for (let i = 0; i < 10; i++) {
      const addedAt = Date.now();
      await add(`beside-${i}`);
      await waitFor(() => started.has(`beside-${i}`), 1_000, `beside-${i} to start`);
      assert.ok(started.get(`beside-${i}`)! - addedAt < 500);
      await waitFor(async () => (await queue.getJobState(`beside-${i}`)) === 'completed', 1_000, `beside-${i} to complete`);
      if (i % 2 === 0) await sleep(i);
    }
    releaseAll();
    await waitFor(async () => (await queue.getJobState('long')) === 'completed', 1_000, 'the long job to complete');
  });

  test("renews a running job's lock past its lock duration", async () => {
    pull(() => held(), { lockDuration: 600 });
    await add('slow');
    await waitFor(async () => (await queue.getJobState('slow')) === 'active', 2_000, 'the job to start');
    await sleep(1_200);
    assert.ok((await connection.pttl(`${prefix}:${QUEUE}:slow:lock`)) > 0, 'the lock is still held');
    releaseAll();
    await waitFor(async () => (await queue.getJobState('slow')) === 'completed', 2_000, 'the job to complete');
    assert.equal((await queue.getJob('slow'))?.attemptsStarted, 1);
  });

  test('close: the job in flight finishes, nothing new is taken, and the blocking wait does not hold it up', async () => {
    const puller = pull(async (job: Job) => {
      if (job.id === 'inflight') await held();
    });
    await add('inflight');
    await waitFor(async () => (await queue.getJobState('inflight')) === 'active', 2_000, 'the job to start');
    const closing = puller.close();
    await sleep(50);
    await add('after-close');
    assert.equal(await within(closing, 100), undefined, 'close waits for the job in flight');
    releaseAll();
    assert.ok((await within(closing.then(() => true), 2_000)) === true, 'close resolves once the job finished');
    assert.equal(await queue.getJobState('inflight'), 'completed');
    assert.equal(await queue.getJobState('after-close'), 'prioritized');
  });
});
