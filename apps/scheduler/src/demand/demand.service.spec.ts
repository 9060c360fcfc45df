import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { DemandService } from './demand.service';
import type { QueueStats, QueueStatsRepository } from './queue-stats.repository';

const TAU_MS = 10_000;

/** A repository that returns, read after read, what the test puts in `next`. */
class FakeRepository {
  next: Partial<QueueStats> = {};
  bulk: Array<{ pool: string; model: string; pending: number }> = [];
  async readAll(): Promise<QueueStats[]> {
    return [{ pool: 'shared', model: 'x:7b', waiting: 0, interactiveWaiting: 0, bulkWaiting: 0, active: 0, delayed: 0, added: 0, addedBulk: 0, finished: 0, deferred: 0, ...this.next }];
  }
  async readBulkPending() {
    return this.bulk;
  }
}

function setup() {
  const repo = new FakeRepository();
  const service = new DemandService(repo as unknown as QueueStatsRepository, new SchedulerMetrics(new Registry()), { SCHEDULER_RATE_TAU_MS: TAU_MS });
  return { repo, service };
}

test('per class: interactive and bulk waiting, the oldest interactive wait, bulk pending lines, deferred requests', async () => {
  const { repo, service } = setup();
  repo.next = { waiting: 7, interactiveWaiting: 2, bulkWaiting: 5, oldestCreatedMs: 1_000, oldestInteractiveCreatedMs: 9_000, deferred: 30 };
  repo.bulk = [{ pool: 'shared', model: 'x:7b', pending: 40 }];
  await service.poll(10_000);
  const [d] = service.demand(10_000);
  assert.equal(d.waiting, 7);
  assert.equal(d.interactiveWaiting, 2);
  assert.equal(d.bulkWaiting, 5);
  assert.equal(d.oldestWaitMs, 9_000, 'the oldest job of either class');
  assert.equal(d.oldestInteractiveWaitMs, 1_000);
  assert.equal(d.bulkPending, 40);
  assert.equal(d.deferred, 30, 'requests the edge told to come back');
});

test('the arrival rate counts interactive jobs only; the service time is jobs running ÷ jobs finishing per second', async () => {
  const { repo, service } = setup();
  let now = 0;
  await service.poll(now);
  assert.equal(service.demand(now)[0].serviceMs, undefined, 'not measured yet');
  // Steady state for a while: 4 jobs always running, 2 finishing and 2 interactive + 3 bulk arriving per second.
  for (let i = 0; i < 200; i++) {
    now += 500;
    repo.next = { active: 4, added: 2.5, addedBulk: 1.5, finished: 1 };
    await service.poll(now);
  }
  const [d] = service.demand(now);
  assert.ok(Math.abs(d.arrivalRate - 2) < 0.05, `interactive arrivals ${d.arrivalRate}/s`);
  assert.ok(d.serviceMs !== undefined && Math.abs(d.serviceMs - 2_000) < 50, `service ${d.serviceMs} ms (4 running ÷ 2/s)`);
});
