import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { loadModelCatalogue } from '@switchyard/config';
import { ModelCatalogue } from './model-catalogue';
import { loadWorkerConfig, resolveCataloguePath } from './worker.config';

test('defaults: slots 4, shared pool, id from hostname and port, gRPC targets on', () => {
  const c = loadWorkerConfig({});
  assert.equal(c.WORKER_SLOTS, 4);
  assert.equal(c.WORKER_POOL, 'shared');
  assert.equal(c.WORKER_ID, `${os.hostname()}:8083`);
  assert.equal(c.OLLAMA_URL, 'http://127.0.0.1:11434');
  assert.equal(c.SCHEDULER_GRPC_URL, '127.0.0.1:50052');
  assert.equal(c.AUTH_GRPC_URL, '127.0.0.1:50051');
  assert.deepEqual(c.WORKER_MODELS, []);
  assert.equal(c.WORKER_GPU_MEMORY_GB, undefined);
});

test('none disables Attach and RecordUsage; WORKER_MODELS is a comma list', () => {
  const c = loadWorkerConfig({ SCHEDULER_GRPC_URL: 'none', AUTH_GRPC_URL: 'NONE', WORKER_MODELS: 'llama3.1:8b, nomic-embed-text ,', PORT: '9000', WORKER_POOL: 'performance' });
  assert.equal(c.SCHEDULER_GRPC_URL, null);
  assert.equal(c.AUTH_GRPC_URL, null);
  assert.deepEqual(c.WORKER_MODELS, ['llama3.1:8b', 'nomic-embed-text']);
  assert.equal(c.WORKER_ID, `${os.hostname()}:9000`);
  assert.equal(c.WORKER_POOL, 'performance');
});

test('bad values are all listed at once', () => {
  assert.throws(() => loadWorkerConfig({ WORKER_POOL: 'gold', WORKER_SLOTS: '0', OLLAMA_URL: 'nope' }), (err: Error) => /WORKER_POOL/.test(err.message) && /WORKER_SLOTS/.test(err.message) && /OLLAMA_URL/.test(err.message));
});

test('MODEL_CATALOGUE resolves against the cwd, else the repository root; the shipped catalogue loads', () => {
  const p = resolveCataloguePath('deploy/models.yaml', os.tmpdir());
  assert.ok(p.endsWith(path.join('deploy', 'models.yaml')));
  const catalogue = new ModelCatalogue(loadModelCatalogue(p));
  assert.equal(catalogue.get('llama3.1:8b')?.contextWindow, 8192);
  assert.equal(catalogue.get('nomic-embed-text:latest')?.name, 'nomic-embed-text');
  assert.equal(resolveCataloguePath('/abs/models.yaml'), '/abs/models.yaml');
});
