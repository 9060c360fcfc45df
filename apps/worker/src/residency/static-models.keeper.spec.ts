import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResidencyHealth, residencyCatalogue } from '../testing/residency.fixture';
import { testLogger } from '../testing/test-logger';
import type { LoadOutcome } from './residency.types';
import { StaticModelsKeeper } from './static-models.keeper';

class FakeMachine {
  readonly kept: string[] = [];
  readonly loads: string[] = [];
  readonly managed = new Set<string>();
  keep(model: string): void {
    this.kept.push(model);
  }
  has(model: string): boolean {
    return this.managed.has(model);
  }
  async load(model: string): Promise<LoadOutcome> {
    this.loads.push(model);
    return { ok: false, seconds: 0, error: 'Ollama is busy' };
  }
}

function build(t: TestContext, WORKER_MODELS: string[]) {
  const machine = new FakeMachine();
  const health = new FakeResidencyHealth();
  let now = 1_000_000;
  t.mock.method(Date, 'now', () => now);
  const keeper = new StaticModelsKeeper({ WORKER_MODELS }, residencyCatalogue, machine, health, testLogger());
  return { keeper, machine, health, advance: (ms: number) => (now += ms) };
}

test('WORKER_MODELS are resolved by the catalogue (an unknown name is ignored) and kept', (t) => {
  const { keeper, machine } = build(t, ['llama3.1:8b', 'nomic-embed-text:latest', 'nope:1b', 'llama3.1:8b']);
  keeper.start();
  assert.deepEqual(machine.kept, ['llama3.1:8b', 'nomic-embed-text']);
  keeper.ensure();
  assert.deepEqual(machine.loads, ['llama3.1:8b', 'nomic-embed-text']);
});

test('a static model that is not loaded is tried again at most every 5 s; a managed one is left alone', (t) => {
  const { keeper, machine, advance } = build(t, ['llama3.1:8b', 'nomic-embed-text']);
  keeper.start();
  keeper.ensure();
  machine.managed.add('nomic-embed-text');
  advance(4_999);
  keeper.ensure();
  assert.deepEqual(machine.loads, ['llama3.1:8b', 'nomic-embed-text'], 'not before 5 s');
  advance(1);
  keeper.ensure();
  assert.deepEqual(machine.loads, ['llama3.1:8b', 'nomic-embed-text', 'llama3.1:8b']);
});

test('nothing is loaded while Ollama is down or after stop', (t) => {
  const { keeper, machine, health, advance } = build(t, ['llama3.1:8b']);
  keeper.start();
  health.isDown = true;
  keeper.ensure();
  assert.deepEqual(machine.loads, []);
  health.isDown = false;
  keeper.stop();
  advance(10_000);
  keeper.ensure();
  assert.deepEqual(machine.loads, []);
});
