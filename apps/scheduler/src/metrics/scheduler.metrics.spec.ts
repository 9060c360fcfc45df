import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { resolveCatalogue } from '@switchyard/contracts';
import { SchedulerMetrics } from './scheduler.metrics';

test('each catalogue model’s loads, evictions, load failures, load times and stalled-job recoveries exist at 0 from the start', async () => {
  const catalogue = resolveCatalogue({
    defaults: { context_window: 8192, pool: 'shared' },
    models: [
      { name: 'x:7b', size_gb: 4, pinned: 0, kind: 'chat', owned_by: 's' },
      { name: 'y:70b', size_gb: 40, pinned: 0, kind: 'chat', owned_by: 's' },
    ],
  });
  const registry = new Registry();
  new SchedulerMetrics(registry, catalogue);
  const text = await registry.metrics();
  for (const model of ['x:7b', 'y:70b']) {
    for (const reason of ['pin', 'demand', 'aging', 'replicate', 'static']) {
      assert.match(text, new RegExp(`switchyard_scheduler_loads_total\\{model="${model}",reason="${reason}"\\} 0\\n`));
      assert.match(text, new RegExp(`switchyard_scheduler_evictions_total\\{model="${model}",reason="${reason}"\\} 0\\n`));
    }
    assert.match(text, new RegExp(`switchyard_scheduler_load_failures_total\\{model="${model}"\\} 0\\n`));
    assert.match(text, new RegExp(`switchyard_scheduler_model_load_seconds_count\\{model="${model}"\\} 0\\n`));
    for (const pool of ['shared', 'performance']) assert.match(text, new RegExp(`switchyard_scheduler_stalled_jobs_recovered_total\\{pool="${pool}",model="${model}"\\} 0\\n`));
  }
  assert.doesNotMatch(text, /model="unknown"/, 'no label value beyond the catalogue');
});
