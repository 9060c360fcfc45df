/**
 * Failures as the edge sees them, with the worker app in-process, the simulator and the real Redis:
 * a prompt that does not fit, Ollama killed mid-job, Ollama down and back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { edgeQueue, enqueueLikeEdge, makeJob } from '../testing/jobs.fixture';
import { deleteKeysWithPrefix, randomPrefix, spawnSimulator, TEST_REDIS_URL, type SpawnedSimulator } from '@switchyard/testing';
import { RelayListener } from '../testing/relay-listener';
import { sleep, waitFor } from '../testing/wait';
import { startWorker, type RunningWorker } from '../testing/worker-harness';

const MODEL = 'llama3.1:8b';

describe('failures', () => {
  const prefix = randomPrefix('t-failures');
  let sim: SpawnedSimulator;
  let port: string;
  let worker: RunningWorker;
  let relay: RelayListener;
  let queue: Queue;

  before(async () => {
    sim = await spawnSimulator({ timeScale: 20 });
    port = new URL(sim.urls[0]).port;
    relay = await RelayListener.start(TEST_REDIS_URL, prefix, 'edge-test');
    worker = await startWorker({ SWITCHYARD_PREFIX: prefix, OLLAMA_URL: sim.urls[0], WORKER_MODELS: MODEL, WORKER_SLOTS: '2' });
    queue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', MODEL);
    const warm = makeJob();
    await enqueueLikeEdge(queue, warm);
    assert.equal((await relay.end(warm.requestId)).type, 'final');
  });

  after(async () => {
    await worker?.close();
    await queue?.close();
    await relay?.close();
    await sim?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  const metric = async (name: string) => {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };

  test('a prompt longer than the context window: 400 context_length_exceeded, failed without retry', async () => {
    const job = makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'word '.repeat(9_000) }], options: {} } });
    await enqueueLikeEdge(queue, job);
    const end = await relay.end(job.requestId);
    assert.ok(end.type === 'error', JSON.stringify(end));
    assert.deepEqual({ status: end.status, code: end.code, after: end.afterFirstToken }, { status: 400, code: 'context_length_exceeded', after: false });
    await waitFor(async () => (await queue.getJobState(job.requestId)) === 'failed', 2_000, 'the job to fail');
    assert.equal((await queue.getJob(job.requestId))?.attemptsMade, 1, 'no retry');
  });

  test('killing Ollama mid-job: the streaming client gets a clean in-band error, the job is not left active; the worker stops pulling', async () => {
    const streaming = makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'long' }], options: { num_predict: 5_000 } } });
    const buffered = makeJob({ stream: false, work: { kind: 'chat', messages: [{ role: 'user', content: 'long' }], options: { num_predict: 5_000 } } });
    await enqueueLikeEdge(queue, streaming);
    await enqueueLikeEdge(queue, buffered);
    await relay.first(streaming.requestId, 'chunk');
    // A non-stream run relays nothing before its end: its queue says it runs.
    await waitFor(async () => (await queue.getJobState(buffered.requestId)) === 'active', 10_000, 'the buffered job to run');

    await sim.stop();

    const end = await relay.end(streaming.requestId, 3_000);
    // The simulator either closes the connection (503) or first writes an in-stream error line (500).
    assert.ok(end.type === 'error' && end.afterFirstToken, JSON.stringify(end));
    await waitFor(async () => (await queue.getJobState(streaming.requestId)) === 'failed', 2_000, 'the streaming job to fail');
    // Nothing of the non-streaming answer had reached its client: it goes back for another try.
    await waitFor(async () => (await queue.getActiveCount()) === 0, 2_000, 'no active job');
    assert.ok(!relay.of(buffered.requestId).some((m) => m.type === 'final' || m.type === 'error'));
    const attempts = (await queue.getJob(buffered.requestId))?.attemptsMade ?? 0;
    assert.ok(attempts >= 1 && attempts < 3, `${attempts} attempts made`);
    assert.equal(await metric('switchyard_worker_degraded'), 1);
    await waitFor(async () => (await metric('switchyard_worker_ollama_up')) === 0, 2_000, 'the worker to see Ollama down');

    // Ollama is down: nothing is pulled.
    const queued = makeJob();
    await enqueueLikeEdge(queue, queued);
    await sleep(500);
    assert.equal(relay.of(queued.requestId).length, 0);
    assert.ok(['prioritized', 'waiting'].includes(await queue.getJobState(queued.requestId)));
    assert.ok(['prioritized', 'waiting', 'delayed'].includes(await queue.getJobState(buffered.requestId)));
  });

  test('when Ollama answers again the worker pulls again: the retried and the queued jobs are served', async () => {
    sim = await spawnSimulator({ timeScale: 20, extraArgs: ['--port', port] });
    const pending = relay.messages.filter((m) => m.type === 'started').map((m) => m.requestId);
    const waiting = [...(await queue.getJobs(['prioritized', 'waiting', 'delayed']))].map((j) => j.id ?? '');
    assert.equal(waiting.length, 2);
    for (const id of waiting) assert.equal((await relay.end(id, 10_000)).type, 'final');
    assert.ok(pending.length > 0);
    await waitFor(async () => (await fetch(`${worker.url}/readyz`)).status === 200, 3_000, 'ready again');
  });
});
