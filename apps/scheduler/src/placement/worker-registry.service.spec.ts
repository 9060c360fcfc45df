import { test } from 'node:test';
import assert from 'node:assert/strict';
import { poolModelField, type placementV1 } from '@switchyard/contracts';
import { createLogger } from '@switchyard/observability';
import { loadSchedulerConfig } from '../config/scheduler.config';
import { RegistryEvent, WorkerRegistry } from './worker-registry.service';
import type { WorkerSession } from './worker-session';
import type { SavedWorker, WorkerSnapshotRepository } from './worker-snapshot.repository';

class FakeRepository {
  saved = new Map<string, SavedWorker>();
  loadTimes = new Map<string, number>();
  async loadAll() {
    return { workers: [...this.saved.values()], broken: [] };
  }
  async save(w: SavedWorker) {
    this.saved.set(w.id, structuredClone(w));
  }
  async remove(ids: string[]) {
    for (const id of ids) this.saved.delete(id);
  }
  async saveLoadTime(pool: string, model: string, s: number) {
    this.loadTimes.set(poolModelField(pool, model), s);
  }
}

class FakeSession implements WorkerSession {
  sent: placementV1.SchedulerCommand[] = [];
  closedWith: string | undefined;
  readonly peer = 'test';
  send(c: placementV1.SchedulerCommand) {
    if (this.closedWith) return false;
    this.sent.push(c);
    return true;
  }
  close(reason: string) {
    this.closedWith = reason;
  }
}

const config = loadSchedulerConfig({ SCHEDULER_WORKER_TIMEOUT_MS: '1000', SCHEDULER_LOAD_TIMEOUT_MS: '5000', SCHEDULER_LOAD_RETRY_MS: '30000' });
const logger = createLogger({ service: 'test', level: 'silent' });

function setup() {
  const repo = new FakeRepository();
  const registry = new WorkerRegistry(repo as unknown as WorkerSnapshotRepository, config, logger);
  const events: RegistryEvent[] = [];
  registry.on('change', (e) => events.push(e));
  return { repo, registry, events };
}

const register = (id: string, resident: string[] = []): placementV1.Register => ({
  workerId: id,
  pool: 'shared',
  ollamaUrl: 'http://gpu',
  slots: 4,
  memoryTotalBytes: 24e9,
  resident: resident.map((model) => ({ model, sizeBytes: 6e9, numCtx: 8192, busySlots: 0, pulling: true, loadedAtMs: 1 })),
  loadTimes: [],
  startedAtMs: 1,
});

const loadCmd = (commandId: string, model: string): placementV1.SchedulerCommand => ({ commandId, cmd: { $case: 'load', load: { model, numCtx: 8192 } } });

test('register, load, result: the snapshot shows the load in progress, then the model resident', () => {
  const { registry, repo, events } = setup();
  const session = new FakeSession();
  registry.register(register('w1'), session, 1000);
  assert.ok(repo.saved.has('w1'));
  assert.ok(registry.send('w1', loadCmd('c1', 'a'), { commandId: 'c1', kind: 'load', model: 'a', reason: 'demand', sentAtMs: 1000 }));
  assert.deepEqual(registry.snapshot(1100)[0].loading, { model: 'a', sinceMs: 1000 });
  registry.loadResult('w1', session, { commandId: 'c1', model: 'a', ok: true, loadSeconds: 2.5, error: '' }, 1200);
  const snap = registry.snapshot(1300)[0];
  assert.equal(snap.loading, undefined);
  assert.deepEqual(snap.resident.map((r) => [r.model, r.pulling]), [['a', true]]);
  assert.equal(snap.loadSeconds.a, 2.5);
  assert.equal(repo.loadTimes.get('shared|a'), 2.5);
  assert.deepEqual(events.map((e) => e.kind), ['registered', 'load-done']);
});

test('a failed load blocks that model on that worker for a while', () => {
  const { registry } = setup();
  const session = new FakeSession();
  registry.register(register('w1'), session, 1000);
  registry.send('w1', loadCmd('c1', 'a'), { commandId: 'c1', kind: 'load', model: 'a', reason: 'demand', sentAtMs: 1000 });
  registry.loadResult('w1', session, { commandId: 'c1', model: 'a', ok: false, loadSeconds: 0, error: 'out of memory' }, 1100);
  assert.equal(registry.snapshot(1200)[0].loadBlockedUntil.a, 31_100);
});

