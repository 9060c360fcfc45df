import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { resolveCatalogue } from '@switchyard/contracts';
import { ModelCatalogue } from '../config/model-catalogue';
import { RunningJobs } from '../jobs/running-jobs.registry';
import type { ModelRun } from '../jobs/inference.processor';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { FakeOllama } from '../testing/fake-ollama';
import { testLogger } from '../testing/test-logger';
import { sleep, waitFor } from '../testing/wait';
import { ResidencyService } from './residency.service';

const catalogue = new ModelCatalogue(
  resolveCatalogue({
    defaults: { context_window: 8192, pool: 'shared' },
    models: [
      { name: 'llama3.1:8b', size_gb: 4.9, pinned: 0, kind: 'chat', owned_by: 's' },
      { name: 'mistral-large:123b', size_gb: 73, context_window: 4096, pinned: 0, kind: 'chat', owned_by: 's' },
      { name: 'nomic-embed-text', size_gb: 0.27, context_window: 2048, pinned: 0, kind: 'embedding', owned_by: 's' },
    ],
  }),
);

class FakePullers {
  readonly events: string[] = [];
  readonly pulling = new Map<string, ModelRun>();
  /** How long `stop` takes (jobs in flight draining). */
  drainMs = 0;
  async start(run: ModelRun): Promise<void> {
    this.events.push(`start ${run.model} ${run.numCtx}`);
    this.pulling.set(run.model, run);
  }
  async stop(model: string): Promise<void> {
    this.events.push(`stop ${model}`);
    this.pulling.delete(model);
    await sleep(this.drainMs);
    this.events.push(`stopped ${model}`);
  }
  isPulling(model: string): boolean {
    return this.pulling.has(model);
  }
  pauseAll(): void {
    this.events.push('pause');
  }
  resumeAll(): void {
    this.events.push('resume');
  }
}

class FakeHealth {
  degraded = false;
  isDown = false;
  failures: string[] = [];
  reportFailure(kind: string) {
    this.failures.push(kind);
  }
  reportSuccess() {}
  onChange() {}
}

function build(env: { WORKER_MODELS?: string[] } = {}) {
  const ollama = new FakeOllama();
  const pullers = new FakePullers();
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry);
  const health = new FakeHealth();
  const config = { WORKER_MODELS: env.WORKER_MODELS ?? [], WORKER_GPU_MEMORY_GB: 80, WORKER_STATUS_INTERVAL_MS: 60_000, WORKER_LOAD_TIMEOUT_MS: 5_000 };
  const residency = new ResidencyService(config, catalogue, ollama, health, pullers, new RunningJobs(metrics), metrics, testLogger());
  return { residency, ollama, pullers, registry, health };
}

test('Load preloads with the catalogue num_ctx, measures the load time, then pulls the queue', async () => {
  const { residency, ollama, pullers, registry } = build();
  await residency.start();
  ollama.preloadMs = 40;
  const r = await residency.load('mistral-large:123b');
  assert.equal(r.ok, true);
  assert.ok(r.seconds >= 0.035 && r.seconds < 1, `measured ${r.seconds}s`);
  assert.deepEqual(ollama.calls.find((c) => c.op === 'preload'), { op: 'preload', model: 'mistral-large:123b', body: { numCtx: 4096, embedding: false } });
  assert.deepEqual(pullers.events, ['start mistral-large:123b 4096']);
  const snap = residency.snapshot();
  assert.deepEqual(snap.loadTimes.map((l) => l.model), ['mistral-large:123b']);
  assert.equal(snap.resident[0].pulling, true);
  assert.equal(snap.memoryTotalBytes, 80e9);
  const text = await registry.metrics();
  assert.match(text, /switchyard_worker_model_load_seconds_count\{model="mistral-large:123b"\} 1/);
  assert.match(text, /switchyard_worker_model_resident\{model="mistral-large:123b"\} 1/);
  residency.stop();
});

test('an embedding model is preloaded as one; a model outside the catalogue is refused', async () => {
  const { residency, ollama } = build();
  await residency.start();
  assert.equal((await residency.load('nomic-embed-text')).ok, true);
  assert.deepEqual(ollama.calls.find((c) => c.op === 'preload')?.body, { numCtx: 2048, embedding: true });
  const r = await residency.load('nope:1b');
  assert.equal(r.ok, false);
  assert.match(r.error, /not in the model catalogue/);
  residency.stop();
});

