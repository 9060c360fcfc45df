import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { residencyCatalogue } from '../testing/residency.fixture';
import { WorkerMetrics } from './worker.metrics';

test('each catalogue model’s job outcomes, generated tokens and load times exist at 0 before any job or load', async () => {
  const registry = new Registry();
  new WorkerMetrics(registry, residencyCatalogue);
  const text = await registry.metrics();
  for (const model of ['llama3.1:8b', 'mistral-large:123b', 'nomic-embed-text']) {
    for (const outcome of ['ok', 'length', 'cancelled', 'rejected', 'retried', 'failed', 'broken']) {
      assert.match(text, new RegExp(`switchyard_worker_jobs_total\\{model="${model}",outcome="${outcome}"\\} 0\\n`));
    }
    assert.match(text, new RegExp(`switchyard_worker_generated_tokens_total\\{model="${model}"\\} 0\\n`));
    assert.match(text, new RegExp(`switchyard_worker_model_load_seconds_count\\{model="${model}"\\} 0\\n`));
  }
});

test('an unknown GPU memory total is no series, never a 0', async () => {
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry);
  metrics.setGpuMemory('total', 0);
  metrics.setGpuMemory('used', 0);
  assert.doesNotMatch(await registry.metrics(), /kind="total"/);
  assert.match(await registry.metrics(), /switchyard_worker_gpu_memory_bytes\{kind="used"\} 0/);
  metrics.setGpuMemory('total', 80e9);
  assert.match(await registry.metrics(), /switchyard_worker_gpu_memory_bytes\{kind="total"\} 80000000000/);
});
