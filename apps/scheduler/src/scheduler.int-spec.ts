/**
 * The scheduler end to end against the machine's Redis, with fake workers on real gRPC streams.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, Worker } from 'bullmq';
import { BULLMQ_PRIORITY, Queues, RedisKeys, residencyEntrySchema, ResidencyEntry } from '@switchyard/contracts';
import { WorkerRegistry } from './placement/worker-registry.service';
import { FakeWorker } from './testing/fake-worker';
import { eventually, newPrefix, startScheduler, writeCatalogue, RunningScheduler, testScope } from './testing/scheduler-harness';

const { redis, prefixes, cleanups } = testScope();
const catalogueFile = writeCatalogue();

async function scheduler(env: Record<string, string> = {}, prefix = newPrefix()): Promise<RunningScheduler & { prefix: string }> {
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  const s = await startScheduler({ SWITCHYARD_PREFIX: prefix, MODEL_CATALOGUE: catalogueFile, ...env });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await s.close();
  };
  cleanups.push(close);
  return { ...s, prefix, close };
}

function fakeWorker(address: string, opts: ConstructorParameters<typeof FakeWorker>[1]): FakeWorker {
  const w = new FakeWorker(address, opts);
  cleanups.push(() => w.close());
  w.connect();
  return w;
}

function queue(prefix: string, model: string): Queue {
  const q = new Queue(Queues.inference('shared', model), { connection: redis, prefix: Queues.bullPrefix(prefix) });
  cleanups.push(() => q.close());
  return q;
}

async function enqueue(q: Queue, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `req_${Math.random().toString(36).slice(2)}`;
    await q.add('inference', { requestId: id }, { jobId: id, priority: BULLMQ_PRIORITY.interactive });
  }
}

async function residency(prefix: string, model: string): Promise<ResidencyEntry | undefined> {
  const raw = await redis.hget(RedisKeys.residency(prefix), model);
  return raw ? residencyEntrySchema.parse(JSON.parse(raw)) : undefined;
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

const isLoad = (model: string) => (c: { cmd?: { $case: string; load?: { model: string } } }) => c.cmd?.$case === 'load' && c.cmd.load?.model === model;
const isEvict = (model: string) => (c: { cmd?: { $case: string; evict?: { model: string } } }) => c.cmd?.$case === 'evict' && c.cmd.evict?.model === model;

describe('scheduler with a fake worker over gRPC', () => {
  test('jobs waiting for a model get it loaded on a worker; residency follows; a lost worker is removed', async () => {
    const s = await scheduler();
    const ready = await fetch(`${s.httpUrl}/readyz`);
    assert.equal(ready.status, 200, await ready.text());

    const w1 = fakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24 });
    await eventually(async () => ((await redis.hget(RedisKeys.workers(s.prefix), 'w1')) ? true : undefined), 3000, 'w1 saved');
    assert.equal(w1.received.length, 0, 'nothing waits, so nothing is loaded');

    await enqueue(queue(s.prefix, 'x:7b'), 3);
    const load = await w1.waitFor(isLoad('x:7b'), 3000);
    assert.equal(load.cmd?.$case === 'load' && load.cmd.load.numCtx, 1024, 'the catalogue context window is sent');
    assert.ok(load.commandId.length > 0);

    const entry = await eventually(async () => {
      const e = await residency(s.prefix, 'x:7b');
      return e && e.workers.includes('w1') ? e : undefined;
    }, 3000, 'x:7b resident on w1');
    assert.deepEqual(entry.workers, ['w1']);
    assert.deepEqual(entry.loading, []);
    assert.equal(entry.slots, 4);
    assert.ok(entry.loadSeconds > 0);
    const saved = JSON.parse((await redis.hget(RedisKeys.workers(s.prefix), 'w1')) ?? '{}');
    assert.deepEqual(saved.resident.map((r: { model: string }) => r.model), ['x:7b']);
    assert.equal(await redis.hget(RedisKeys.loadTimes(s.prefix), 'shared|x:7b'), '0.050');

    const text = await metrics(s.httpUrl);
    assert.match(text, /switchyard_scheduler_loads_total\{model="x:7b",reason="demand"\} 1/);
    // The depth is the last poll's: one may have run while the three jobs were being added.
    await eventually(async () => (/switchyard_scheduler_queue_depth\{pool="shared",model="x:7b"\} 3/.test(await metrics(s.httpUrl)) ? true : undefined), 3000, 'queue depth 3');
    assert.match(text, /switchyard_scheduler_model_resident\{worker="w1",model="x:7b"\} 1/);
    assert.match(text, /switchyard_scheduler_workers\{state="connected"\} 1/);
    assert.match(text, /switchyard_scheduler_decision_duration_seconds_count \d+/);
    assert.equal(w1.received.filter(isLoad('x:7b')).length, 1, 'loaded once, not again on every tick');

    // The worker goes away without a word: after SCHEDULER_WORKER_TIMEOUT_MS it is removed.
    w1.close();
    await eventually(async () => {
      const e = await residency(s.prefix, 'x:7b');
      return e && e.workers.length === 0 ? e : undefined;
    }, 4000, 'x:7b no longer resident');
    assert.equal(await redis.hget(RedisKeys.workers(s.prefix), 'w1'), null);
    assert.match(await metrics(s.httpUrl), /switchyard_scheduler_workers\{state="connected"\} 0/);
  });

  test('when the worker holding a model is lost, the model is placed on another worker', async () => {
    const s = await scheduler();
    const w1 = fakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
    const w2 = fakeWorker(s.grpcAddress, { id: 'w2', memoryGb: 24 });
    await eventually(async () => ((await residency(s.prefix, 'x:7b'))?.workers.includes('w1') ? true : undefined), 3000, 'x:7b on w1');
    await enqueue(queue(s.prefix, 'x:7b'), 2);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(w2.received.length, 0, 'x:7b is served by w1; no second copy for two jobs');
    w1.close();
    await w2.waitFor(isLoad('x:7b'), 4000);
    await eventually(async () => {
      const e = await residency(s.prefix, 'x:7b');
      return e && e.workers.join() === 'w2' ? e : undefined;
    }, 3000, 'x:7b moved to w2');
  });

  test('a dead worker’s running jobs return to their queue', async () => {
    const s = await scheduler();
    const q = queue(s.prefix, 'y:7b');
    await enqueue(q, 1);
    // A worker takes the job, then dies: its lock is never renewed.
    const dying = new Worker(Queues.inference('shared', 'y:7b'), undefined, {
      connection: redis,
      prefix: Queues.bullPrefix(s.prefix),
      autorun: false,
      lockDuration: 500,
    });
    const job = await dying.getNextJob('dead-token');
    assert.ok(job?.id);
    await dying.close(true);
    assert.equal(await q.getJobState(job.id), 'active');
    await eventually(async () => {
      const state = await q.getJobState(job.id as string);
      return state === 'prioritized' || state === 'waiting' ? state : undefined;
    }, 6000, 'the job back in its queue');
    await eventually(async () => (/switchyard_scheduler_stalled_jobs_recovered_total\{pool="shared",model="y:7b"\} 1/.test(await metrics(s.httpUrl)) ? true : undefined), 2000, 'the recovery counted');
  });

  test('after a restart the scheduler recovers the registry and evicts nothing before the workers are back', async () => {
    const prefix = newPrefix();
    const first = await scheduler({}, prefix);
    // w1 is full with y:7b (idle); w2 serves x:7b.
    const w1 = fakeWorker(first.grpcAddress, { id: 'w1', memoryGb: 7, resident: { 'y:7b': 6 } });
    const w2 = fakeWorker(first.grpcAddress, { id: 'w2', memoryGb: 7, resident: { 'x:7b': 6 } });
    await eventually(async () => ((await redis.hlen(RedisKeys.workers(prefix))) === 2 ? true : undefined), 3000, 'both workers saved');
    w1.close();
    w2.close();
    await first.close();

    const second = await scheduler({ SCHEDULER_WORKER_TIMEOUT_MS: '1500', SCHEDULER_RESTART_GRACE_MS: '20000' }, prefix);
    const registry = second.app.get(WorkerRegistry);
    assert.deepEqual(registry.all().map((w) => [w.id, w.recovered, w.resident.map((r) => r.model)]).sort(), [
      ['w1', true, ['y:7b']],
      ['w2', true, ['x:7b']],
    ]);
    assert.deepEqual((await residency(prefix, 'x:7b'))?.workers, ['w2']);

    // x:7b has a batch waiting. Only w1 comes back: since w2 (which holds x:7b) may come back too,
    // nothing is evicted from w1 yet.
    await enqueue(queue(prefix, 'x:7b'), 8);
    const w1again = fakeWorker(second.grpcAddress, { id: 'w1', memoryGb: 7, resident: { 'y:7b': 6 } });
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(w1again.received, []);

    // w2 does not come back within the timeout: it is removed, and x:7b replaces y:7b on w1.
    const evict = await w1again.waitFor(isEvict('y:7b'), 4000);
    assert.match(evict.cmd?.$case === 'evict' ? evict.cmd.evict.reason : '', /room for x:7b/);
    await w1again.waitFor(isLoad('x:7b'), 3000);
    assert.ok(w1again.received.findIndex(isEvict('y:7b')) < w1again.received.findIndex(isLoad('x:7b')), 'evict first, then load');
    await eventually(async () => ((await residency(prefix, 'x:7b'))?.workers.join() === 'w1' ? true : undefined), 3000, 'x:7b on w1');
    assert.deepEqual((await residency(prefix, 'y:7b'))?.workers, []);
  });
});
