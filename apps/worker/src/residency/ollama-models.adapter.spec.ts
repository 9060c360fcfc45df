import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { residencyWithFakes } from '../testing/residency.fixture';

test('loads go one at a time, each measured from its call; the load histogram counts recorded ones', async () => {
  const { models, ollama, registry } = residencyWithFakes();
  ollama.preloadMs = 40;
  let inFlight = 0;
  let maxInFlight = 0;
  const preload = ollama.preload.bind(ollama);
  ollama.preload = async (...args) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      return await preload(...args);
    } finally {
      inFlight--;
    }
  };
  const [a, b] = await Promise.all([models.load('llama3.1:8b', { numCtx: 8192, embedding: false }), models.load('nomic-embed-text', { numCtx: 2048, embedding: true })]);
  assert.equal(maxInFlight, 1, 'never two loads at once');
  assert.ok(a >= 0.035 && b >= 0.075, `measured ${a}s and ${b}s`);
  models.record('llama3.1:8b', a);
  assert.deepEqual(models.loadTimes(), [{ model: 'llama3.1:8b', seconds: a }]);
  assert.equal(models.lastLoadSeconds('nomic-embed-text'), undefined);
  assert.match(await registry.metrics(), /switchyard_worker_model_load_seconds_count\{model="llama3.1:8b"\} 1/);
});

test('a load past WORKER_LOAD_TIMEOUT_MS is abandoned', async () => {
  const { models, ollama } = residencyWithFakes({ WORKER_LOAD_TIMEOUT_MS: 30 });
  ollama.preloadMs = 1_000;
  const started = performance.now();
  await assert.rejects(models.load('llama3.1:8b', { numCtx: 8192, embedding: false }));
  assert.ok(performance.now() - started < 500);
});

test('Ollama unreachable on a load or an unload is reported, unless the caller asks not to', async () => {
  const { models, ollama, health } = residencyWithFakes();
  ollama.preloadError = new OllamaConnectionError('connect ECONNREFUSED');
  await assert.rejects(models.load('llama3.1:8b', { numCtx: 8192, embedding: false }, { reportUnreachable: false }), /ECONNREFUSED/);
  assert.deepEqual(health.failures, []);
  await assert.rejects(models.load('llama3.1:8b', { numCtx: 8192, embedding: false }), /ECONNREFUSED/);
  ollama.unloadError = new OllamaConnectionError('connect ECONNREFUSED');
  await assert.rejects(models.unload('llama3.1:8b'));
  assert.deepEqual(health.failures, ['unreachable', 'unreachable']);
});

test('what the last poll listed, less what was unloaded since; holdsNow asks Ollama', async () => {
  const { models, ollama } = residencyWithFakes();
  ollama.ps_ = [{ name: 'nomic-embed-text:latest', size: 3e8, context_length: 2048 }];
  models.observe(await models.ps());
  assert.equal(models.wasListed('nomic-embed-text'), true);
  assert.equal(await models.holdsNow('nomic-embed-text', 2048), true);
  assert.equal(await models.holdsNow('nomic-embed-text', 8192), false, 'another num_ctx');
  await models.unload('nomic-embed-text:latest');
  assert.equal(models.wasListed('nomic-embed-text'), false);
  ollama.psError = new Error('boom');
  assert.equal(await models.holdsNow('nomic-embed-text', 2048), false);
});
