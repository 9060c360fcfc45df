/**
 * Scheduler replicas against the machine's Redis: one leads, the others stand by and take over when
 * it dies; the leader republishes its whole state when Redis comes back empty.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, type ServiceError, status as GrpcStatus } from '@grpc/grpc-js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BULLMQ_PRIORITY, placementV1, Queues, RedisKeys, residencyEntrySchema } from '@switchyard/contracts';
import { WorkerRegistry } from '../placement/worker-registry.service';
import { REDIS } from '@switchyard/redis';
import { FakeWorker } from '../testing/fake-worker';
import { eventually, newPrefix, startScheduler, writeCatalogue, type RunningScheduler, testScope } from '../testing/scheduler-harness';
import { CRASH_ON_SIGNAL, spawnScheduler } from '../testing/scheduler-process';
import { LeaderElection } from './leader-election.service';

const { redis, prefixes, cleanups } = testScope();
const catalogueFile = writeCatalogue();

function prefix(): string {
  const p = newPrefix();
  prefixes.push(p);
  return p;
}

async function replica(p: string, id: string, env: Record<string, string> = {}): Promise<RunningScheduler> {
  const s = await startScheduler({ SWITCHYARD_PREFIX: p, MODEL_CATALOGUE: catalogueFile, SCHEDULER_REPLICA_ID: id, ...env });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await s.close();
  };
  cleanups.push(close);
  return { ...s, close };
}

function fakeWorker(addresses: string | string[], opts: ConstructorParameters<typeof FakeWorker>[1]): FakeWorker {
  const w = new FakeWorker(addresses, opts);
  cleanups.push(() => w.close());
  w.connect();
  return w;
}

async function enqueue(p: string, model: string, n: number): Promise<void> {
  const q = new Queue(Queues.inference('shared', model), { connection: redis, prefix: Queues.bullPrefix(p) });
  for (let i = 0; i < n; i++) {
    const id = `req_${Math.random().toString(36).slice(2)}`;
    await q.add('inference', { requestId: id }, { jobId: id, priority: BULLMQ_PRIORITY.interactive });
  }
  await q.close();
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Opens an Attach stream and resolves with how it ended. */
function attachOnce(address: string): Promise<{ code: number; details: string }> {
  const client = new placementV1.PlacementServiceClient(address, credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.attach();
    call.on('data', () => undefined);
    call.on('error', (err: ServiceError) => {
      client.close();
      resolve({ code: err.code, details: err.details });
    });
    call.write({ msg: { $case: 'register', register: { workerId: 'probe', pool: 'shared', ollamaUrl: '', slots: 1, memoryTotalBytes: 0, resident: [], loadTimes: [], startedAtMs: 1 } } });
  });
}

const connected = (s: RunningScheduler, id: string) => s.app.get(WorkerRegistry).get(id)?.session !== undefined;
const isLoad = (model: string) => (c: placementV1.SchedulerCommand) => c.cmd?.$case === 'load' && c.cmd.load.model === model;

