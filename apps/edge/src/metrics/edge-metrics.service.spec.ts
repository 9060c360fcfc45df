import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { EdgeConfig } from '../config/edge.config';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { EdgeMetrics } from './edge-metrics.service';

test('the request, token and rejection series certain to be used exist at 0 from the start, bounded by the catalogue', async () => {
  const catalogue = new ModelCatalogueService({ MODEL_CATALOGUE: path.resolve(__dirname, '../../../../deploy/models.yaml') } as EdgeConfig);
  const registry = new Registry();
  new EdgeMetrics(registry, catalogue);
  const text = await registry.metrics();
  for (const status of ['200', '400', '429', '503']) {
    assert.match(text, new RegExp(`switchyard_edge_requests_total\\{route="chat/completions",model="llama3\\.1:8b",status="${status}"\\} 0\\n`));
    assert.match(text, new RegExp(`switchyard_edge_requests_total\\{route="embeddings",model="nomic-embed-text",status="${status}"\\} 0\\n`));
  }
  assert.doesNotMatch(text, /route="embeddings",model="llama3\.1:8b"/, 'a route only with the models it takes');
  for (const status of ['400', '401', '404']) assert.match(text, new RegExp(`switchyard_edge_requests_total\\{route="chat/completions",model="unknown",status="${status}"\\} 0\\n`));
  assert.match(text, /switchyard_edge_requests_total\{route="models",model="all",status="200"\} 0\n/);
  assert.match(text, /switchyard_edge_tokens_total\{model="llama3\.1:8b",kind="completion"\} 0\n/);
  assert.match(text, /switchyard_edge_rejections_total\{reason="rate_limit_requests"\} 0\n/);
  const series = text.split('\n').filter((l) => l.startsWith('switchyard_edge_requests_total{')).length;
  assert.ok(series <= 4 * 3 * catalogue.all().length + 10, `${series} request series`);
});
