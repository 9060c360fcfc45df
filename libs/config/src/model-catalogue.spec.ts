import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModelCatalogue } from './model-catalogue';

const repoCatalogue = path.resolve(__dirname, '../../../deploy/models.yaml');

test('the shipped catalogue fixes 8192 by default and 4096 for mistral-large:123b', () => {
  const models = loadModelCatalogue(repoCatalogue);
  const byName = new Map(models.map((m) => [m.name, m]));
  assert.equal(byName.get('llama3.1:8b')?.contextWindow, 8192);
  assert.equal(byName.get('mistral-large:123b')?.contextWindow, 4096);
  assert.ok(models.length >= 12);
  assert.ok(models.some((m) => m.kind === 'embedding'));
});

test('a bad catalogue is refused with the problem named', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-cat-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, 'models:\n  - { name: "x", size_gb: -1, pool: nowhere }\n');
  assert.throws(() => loadModelCatalogue(file), /models\.0\.size_gb.*models\.0\.pool|models\.0\.pool.*models\.0\.size_gb/s);
  writeFileSync(file, 'models:\n  - { name: "x", size_gb: 1 }\n  - { name: "x", size_gb: 2 }\n');
  assert.throws(() => loadModelCatalogue(file), /twice/);
});

test('offload: per entry, off by default; only an entry that allows it carries it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-cat-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, 'models:\n  - { name: "huge:405b", size_gb: 230, offload: true }\n  - { name: "x", size_gb: 1 }\n');
  const [huge, x] = loadModelCatalogue(file);
  assert.equal(huge.offload, true);
  assert.equal('offload' in x, false);
  writeFileSync(file, 'models:\n  - { name: "x", size_gb: 1, offload: "yes" }\n');
  assert.throws(() => loadModelCatalogue(file), /models\.0\.offload/);
});
