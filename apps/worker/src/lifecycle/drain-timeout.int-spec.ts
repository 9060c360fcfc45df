/**
 * Shutdown past WORKER_DRAIN_TIMEOUT_MS, with the worker app in-process, the simulator and the real
 * Redis: the jobs still running are aborted and handled as for a lost worker. A stream whose client
 * has text ends with an in-band `worker_shutdown` error; a job nothing of which reached its client
 * goes back to its queue, without spending an attempt, and another worker runs it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { deleteKeysWithPrefix, randomPrefix, spawnSimulator, TEST_REDIS_URL, type SpawnedSimulator } from '@switchyard/testing';
import { edgeQueue, enqueueLikeEdge, makeJob } from '../testing/jobs.fixture';
import { RelayListener } from '../testing/relay-listener';
import { startWorker, type RunningWorker } from '../testing/worker-harness';
import { waitFor } from '../testing/wait';

const MODEL = 'llama3.1:8b';
const DRAIN_TIMEOUT_MS = 300;

describe('drain timeout', () => {
  const prefix = randomPrefix('t-drain');
  let sim: SpawnedSimulator;
  let relay: RelayListener;
  let queue: Queue;
  const workers: RunningWorker[] = [];

  const start = async (id: string) => {
    const worker = await startWorker({
      SWITCHYARD_PREFIX: prefix,
      OLLAMA_URL: sim.urls[0],
      WORKER_MODELS: MODEL,
      WORKER_SLOTS: '2',
      WORKER_ID: id,
      WORKER_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    });
    workers.push(worker);
    return worker;
  };

  before(async () => {
    sim = await spawnSimulator({ timeScale: 10 });
    relay = await RelayListener.start(TEST_REDIS_URL, prefix, 'edge-test');
    queue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', MODEL);
  });

  after(async () => {
    for (const w of workers) await w.close();
    await queue?.close();
    await relay?.close();
    await sim?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  test('past the timeout: the stream with text gets worker_shutdown in-band, the buffered job is requeued and served by another worker', async (t) => {
    const first = await start('w-drain-1');
    const warm = makeJob();
    await enqueueLikeEdge(queue, warm);
    assert.equal((await relay.end(warm.requestId)).type, 'final');

    const long = (num_predict: number) => ({ kind: 'chat' as const, messages: [{ role: 'user' as const, content: 'long' }], options: { num_predict } });
    const streaming = makeJob({ work: long(50_000) });
    const buffered = makeJob({ stream: false, work: long(4_000) });
    await enqueueLikeEdge(queue, streaming);
    await enqueueLikeEdge(queue, buffered);
    await relay.first(streaming.requestId, 'chunk');
    // A non-stream run relays nothing before its end: its queue says it runs.
    await waitFor(async () => (await queue.getJobState(buffered.requestId)) === 'active', 10_000, 'the buffered job to run');

    const closeStarted = Date.now();
    await first.close();
    const closeMs = Date.now() - closeStarted;
    assert.ok(closeMs >= DRAIN_TIMEOUT_MS && closeMs < 5_000, `closed after ${closeMs} ms`);

    // The stream: chunks, then an in-band error after them, and the job failed without retry.
    const streamed = relay.of(streaming.requestId);
    const end = streamed.at(-1);
    assert.ok(end?.type === 'error', JSON.stringify(end));
    assert.deepEqual({ status: end.status, code: end.code, afterFirstToken: end.afterFirstToken }, { status: 503, code: 'worker_shutdown', afterFirstToken: true });
    assert.match(end.message, /shut down mid-answer/);
    assert.ok(streamed.filter((m) => m.type === 'chunk').length > 0);
    assert.deepEqual(
      streamed.map((m) => m.seq),
      streamed.map((_, i) => i),
      'one run, in order, no gap',
    );
    assert.equal(await queue.getJobState(streaming.requestId), 'failed');
    assert.equal((await queue.getJob(streaming.requestId))?.attemptsMade, 1, 'no retry');

    // The buffered job: nothing reached its client; it waits in its queue with no attempt spent.
    assert.ok(!relay.of(buffered.requestId).some((m) => m.type === 'final' || m.type === 'error'));
    assert.ok(['waiting', 'prioritized'].includes(await queue.getJobState(buffered.requestId)));
    assert.equal((await queue.getJob(buffered.requestId))?.attemptsMade, 0);
    assert.equal(await queue.getActiveCount(), 0, 'nothing left locked');

    const servedAt = Date.now();
    await start('w-drain-2');
    const final = await relay.end(buffered.requestId, 20_000);
    assert.ok(final.type === 'final', JSON.stringify(final));
    assert.equal(final.workerId, 'w-drain-2');
    assert.equal(final.finishReason, 'length');
    // The aborted run relayed nothing (a non-stream run sends nothing before its end): one run, complete from seq 0.
    const relayed = relay.of(buffered.requestId);
    assert.equal(new Set(relayed.map((m) => m.runId)).size, 1, 'only the run that finished relayed anything');
    assert.deepEqual(relayed.map((m) => m.seq), relayed.map((_, i) => i));
    t.diagnostic(`shutdown took ${closeMs} ms (drain timeout ${DRAIN_TIMEOUT_MS} ms); the requeued job was served ${final.receivedAt - servedAt} ms after a second worker started`);
  });
});