test('an unanswered command is given up after SCHEDULER_LOAD_TIMEOUT_MS', () => {
  const { registry, events } = setup();
  const session = new FakeSession();
  registry.register(register('w1'), session, 1000);
  registry.send('w1', loadCmd('c1', 'a'), { commandId: 'c1', kind: 'load', model: 'a', reason: 'demand', sentAtMs: 1000 });
  registry.status('w1', session, { workerId: 'w1', resident: [], memoryTotalBytes: 24e9, memoryUsedBytes: 0, busySlots: 0, degraded: false, loadTimes: [], sentAtMs: 6500, loadingModel: '' }, 6500);
  registry.expire(6500);
  assert.equal(registry.snapshot(6500)[0].loading, undefined);
  assert.ok(events.some((e) => e.kind === 'load-done' && !e.ok));
});

test('an eviction result frees the model and its memory', () => {
  const { registry } = setup();
  const session = new FakeSession();
  registry.register(register('w1', ['a', 'b']), session, 1000);
  registry.status('w1', session, { workerId: 'w1', resident: register('w1', ['a', 'b']).resident, memoryTotalBytes: 24e9, memoryUsedBytes: 12e9, busySlots: 0, degraded: false, loadTimes: [], sentAtMs: 0, loadingModel: '' }, 1100);
  registry.send('w1', { commandId: 'e1', cmd: { $case: 'evict', evict: { model: 'a', reason: 'demand' } } }, { commandId: 'e1', kind: 'evict', model: 'a', reason: 'demand', forModel: 'c', sentAtMs: 1100 });
  assert.deepEqual(registry.snapshot(1150)[0].evicting, [{ model: 'a', forModel: 'c' }]);
  registry.evictResult('w1', session, { commandId: 'e1', model: 'a', ok: true, error: '' }, 1200);
  const snap = registry.snapshot(1200)[0];
  assert.deepEqual(snap.resident.map((r) => r.model), ['b']);
  assert.equal(snap.memoryUsedBytes, 6e9);
  assert.deepEqual(snap.evicting, []);
});

test('a closed stream keeps the worker until the timeout; messages from an old stream are ignored', () => {
  const { registry, repo, events } = setup();
  const old = new FakeSession();
  registry.register(register('w1', ['a']), old, 1000);
  const fresh = new FakeSession();
  registry.register(register('w1', ['a']), fresh, 1100);
  assert.equal(old.closedWith, 'replaced by a new registration');
  registry.status('w1', old, { workerId: 'w1', resident: [], memoryTotalBytes: 1, memoryUsedBytes: 0, busySlots: 0, degraded: true, loadTimes: [], sentAtMs: 0, loadingModel: '' }, 1200);
  assert.equal(registry.snapshot(1200)[0].degraded, false, 'the old stream no longer speaks for w1');
  registry.disconnected('w1', old);
  assert.equal(registry.snapshot(1200)[0].connected, true);

  registry.disconnected('w1', fresh);
  assert.equal(registry.snapshot(1300)[0].connected, false);
  assert.deepEqual(registry.snapshot(1300)[0].resident.map((r) => r.model), ['a'], 'its models still count for now');
  registry.expire(2000);
  assert.equal(registry.all().length, 1);
  registry.expire(2200);
  assert.equal(registry.all().length, 0);
  assert.ok(!repo.saved.has('w1'));
  assert.ok(events.some((e) => e.kind === 'lost' && e.workerId === 'w1'));
});

test('a silent but open stream is closed and the worker removed', () => {
  const { registry } = setup();
  const session = new FakeSession();
  registry.register(register('w1'), session, 1000);
  registry.expire(2500);
  assert.equal(registry.all().length, 0);
  assert.match(session.closedWith ?? '', /no status/);
});

test('saved workers are recovered as disconnected until they register again', async () => {
  const { registry, repo } = setup();
  await repo.save({ id: 'w9', pool: 'shared', ollamaUrl: 'u', slots: 4, memoryTotalBytes: 24e9, memoryUsedBytes: 6e9, degraded: false, resident: register('w9', ['a']).resident, loadTimes: { a: 3 }, lastSeenMs: 1 });
  assert.equal(await registry.recover(5000), 1);
  assert.equal(registry.awaitingReconnect(), 1);
  const snap = registry.snapshot(5000)[0];
  assert.equal(snap.connected, false);
  assert.deepEqual(snap.resident.map((r) => r.model), ['a']);
  registry.register(register('w9', ['a']), new FakeSession(), 5100);
  assert.equal(registry.awaitingReconnect(), 0);
  assert.equal(registry.snapshot(5100)[0].loadSeconds.a, 3, 'measured load times survive the restart');
  registry.unregister('w9', new FakeSession(), 'bye');
  assert.equal(registry.all().length, 1, 'only its own stream may unregister it');
});
