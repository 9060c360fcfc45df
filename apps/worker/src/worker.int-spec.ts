/**
 * The worker as a whole app (in this process) in static mode, against the Ollama simulator and the
 * real Redis: jobs enqueued exactly as the edge enqueues them, relay read as the edge reads it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { edgeQueue, enqueueLikeEdge, makeJob } from './testing/jobs.fixture';
import { deleteKeysWithPrefix, randomPrefix, spawnSimulator, TEST_REDIS_URL, type SpawnedSimulator } from '@switchyard/testing';
import { RelayListener } from './testing/relay-listener';
import { SimProbe } from './testing/sim-client';
import { sleep, waitFor } from './testing/wait';
import { startWorker, type RunningWorker } from './testing/worker-harness';

const MODEL = 'llama3.1:8b';
const EMBED = 'nomic-embed-text';
/** Has Ollama's `insert` capability (fill-in-the-middle). */
const CODE = 'codestral:22b';
const SLOTS = 2;

describe('worker (static mode) against the simulator', () => {
  const prefix = randomPrefix('t-worker');
  let sim: SpawnedSimulator;
  let probe: SimProbe;
  let worker: RunningWorker;
  let relay: RelayListener;
  let queue: Queue;
  let embedQueue: Queue;
  let codeQueue: Queue;

  before(async () => {
    // 4 slots in Ollama, 2 in the worker: Ollama would take more, the worker must not give it more.
    sim = await spawnSimulator({ timeScale: 20, numParallel: 4 });
    probe = new SimProbe(sim.urls[0]);
    relay = await RelayListener.start(TEST_REDIS_URL, prefix, 'edge-test');
    worker = await startWorker({
      SWITCHYARD_PREFIX: prefix,
      OLLAMA_URL: sim.urls[0],
      WORKER_MODELS: `${MODEL},${EMBED},${CODE}`,
      WORKER_SLOTS: String(SLOTS),
      WORKER_ID: 'w-static',
    });
    queue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', MODEL);
    embedQueue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', EMBED);
    codeQueue = edgeQueue(TEST_REDIS_URL, prefix, 'shared', CODE);
    await waitFor(async () => (await probe.ollama.ps()).length === 3, 10_000, 'the static models loaded');
  });

  after(async () => {
    await worker?.close();
    await queue?.close();
    await embedQueue?.close();
    await codeQueue?.close();
    await relay?.close();
    await probe?.close();
    await sim?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  test('a chat job is served with the fixed num_ctx: started, coalesced chunks, final with usage; no reload', async (t) => {
    const ps = await probe.ollama.ps();
    assert.equal(ps.find((p) => p.name === MODEL)?.context_length, 8192);
    assert.equal(ps.find((p) => p.name === `${EMBED}:latest`)?.context_length, 2048);
    const loadsBefore = (await probe.stats()).models?.[MODEL]?.loads;

    const job = makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'Tell me a story' }], options: { num_predict: 400 } } });
    await enqueueLikeEdge(queue, job);
    const end = await relay.end(job.requestId);
    assert.equal(end.type, 'final', JSON.stringify(end));
    const msgs = relay.of(job.requestId);
    assert.equal(msgs[0].type, 'started');
    assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i));
    const chunks = msgs.filter((m) => m.type === 'chunk');
    assert.ok(end.type === 'final' && end.workerId === 'w-static');
    if (end.type !== 'final') return;
    assert.equal(end.finishReason, 'length');
    assert.equal(end.usage.completionTokens, 400);
    assert.ok(end.usage.promptTokens > 0);
    assert.ok(chunks.length > 1 && chunks.length < 400 / 4, `${chunks.length} chunk messages for 400 tokens (coalesced)`);
    t.diagnostic(`400 tokens in ${end.usage.totalMs.toFixed(0)} ms (simulated) relayed as ${chunks.length} chunk messages`);

    const after = await probe.ollama.ps();
    assert.equal(after.find((p) => p.name === MODEL)?.context_length, 8192, 'the job ran with the fixed num_ctx (no reload)');
    assert.equal((await probe.stats()).models?.[MODEL]?.loads, loadsBefore, 'no load caused by the job');
    assert.equal(await queue.getActiveCount(), 0);
  });

  test('a completion with suffix and an embedding job are served', async () => {
    const fim = makeJob({ model: CODE, stream: false, work: { kind: 'generate', prompt: 'def add(a, b):', suffix: '\n    return c', options: { num_predict: 30 } } });
    const emb = makeJob({ model: EMBED, numCtx: 2048, stream: false, work: { kind: 'embed', input: ['one', 'two'] } });
    await enqueueLikeEdge(codeQueue, fim);
    await enqueueLikeEdge(embedQueue, emb);
    const fimEnd = await relay.end(fim.requestId);
    assert.equal(fimEnd.type, 'final', JSON.stringify(fimEnd));
    assert.deepEqual(
      relay.of(fim.requestId).map((m) => m.type),
      ['final'],
      'a non-streaming answer travels as one message, its final',
    );
    assert.ok(fimEnd.type === 'final' && (fimEnd.content ?? '').length > 0);
    const embEnd = await relay.end(emb.requestId);
    assert.ok(embEnd.type === 'final' && embEnd.embeddings?.length === 2 && embEnd.embeddings[0].length > 0);
  });

  test('the worker never holds more running jobs for a model than its slots', async (t) => {
    const jobs = Array.from({ length: 10 }, () => makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'go' }], options: { num_predict: 250 } } }));
    let maxBusyInOllama = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        maxBusyInOllama = Math.max(maxBusyInOllama, await probe.busy(MODEL));
        await sleep(3);
      }
    })();
    await Promise.all(jobs.map((j) => enqueueLikeEdge(queue, j)));
    for (const j of jobs) assert.equal((await relay.end(j.requestId, 20_000)).type, 'final');
    polling = false;
    await poller;

    // What the edge saw: at no moment more than SLOTS requests between `started` and their end.
    const events = jobs.flatMap((j) => {
      const msgs = relay.of(j.requestId);
      const start = msgs.find((m) => m.type === 'started');
      const end = msgs.find((m) => m.type === 'final');
      return start && end ? [{ t: start.receivedAt, d: 1 }, { t: end.receivedAt, d: -1 }] : [];
    });
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let maxRunning = 0;
    for (const e of events) maxRunning = Math.max(maxRunning, (running += e.d));
    assert.ok(maxRunning <= SLOTS, `edge saw ${maxRunning} running`);
    assert.ok(maxBusyInOllama <= SLOTS, `Ollama saw ${maxBusyInOllama} busy slots`);
    assert.equal(maxBusyInOllama, SLOTS, 'both slots were used');
    t.diagnostic(`10 jobs, ${SLOTS} slots (Ollama has 4): at most ${maxRunning} running as the edge saw it, ${maxBusyInOllama} busy in Ollama`);
  });

  test('interactive jobs are pulled before bulk ones', async () => {
    const long = { kind: 'chat' as const, messages: [{ role: 'user' as const, content: 'x' }], options: { num_predict: 600 } };
    const blockers = [makeJob({ work: long }), makeJob({ work: long })];
    for (const b of blockers) await enqueueLikeEdge(queue, b);
    await Promise.all(blockers.map((b) => relay.first(b.requestId, 'chunk')));
    const bulk = Array.from({ length: 3 }, () => makeJob({ priority: 'bulk', work: { ...long, options: { num_predict: 20 } } }));
    for (const b of bulk) await enqueueLikeEdge(queue, b);
    const interactive = makeJob({ work: { ...long, options: { num_predict: 20 } } });
    await enqueueLikeEdge(queue, interactive);
    const started = await Promise.all([interactive, ...bulk].map(async (j) => (await relay.first(j.requestId, 'started', 20_000)).receivedAt));
    assert.ok(started[0] <= Math.min(...started.slice(1)), 'the interactive job started first');
    for (const j of [...blockers, ...bulk, interactive]) await relay.end(j.requestId, 20_000);
  });

  test('a cancelled job frees its Ollama slot within 1 s and is not left active', async (t) => {
    const job = makeJob({ work: { kind: 'chat', messages: [{ role: 'user', content: 'a very long answer' }], options: { num_predict: 5_000 } } });
    await enqueueLikeEdge(queue, job);
    await relay.first(job.requestId, 'chunk');
    assert.equal(await probe.busy(MODEL), 1);
    const t0 = Date.now();
    await relay.cancel(job.requestId);
    await waitFor(async () => (await probe.busy(MODEL)) === 0, 1_000, 'the slot to be free');
    const freedMs = Date.now() - t0;
    await waitFor(async () => (await queue.getActiveCount()) === 0, 2_000, 'no active job');
    await sleep(100);
    assert.ok(!relay.of(job.requestId).some((m) => m.type === 'final' || m.type === 'error'), 'nothing relayed after the cancel');
    assert.ok(freedMs < 1_000, `slot freed in ${freedMs} ms`);
    t.diagnostic(`cancel published → Ollama slot free in ${freedMs} ms`);
  });

  test('metrics and readiness', async () => {
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.match(metrics, /switchyard_worker_jobs_total\{model="llama3.1:8b",outcome="length"\} \d+/);
    assert.match(metrics, /switchyard_worker_jobs_total\{model="llama3.1:8b",outcome="cancelled"\} 1/);
    assert.match(metrics, /switchyard_worker_model_resident\{model="llama3.1:8b"\} 1/);
    assert.match(metrics, /switchyard_worker_resident_models 3/);
    assert.match(metrics, /switchyard_worker_model_load_seconds_count\{model="llama3.1:8b"\} 1/);
    assert.match(metrics, /switchyard_worker_gpu_memory_bytes\{kind="total"\} 80000000000/);
    assert.match(metrics, /switchyard_worker_busy_slots\{model="llama3.1:8b"\} 0/);
    assert.doesNotMatch(metrics, /req_test_/);
    const ready = await fetch(`${worker.url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
  });
});
