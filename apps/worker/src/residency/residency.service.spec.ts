import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { residencyWithFakes } from '../testing/residency.fixture';
import { waitFor } from '../testing/wait';

const build = residencyWithFakes;

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
