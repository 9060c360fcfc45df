import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '@switchyard/observability';
import { loadSchedulerConfig } from '../config/scheduler.config';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { LeaderElection } from './leader-election.service';
import type { LeaseRepository, RenewResult } from './lease.repository';

/** The lease in memory, with the Redis scripts' rules; `down` makes every call fail as an unreachable Redis would. */
class FakeLease {
  holder: string | undefined;
  fence = 0;
  down = false;
  renewals = 0;
  private readonly reconnect: (() => void)[] = [];

  async acquire(replicaId: string): Promise<string | undefined> {
    this.check();
    if (this.holder) return undefined;
    this.holder = `${replicaId}:${++this.fence}`;
    return this.holder;
  }

  async renew(value: string): Promise<RenewResult> {
    this.check();
    this.renewals++;
    if (this.holder === value) return 'renewed';
    if (this.holder) return 'lost';
    this.holder = value;
    return 'reacquired';
  }

  async release(value: string): Promise<boolean> {
    this.check();
    if (this.holder !== value) return false;
    this.holder = undefined;
    return true;
  }

  onReconnect(listener: () => void): () => void {
    this.reconnect.push(listener);
    return () => undefined;
  }

  /** Redis answers again (the connection's 'ready' after a reconnect). */
  back(): void {
    this.down = false;
    for (const listener of this.reconnect) listener();
  }

  private check(): void {
    if (this.down) throw new Error('Connection is closed.');
  }
}

const config = loadSchedulerConfig({ SCHEDULER_LEASE_TTL_MS: '300', SCHEDULER_LEASE_RETRY_MS: '50' });
const running: LeaderElection[] = [];

function replica(lease: FakeLease, id: string) {
  const metrics = new SchedulerMetrics(new Registry());
  const election = new LeaderElection(lease as unknown as LeaseRepository, metrics, { ...config, SCHEDULER_REPLICA_ID: id }, createLogger({ service: 'test', level: 'silent' }));
  const events: string[] = [];
  election.on('became-leader', (v) => void events.push(`leader ${v}`));
  election.on('lost-leadership', (r) => void events.push(`lost: ${r}`));
  running.push(election);
  const gauge = async () => (await metrics.leader.get()).values[0]?.value;
  return { election, events, gauge };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(e: LeaderElection): Promise<void> {
  await e.onModuleDestroy();
  await e.beforeApplicationShutdown();
}

afterEach(async () => {
  for (const e of running.splice(0)) await stop(e);
});

describe('LeaderElection', () => {
  test('the first replica leads at boot; the other stands by; a graceful stop hands over at the next try', async () => {
    const lease = new FakeLease();
    const a = replica(lease, 'a');
    const b = replica(lease, 'b');
    await a.election.onApplicationBootstrap();
    await b.election.onApplicationBootstrap();
    assert.equal(a.election.isLeader, true);
    assert.equal(a.election.fencingToken, 1);
    assert.equal(b.election.isLeader, false);
    assert.deepEqual(a.events, ['leader a:1']);
    assert.equal(await a.gauge(), 1);
    assert.equal(await b.gauge(), 0);

    await stop(a.election);
    assert.equal(lease.holder, undefined, 'released');
    assert.equal(await a.gauge(), 0);
    await sleep(120);
    assert.equal(b.election.isLeader, true);
    assert.deepEqual(b.events, ['leader b:2']);
  });

  test('renewals keep the lease; when another replica holds it, the leader steps down and tries again as a standby', async () => {
    const lease = new FakeLease();
    const a = replica(lease, 'a');
    await a.election.onApplicationBootstrap();
    await sleep(250);
    assert.ok(lease.renewals >= 2, `${lease.renewals} renewals in 250 ms at TTL/3`);
    assert.equal(a.election.isLeader, true, 'still leading past its TTL thanks to renewals');

    lease.holder = 'b:7';
    lease.fence = 7;
    await sleep(150);
    assert.equal(a.election.isLeader, false);
    assert.deepEqual(a.events, ['leader a:1', 'lost: another replica holds the scheduler lease']);
    assert.equal(a.election.leaseValue, undefined, 'its writes now carry no lease value');

    lease.holder = undefined;
    await sleep(120);
    assert.equal(a.election.isLeader, true, 'the lease was free again: taken at the next try');
    assert.equal(a.events.at(-1), 'leader a:8');
  });

  test('a leader that cannot reach Redis stops acting once its TTL has passed, and steps down after twice the TTL', async () => {
    const lease = new FakeLease();
    const a = replica(lease, 'a');
    await a.election.onApplicationBootstrap();
    lease.down = true;
    await sleep(150);
    assert.equal(a.election.isLeader, true, 'within the TTL it still leads');
    await sleep(200);
    assert.equal(a.election.isLeader, false, 'past the TTL the lease may be another’s: it does not act');
    assert.deepEqual(a.events, ['leader a:1'], 'but keeps its term (and its workers) for a while');
    await sleep(300);
    assert.equal(a.election.leaseValue, undefined);
    assert.match(a.events.at(-1) ?? '', /could not renew the scheduler lease for 600 ms/);
  });

  test('Redis back within twice the TTL, the lease untouched or gone: the term goes on', async () => {
    const lease = new FakeLease();
    const a = replica(lease, 'a');
    await a.election.onApplicationBootstrap();
    lease.down = true;
    await sleep(400);
    assert.equal(a.election.isLeader, false);
    lease.holder = undefined;
    lease.back();
    await sleep(50);
    assert.equal(a.election.isLeader, true);
    assert.deepEqual(a.events, ['leader a:1']);
  });

  test('Redis back empty: the leader takes its lease back at once, without stepping down; a standby leaves it the time to', async () => {
    const lease = new FakeLease();
    const a = replica(lease, 'a');
    const b = replica(lease, 'b');
    await a.election.onApplicationBootstrap();
    await b.election.onApplicationBootstrap();
    lease.down = true;
    await sleep(60);
    lease.holder = undefined; // restarted without the lease
    lease.back();
    await sleep(150);
    assert.equal(a.election.isLeader, true);
    assert.equal(a.election.leaseValue, 'a:1', 'same value, same token');
    assert.equal(lease.holder, 'a:1');
    assert.deepEqual(a.events, ['leader a:1'], 'no flap');
    assert.equal(b.election.isLeader, false);
    assert.deepEqual(b.events, []);
  });
});
