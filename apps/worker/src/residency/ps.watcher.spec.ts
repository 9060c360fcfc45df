import { test } from 'node:test';
import assert from 'node:assert/strict';
import { residencyWithFakes } from '../testing/residency.fixture';
import { waitFor } from '../testing/wait';

test('after an outage the resident models Ollama lost are loaded again before pulling resumes', async () => {
  const { residency, ollama, pullers, health } = residencyWithFakes();
  await residency.start();
  await residency.load('llama3.1:8b');
  const loadedAt = residency.snapshot().resident[0].loadedAtMs;

  health.goDown();
  assert.deepEqual(pullers.events.slice(-1), ['pause']);
  ollama.ps_ = []; // Ollama restarted: it holds nothing
  ollama.calls.length = 0;
  ollama.preloadMs = 20;
  const preload = ollama.preload.bind(ollama);
  const pullingWhenReloaded: string[] = [];
  ollama.preload = async (...args) => {
    pullingWhenReloaded.push(pullers.events.at(-1) ?? '');
    return preload(...args);
  };
  health.comeBack();
  await waitFor(() => pullers.events.at(-1) === 'resume', 2_000, 'pulling to resume');
  assert.deepEqual(
    ollama.calls.map((c) => `${c.op} ${c.model}`),
    ['preload llama3.1:8b'],
  );
  assert.deepEqual(pullingWhenReloaded, ['pause'], 'reloaded while still paused');
  assert.deepEqual(ollama.calls[0].body, { numCtx: 8192, embedding: false });
  const snap = residency.snapshot();
  assert.ok(snap.resident[0].loadedAtMs >= loadedAt);
  assert.ok(snap.loadTimes[0].seconds >= 0.015, 'the reload is measured');
  residency.stop();
});

test('a failed reload after an outage does not keep the worker paused', async () => {
  const { residency, ollama, pullers, health } = residencyWithFakes();
  await residency.start();
  await residency.load('llama3.1:8b');
  health.goDown();
  ollama.ps_ = [];
  ollama.preloadError = new Error('model file missing');
  health.comeBack();
  await waitFor(() => pullers.events.at(-1) === 'resume', 2_000, 'pulling to resume');
  assert.deepEqual(health.failures, []);
  residency.stop();
});

test('a static model Ollama dropped is loaded again at once, its queue still pulled', async () => {
  const { residency, ollama, pullers } = residencyWithFakes({ WORKER_MODELS: ['llama3.1:8b'] });
  await residency.start();
  await waitFor(() => residency.residentModels().length === 1, 2_000, 'the static model');
  ollama.ps_ = [];
  ollama.calls.length = 0;
  await residency.refresh();
  await residency.refresh();
  assert.equal(ollama.calls.filter((c) => c.op === 'preload').length, 0, 'two polls missing: not lost yet');
  await residency.refresh();
  await waitFor(() => ollama.calls.some((c) => c.op === 'preload'), 1_000, 'a reload');
  await waitFor(() => residency.residentModels().length === 1, 1_000, 'resident again');
  assert.ok(!pullers.events.includes('stop llama3.1:8b'), 'its puller was not stopped');
  residency.stop();
});

test('a model seen again resets the count; memory used is what /api/ps lists', async () => {
  const { residency, ollama, pullers, registry } = residencyWithFakes();
  await residency.start();
  await residency.load('llama3.1:8b');
  const held = ollama.ps_;
  ollama.ps_ = [];
  await residency.refresh();
  await residency.refresh();
  ollama.ps_ = held;
  await residency.refresh();
  ollama.ps_ = [];
  await residency.refresh();
  await residency.refresh();
  assert.ok(pullers.isPulling('llama3.1:8b'), 'never three polls in a row missing');
  ollama.ps_ = [...held, { name: 'stranger:1b', size: 2e9, size_vram: 1e9 }];
  await residency.refresh();
  assert.equal(residency.snapshot().memoryUsedBytes, 1e9 + 1e9);
  assert.match(await registry.metrics(), /switchyard_worker_gpu_memory_bytes\{kind="used"\} 2000000000/);
  residency.stop();
});
