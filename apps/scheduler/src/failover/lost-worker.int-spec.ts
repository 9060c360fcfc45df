/**
 * A dead worker's running jobs are resolved as soon as the scheduler knows it is gone — not when
 * BullMQ's lock expires — against the machine's Redis, with fake workers on real gRPC streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, Worker } from 'bullmq';
import { BULLMQ_PRIORITY, type InferenceJob, Queues, RedisKeys, relayMessageSchema, type RelayLost } from '@switchyard/contracts';
import { FakeWorker } from '../testing/fake-worker';
import { eventually, newPrefix, startScheduler, writeCatalogue, testScope } from '../testing/scheduler-harness';

const { redis, prefixes, cleanups } = testScope();
const catalogueFile = writeCatalogue();

const job = (requestId: string): InferenceJob => ({
  requestId,
  pool: 'shared',
  model: 'x:7b',
  numCtx: 1024,
  priority: 'interactive',
  edgeId: 'edge-t',
  keyId: 'k',
  userId: 'u',
  createdAt: Date.now(),
  estimatedPromptTokens: 3,
  stream: true,
  work: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }], options: {} },
});

/** A scheduler, a fake worker `w1` holding x:7b, a listener on the edge's relay channel, and one job that `w1`'s process took and then died with. */
async function orphanedJob() {
  const prefix = newPrefix();
  prefixes.push(prefix);
  const s = await startScheduler({ SWITCHYARD_PREFIX: prefix, MODEL_CATALOGUE: catalogueFile });
  cleanups.push(() => s.close());
  const fw = new FakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
  cleanups.push(() => fw.close());
  fw.connect();
  await eventually(async () => ((await redis.hget(RedisKeys.workers(prefix), 'w1')) ? true : undefined), 5000, 'w1 registered');

  const lost: Array<RelayLost & { at: number }> = [];
  const sub = redis.duplicate();
  cleanups.push(() => sub.disconnect());
  sub.on('message', (_ch: string, raw: string) => {
    const m = relayMessageSchema.parse(JSON.parse(raw));
    if (m.type === 'lost') lost.push({ ...m, at: Date.now() });
  });
  await sub.subscribe(RedisKeys.relayChannel(prefix, 'edge-t'));

  const queue = new Queue(Queues.inference('shared', 'x:7b'), { connection: redis, prefix: Queues.bullPrefix(prefix) });
  cleanups.push(() => queue.close());
  await queue.add('inference', job('req_a'), { jobId: 'req_a', priority: BULLMQ_PRIORITY.interactive, attempts: 3 });
  // The worker process's BullMQ Worker (named by WORKER_ID, as apps/worker names it) takes the job and never finishes it.
  let taken!: () => void;
  const took = new Promise<void>((r) => (taken = r));
  const connection = redis.duplicate();
  cleanups.push(() => connection.disconnect());
  const process = new Worker(queue.name, () => { taken(); return new Promise(() => undefined); }, {
    connection,
    prefix: Queues.bullPrefix(prefix),
    name: 'w1',
    lockDuration: 60_000,
  });
  await took;
  // SIGKILL, as far as Redis can tell: the lock stays (for a minute), nobody renews it or finishes the job.
  await process.close(true);
  assert.equal(await queue.getJobState('req_a'), 'active');
  return { s, fw, queue, lost, prefix };
}

/** An idle worker process blocked on the queue (BullMQ's drain delay: 5 s); resolves with the time it takes a job. */
async function idleTaker(queueName: string, prefix: string): Promise<{ took: Promise<number> }> {
  const connection = redis.duplicate();
  cleanups.push(() => connection.disconnect());
  let taken!: (at: number) => void;
  const took = new Promise<number>((r) => (taken = r));
  const w = new Worker(queueName, async () => taken(Date.now()), { connection, prefix: Queues.bullPrefix(prefix), name: 'w2' });
  cleanups.push(() => w.close(true));
  await w.waitUntilReady();
  await new Promise((r) => setTimeout(r, 300)); // let it block on the empty queue
  return { took };
}

test('a worker that restarts under its id: the jobs its dead process ran are requeued at its registration, its edge told first', async () => {
  const { s, fw, queue, lost } = await orphanedJob();
  fw.close();
  const restarted = new FakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
  restarted.startedAtMs = fw.startedAtMs + 5_000;
  cleanups.push(() => restarted.close());
  const t0 = Date.now();
  restarted.connect();
  const state = await eventually(async () => {
    const st = await queue.getJobState('req_a');
    return st === 'active' ? undefined : st;
  }, 5000, 'the job to leave active');
  assert.ok(['waiting', 'prioritized'].includes(state), `requeued, not ${state}`);
  const job = await queue.getJob('req_a');
  assert.equal(job?.attemptsMade, 0, 'no attempt was spent');
  assert.equal(lost.length, 1);
  assert.deepEqual({ workerId: lost[0].workerId, requestId: lost[0].requestId, requeued: lost[0].requeued }, { workerId: 'w1', requestId: 'req_a', requeued: true });
  assert.ok(Date.now() - t0 < 3000, `resolved ${Date.now() - t0} ms after the new process registered`);
});

test('a worker that is lost (stream closed, no status within the timeout) has its running jobs requeued at once, not after the lock; an idle worker takes them at once', async () => {
  const { fw, queue, lost, prefix } = await orphanedJob();
  const idle = await idleTaker(queue.name, prefix);
  const t0 = Date.now();
  fw.close();
  await eventually(async () => ((await queue.getJobState('req_a')) === 'active' ? undefined : true), 6000, 'the job to leave active');
  const took = Date.now() - t0;
  const requeuedAt = Date.now();
  const takenAt = await idle.took;
  // BullMQ puts a prioritized job back without waking blocked workers; without the marker this is ~5 s.
  assert.ok(takenAt - requeuedAt < 1500, `an idle worker took the requeued job after ${takenAt - requeuedAt} ms`);
  // SCHEDULER_WORKER_TIMEOUT_MS is 1 s in the harness; BullMQ's lock is 60 s.
  assert.ok(took < 4000, `resolved ${took} ms after the worker went away`);
  assert.equal(lost.length, 1);
  assert.equal(lost[0].requeued, true);
});

test('a worker that only reconnects (same process) keeps its jobs', async () => {
  const { s, fw, queue, lost } = await orphanedJob();
  fw.close();
  const again = new FakeWorker(s.grpcAddress, { id: 'w1', memoryGb: 24, resident: { 'x:7b': 6 } });
  again.startedAtMs = fw.startedAtMs;
  cleanups.push(() => again.close());
  again.connect();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await queue.getJobState('req_a'), 'active');
  assert.equal(lost.length, 0);
});