describe('scheduler replicas', () => {
  test('the leader is killed: the standby takes over within 10 s, the worker moves to it, and a cold model gets loaded there', async (t) => {
    const p = prefix();
    const a = await spawnScheduler({ SWITCHYARD_PREFIX: p, MODEL_CATALOGUE: catalogueFile, SCHEDULER_REPLICA_ID: 'sched-a', SCHEDULER_TICK_MS: '100', SCHEDULER_WORKER_TIMEOUT_MS: '10000' });
    cleanups.push(() => a.kill());
    assert.match((await redis.get(RedisKeys.schedulerLeader(p))) ?? '', /^sched-a:\d+$/);
    assert.equal(a.logs.find((l) => l.msg === 'scheduler ready')?.role, 'leader');

    const b = await replica(p, 'sched-b', { SCHEDULER_WORKER_TIMEOUT_MS: '10000' });
    const bLeader = b.app.get(LeaderElection);
    assert.equal(bLeader.isLeader, false);
    const ready = await fetch(`${b.httpUrl}/readyz`);
    assert.equal(ready.status, 200, 'a standby is ready: it is ready to take over');
    assert.match(await metrics(b.httpUrl), /^switchyard_scheduler_leader 0$/m);
    assert.match(await metrics(a.httpUrl), /^switchyard_scheduler_leader 1$/m);
    assert.deepEqual(await attachOnce(b.grpcAddress), { code: GrpcStatus.UNAVAILABLE, details: 'standby: not the leader' });

    // The worker knows both addresses, the standby's first: refused there, it attaches to the leader.
    const w = fakeWorker([b.grpcAddress, a.grpcAddress], { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 }, reconnectMs: 100 });
    await eventually(async () => ((await redis.hget(RedisKeys.workers(p), 'w1')) ? true : undefined), 5000, 'w1 registered with the leader');
    assert.equal(b.app.get(WorkerRegistry).all().length, 0, 'the standby knows no worker');

    // SIGKILL: no shutdown hook, the lease is not released; it expires.
    const killedAt = Date.now();
    await a.kill();
    await enqueue(p, 'y:7b', 3);

    await eventually(() => (bLeader.isLeader ? true : undefined), 10_000, 'the standby leads');
    const takeoverMs = Date.now() - killedAt;
    await eventually(() => (connected(b, 'w1') ? true : undefined), 10_000, 'w1 attached to the new leader');
    const reattachMs = Date.now() - killedAt;
    await w.waitFor(isLoad('y:7b'), Math.max(100, 10_000 - (Date.now() - killedAt)));
    const loadMs = Date.now() - killedAt;
    t.diagnostic(`after SIGKILL of the leader: standby leads in ${takeoverMs} ms, worker reattached in ${reattachMs} ms, cold model's Load sent in ${loadMs} ms`);
    assert.ok(takeoverMs < 10_000 && loadMs < 10_000);

    assert.match((await redis.get(RedisKeys.schedulerLeader(p))) ?? '', /^sched-b:\d+$/);
    assert.ok(bLeader.fencingToken !== undefined && bLeader.fencingToken >= 2, 'a new fencing token');
    assert.match(await metrics(b.httpUrl), /^switchyard_scheduler_leader 1$/m);
    await eventually(async () => {
      const raw = await redis.hget(RedisKeys.residency(p), 'y:7b');
      return raw && residencyEntrySchema.parse(JSON.parse(raw)).workers.includes('w1') ? true : undefined;
    }, 3000, 'residency published by the new leader');
  });

  test('a leader that shuts down releases the lease: the standby leads at its next try; the old leader’s worker streams move over', async () => {
    const p = prefix();
    const a = await replica(p, 'sched-a');
    const b = await replica(p, 'sched-b', { SCHEDULER_LEASE_RETRY_MS: '200' });
    const w = fakeWorker([a.grpcAddress, b.grpcAddress], { id: 'w1', memoryGb: 24, reconnectMs: 50 });
    await eventually(() => (connected(a, 'w1') ? true : undefined), 5000, 'w1 with a');
    const started = Date.now();
    await a.close();
    await eventually(() => (b.app.get(LeaderElection).isLeader ? true : undefined), 3000, 'b leads');
    assert.ok(Date.now() - started < 3000);
    await eventually(() => (connected(b, 'w1') ? true : undefined), 5000, 'w1 with b');
    await enqueue(p, 'x:7b', 2);
    await w.waitFor(isLoad('x:7b'), 5000);
  });

  test('a leader that crashes (an error nothing caught) logs it, hands the lease over and exits 1: the standby leads at its next try, not when the lease expires', async (t) => {
    const p = prefix();
    const a = await spawnScheduler({ SWITCHYARD_PREFIX: p, MODEL_CATALOGUE: catalogueFile, SCHEDULER_REPLICA_ID: 'sched-a' }, 30_000, ['--require', CRASH_ON_SIGNAL]);
    cleanups.push(() => a.kill());
    const b = await replica(p, 'sched-b', { SCHEDULER_LEASE_RETRY_MS: '200' });
    assert.match((await redis.get(RedisKeys.schedulerLeader(p))) ?? '', /^sched-a:\d+$/);
    const exited = new Promise<number | null>((resolve) => a.child.once('exit', (code) => resolve(code)));
    const crashedAt = Date.now();
    a.child.kill('SIGWINCH');
    assert.equal(await exited, 1, 'it exits 1, so the launcher (or Kubernetes) restarts it');
    await eventually(() => (b.app.get(LeaderElection).isLeader ? true : undefined), 6000, 'b leads');
    const takeoverMs = Date.now() - crashedAt;
    t.diagnostic(`after the leader crashed: the standby leads in ${takeoverMs} ms`);
    // The lease's TTL is 5 s: a standby that had to wait for it would lead after about 5 s.
    assert.ok(takeoverMs < 2500, `the standby led ${takeoverMs} ms after the crash`);
    const fatal = a.logs.find((l) => l.level === 60);
    assert.equal(fatal?.msg, 'exiting on an error nothing caught');
    assert.match(JSON.stringify(fatal?.err), /a crash the test asked for/);
    assert.ok(a.logs.some((l) => l.msg === 'crashing: released the scheduler lease' && l.released === true));
  });

  test('a replica that loses the lease stops leading: it closes the worker streams, and its writes are refused', async () => {
    const p = prefix();
    const a = await replica(p, 'sched-a', { SCHEDULER_LEASE_TTL_MS: '600' });
    const w = fakeWorker(a.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
    await eventually(() => (connected(a, 'w1') ? true : undefined), 5000, 'w1 with a');
    // Another replica holds the lease now (as if a had been paused past its TTL).
    await redis.set(RedisKeys.schedulerLeader(p), 'sched-z:99');
    await redis.set(RedisKeys.schedulerFence(p), '99');
    await eventually(() => (a.app.get(LeaderElection).isLeader ? undefined : true), 2000, 'a steps down');
    await eventually(() => (w.ended ? true : undefined), 2000, 'the worker stream closed');
    assert.equal(a.app.get(WorkerRegistry).all().length, 0);
    assert.match(await metrics(a.httpUrl), /^switchyard_scheduler_leader 0$/m);
    assert.doesNotMatch(await metrics(a.httpUrl), /^switchyard_scheduler_workers\{/m, 'a standby exports no worker figures');
    await redis.del(RedisKeys.residency(p));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await redis.exists(RedisKeys.residency(p)), 0, 'nothing written by a replica that does not lead');
  });

  test('Redis comes back empty: residency, worker snapshots, load times and the lease are back within 5 s, the leader never stepped down', async (t) => {
    const p = prefix();
    const s = await replica(p, 'sched-a');
    const leader = s.app.get(LeaderElection);
    const lost: string[] = [];
    leader.on('lost-leadership', (reason) => void lost.push(reason));
    const value = leader.leaseValue;
    const w = fakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
    await enqueue(p, 'y:7b', 1);
    await w.waitFor(isLoad('y:7b'), 5000);
    const keys = [RedisKeys.residency(p), RedisKeys.workers(p), RedisKeys.loadTimes(p)];
    await eventually(async () => ((await redis.hget(RedisKeys.loadTimes(p), 'shared|y:7b')) ? true : undefined), 3000, 'a load time');

    // An empty restart: the keys vanish and the scheduler's connection drops.
    await redis.del(...keys, RedisKeys.schedulerLeader(p), RedisKeys.schedulerFence(p));
    const own = s.app.get<Redis>(REDIS);
    await redis.client('KILL', 'ID', String(await own.client('ID')));
    const emptiedAt = Date.now();
    await eventually(
      async () => {
        const [residency, workers, loadTimes] = await Promise.all([redis.hget(keys[0], 'x:7b'), redis.hget(keys[1], 'w1'), redis.hget(keys[2], 'shared|y:7b')]);
        return residency && JSON.parse(residency).workers.includes('w1') && workers && loadTimes ? true : undefined;
      },
      5000,
      'the state republished',
    );
    t.diagnostic(`state republished ${Date.now() - emptiedAt} ms after Redis was emptied`);
    assert.equal(await redis.get(RedisKeys.schedulerLeader(p)), value, 'the lease taken back with the same value');
    assert.deepEqual(lost, []);
    assert.equal(leader.isLeader, true);

    // Keys lost without the connection dropping (a FLUSHALL by hand, a failover to an empty replica): rewritten all the same.
    await redis.del(...keys);
    const deletedAt = Date.now();
    await eventually(async () => ((await redis.hlen(keys[0])) === 2 && (await redis.hget(keys[1], 'w1')) && (await redis.hget(keys[2], 'shared|y:7b')) ? true : undefined), 5000, 'the state rewritten');
    t.diagnostic(`state rewritten ${Date.now() - deletedAt} ms after the keys were deleted`);
  });
});