test('Evict stops pulling, waits for jobs in flight, then unloads (keep_alive 0)', async () => {
  const { residency, ollama, pullers, registry } = build();
  await residency.start();
  await residency.load('llama3.1:8b');
  pullers.drainMs = 50;
  const order: string[] = [];
  const unload = ollama.unload.bind(ollama);
  ollama.unload = async (m: string) => {
    order.push(`unload after [${pullers.events.join(', ')}]`);
    return unload(m);
  };
  const r = await residency.evict('llama3.1:8b');
  assert.deepEqual(r, { ok: true, error: '' });
  assert.deepEqual(order, ['unload after [start llama3.1:8b 8192, stop llama3.1:8b, stopped llama3.1:8b]']);
  assert.deepEqual(residency.snapshot().resident, []);
  assert.match(await registry.metrics(), /switchyard_worker_model_resident\{model="llama3.1:8b"\} 0/);
  residency.stop();
});

test('a load right after an eviction of the same model waits for it: never two pullers at once', async () => {
  const { residency, pullers } = build();
  await residency.start();
  await residency.load('llama3.1:8b');
  pullers.drainMs = 30;
  const [e, l] = await Promise.all([residency.evict('llama3.1:8b'), residency.load('llama3.1:8b')]);
  assert.ok(e.ok && l.ok);
  assert.deepEqual(pullers.events, ['start llama3.1:8b 8192', 'stop llama3.1:8b', 'stopped llama3.1:8b', 'start llama3.1:8b 8192']);
  residency.stop();
});

test('at start it adopts what Ollama already holds (Ollama names untagged models :latest)', async () => {
  const { residency, ollama, pullers } = build();
  ollama.ps_ = [
    { name: 'llama3.1:8b', size: 5e9, size_vram: 5e9, context_length: 8192 },
    { name: 'nomic-embed-text:latest', size: 3e8, size_vram: 3e8, context_length: 2048 },
    { name: 'stranger:1b', size: 1e9, size_vram: 1e9 },
  ];
  await residency.start();
  assert.deepEqual(pullers.events.sort(), ['start llama3.1:8b 8192', 'start nomic-embed-text 2048']);
  assert.equal(ollama.calls.filter((c) => c.op === 'preload').length, 0, 'adopting loads nothing');
  const snap = residency.snapshot();
  assert.deepEqual(
    snap.resident.map((r) => [r.model, r.pulling]),
    [
      ['llama3.1:8b', true],
      ['nomic-embed-text', true],
      ['stranger:1b', false],
    ],
  );
  assert.equal(snap.memoryUsedBytes, 5e9 + 3e8 + 1e9);
  residency.stop();
});

test('a model Ollama holds with another num_ctx is reloaded with the fixed one', async () => {
  const { residency, ollama, pullers } = build();
  ollama.ps_ = [{ name: 'llama3.1:8b', size: 5e9, context_length: 2048 }];
  await residency.start();
  await waitFor(() => pullers.events.length > 0);
  assert.deepEqual(ollama.calls.find((c) => c.op === 'preload')?.body, { numCtx: 8192, embedding: false });
  assert.deepEqual(pullers.events, ['start llama3.1:8b 8192']);
  residency.stop();
});

test('static mode loads WORKER_MODELS at start', async () => {
  const { residency, pullers } = build({ WORKER_MODELS: ['llama3.1:8b', 'nomic-embed-text'] });
  await residency.start();
  await waitFor(() => pullers.events.length === 2, 2000, 'two pullers');
  assert.deepEqual(residency.residentModels().sort(), ['llama3.1:8b', 'nomic-embed-text']);
  residency.stop();
});

test('a failed load reports the error and pulls nothing; Ollama unreachable marks it down', async () => {
  const { residency, ollama, pullers, health } = build();
  await residency.start();
  ollama.preloadError = new OllamaConnectionError('connect ECONNREFUSED');
  const r = await residency.load('llama3.1:8b');
  assert.equal(r.ok, false);
  assert.match(r.error, /ECONNREFUSED/);
  assert.deepEqual(pullers.events, []);
  assert.deepEqual(health.failures, ['unreachable']);
  assert.deepEqual(residency.snapshot().resident, []);
  residency.stop();
});

test('a model Ollama dropped on its own is noticed: its queue is no longer pulled', async () => {
  const { residency, ollama, pullers } = build();
  await residency.start();
  await residency.load('llama3.1:8b');
  ollama.ps_ = [];
  for (let i = 0; i < 3; i++) await residency.refresh();
  await waitFor(() => !pullers.isPulling('llama3.1:8b'), 1000, 'the puller to stop');
  assert.deepEqual(residency.residentModels(), []);
  residency.stop();
});
