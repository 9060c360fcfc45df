/**
 * The lease scripts and the writes they fence, against the machine's Redis (a random prefix).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeys, type ResidencyEntry } from '@switchyard/contracts';
import { loadSchedulerConfig } from '../config/scheduler.config';
import { ResidencyRepository } from '../residency/residency.repository';
import { WorkerSnapshotRepository } from '../placement/worker-snapshot.repository';
import { dropPrefix, newPrefix, TEST_REDIS_URL } from '../testing/scheduler-harness';
import { FencedWriter, NotLeaderError } from './fenced-writer';
import type { LeaderElection } from './leader-election.service';
import { LeaseRepository } from './lease.repository';

const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
const prefixes: string[] = [];

before(async () => {
  await redis.ping();
});

after(async () => {
  for (const p of prefixes) await dropPrefix(redis, p);
  await redis.quit();
});

/** One scheduler replica's view: its lease value and the repositories that write through it. */
function replica(prefix: string) {
  const config = loadSchedulerConfig({ REDIS_URL: TEST_REDIS_URL, SWITCHYARD_PREFIX: prefix });
  const lease = new LeaseRepository(redis, config);
  const holder = { leaseValue: undefined as string | undefined };
  const writer = new FencedWriter(holder as LeaderElection, lease);
  return { lease, holder, residency: new ResidencyRepository(redis, writer, config), workers: new WorkerSnapshotRepository(redis, writer, config) };
}

const entry = (model: string, workers: string[]): ResidencyEntry => ({ model, workers, loading: [], loadSeconds: 1, slots: 4 * workers.length, updatedAt: Date.now() });

function setup() {
  const prefix = newPrefix();
  prefixes.push(prefix);
  return { prefix, a: replica(prefix), b: replica(prefix) };
}

describe('scheduler lease', () => {
  test('one replica holds it; the value is <replica id>:<token from the fence counter>', async () => {
    const { prefix, a, b } = setup();
    const va = await a.lease.acquire('sched-a', 5000);
    assert.equal(va, 'sched-a:1');
    assert.equal(await b.lease.acquire('sched-b', 5000), undefined, 'held: the other replica gets nothing');
    assert.equal(await redis.get(RedisKeys.schedulerFence(prefix)), '1', 'a failed try does not spend a token');
    const ttl = await redis.pttl(RedisKeys.schedulerLeader(prefix));
    assert.ok(ttl > 4000 && ttl <= 5000, `ttl ${ttl}`);
    assert.equal(await a.lease.renew('sched-a:1', 5000), 'renewed');
    assert.equal(await b.lease.release('sched-b:2'), false, 'only the holder releases');
    assert.equal(await a.lease.release('sched-a:1'), true);
    assert.equal(await b.lease.acquire('sched-b', 5000), 'sched-b:2');
  });

  test('an old leader’s writes are refused once another replica holds the lease', async () => {
    const { prefix, a, b } = setup();
    a.holder.leaseValue = await a.lease.acquire('sched-a', 5000);
    await a.residency.write([entry('x:7b', ['w1'])]);
    await a.workers.saveLoadTime('shared', 'x:7b', 2);

    // a stalls past its TTL (here: the key expires at once); b takes over and writes.
    await redis.pexpire(RedisKeys.schedulerLeader(prefix), 1);
    await new Promise((r) => setTimeout(r, 20));
    b.holder.leaseValue = await b.lease.acquire('sched-b', 5000);
    assert.equal(b.holder.leaseValue, 'sched-b:2');
    await b.residency.write([entry('x:7b', ['w2'])]);

    // a wakes up and, not knowing yet, writes what it believes.
    await assert.rejects(a.residency.write([entry('x:7b', ['w1'])]), NotLeaderError);
    await assert.rejects(a.workers.remove(['w2']), NotLeaderError);
    await assert.rejects(a.workers.saveLoadTime('shared', 'x:7b', 99), NotLeaderError);
    await assert.rejects(a.residency.keepOnly([]), NotLeaderError);
    assert.deepEqual(JSON.parse((await redis.hget(RedisKeys.residency(prefix), 'x:7b')) ?? '{}').workers, ['w2'], 'the new leader’s entry stands');
    assert.equal(await redis.hget(RedisKeys.loadTimes(prefix), 'shared|x:7b'), '2.000');
    assert.equal(await a.lease.renew('sched-a:1', 5000), 'lost', 'and its next renewal tells it');
    assert.equal(await redis.get(RedisKeys.schedulerLeader(prefix)), 'sched-b:2');

    // A replica that never led writes nothing either.
    const c = replica(prefix);
    await assert.rejects(c.residency.write([entry('y:7b', [])]), NotLeaderError);
  });

  test('after Redis lost the lease (an empty restart) the leader takes it back with the same value; a replica that came later does not', async () => {
    const { prefix, a, b } = setup();
    const va = (await a.lease.acquire('sched-a', 5000)) as string;
    await redis.del(RedisKeys.schedulerLeader(prefix), RedisKeys.schedulerFence(prefix));
    assert.equal(await a.lease.renew(va, 5000), 'reacquired');
    assert.equal(await redis.get(RedisKeys.schedulerLeader(prefix)), va);
    assert.equal(await redis.get(RedisKeys.schedulerFence(prefix)), '1', 'the counter is restored, so the next token is new');
    assert.equal(await b.lease.acquire('sched-b', 5000), undefined);

    // The key expired and someone else took (and dropped) the lease since: a's value is stale.
    await redis.del(RedisKeys.schedulerLeader(prefix));
    assert.equal(await b.lease.acquire('sched-b', 5000), 'sched-b:2');
    await b.lease.release('sched-b:2');
    assert.equal(await a.lease.renew(va, 5000), 'lost');
    assert.equal(await redis.get(RedisKeys.schedulerLeader(prefix)), null);
  });
});
