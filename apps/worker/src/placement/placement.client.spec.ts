/**
 * PlacementClient with several scheduler addresses (replicas: one leader, standbys that refuse),
 * against real gRPC servers on localhost and a faked residency.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { placementV1 } from '@switchyard/contracts';
import { createLogger } from '@switchyard/observability';
import type { WorkerConfig } from '../config/worker.config';
import { FakeScheduler } from '../testing/fake-scheduler';
import { waitFor } from '../testing/wait';
import { PlacementClient } from './placement.client';

type Stream = ServerDuplexStream<placementV1.WorkerMessage, placementV1.SchedulerCommand>;

/** A standby replica: refuses every Attach at once with UNAVAILABLE, and counts them. */
class RefusingScheduler {
  attempts = 0;
  address = '';
  private readonly server = new Server();

  static async start(): Promise<RefusingScheduler> {
    const s = new RefusingScheduler();
    s.server.addService(placementV1.PlacementServiceService, {
      attach: (call: Stream) => {
        s.attempts++;
        call.on('error', () => undefined);
        call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'standby: not the leader' });
      },
    });
    const port = await new Promise<number>((resolve, reject) => s.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    s.address = `127.0.0.1:${port}`;
    return s;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const residency = {
  load: async () => ({ ok: true, seconds: 0.1, error: '' }),
  evict: async () => ({ ok: true, error: '' }),
  onChange: () => undefined,
  snapshot: () => ({ resident: [], memoryTotalBytes: 24e9, memoryUsedBytes: 0, busySlots: 0, degraded: false, loadTimes: [], loadingModel: '' }),
};

function client(addresses: string[], reconnect = { min: 2000, max: 4000 }): PlacementClient {
  const config = {
    SCHEDULER_GRPC_URL: addresses.join(','),
    WORKER_ID: 'w-multi',
    WORKER_POOL: 'shared',
    OLLAMA_URL: 'http://127.0.0.1:11434',
    WORKER_SLOTS: 4,
    WORKER_STATUS_INTERVAL_MS: 200,
    WORKER_RECONNECT_MIN_MS: reconnect.min,
    WORKER_RECONNECT_MAX_MS: reconnect.max,
  } satisfies Partial<WorkerConfig>;
  return new PlacementClient(config as WorkerConfig, residency as never, createLogger({ service: 'test', level: 'silent' }));
}

describe('PlacementClient with several scheduler replicas', () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('a standby refuses: the next address is tried at once, not after the backoff', async () => {
    const standby = await RefusingScheduler.start();
    const leader = await FakeScheduler.start();
    cleanups.push(() => standby.stop(), () => leader.stop());
    // The backoff (≥ 1 s) would show if the refusal were treated as an outage.
    const c = client([standby.address, leader.address]);
    cleanups.push(() => c.stop('test over'));
    const started = Date.now();
    c.start();
    await leader.waitFor((m) => m.msg?.$case === 'register', 3_000, 'register at the leader');
    assert.equal(standby.attempts, 1);
    assert.ok(Date.now() - started < 900, `attached after ${Date.now() - started} ms`);
  });

  test('when the leader goes, the worker moves to the replica that took over', async () => {
    const a = await FakeScheduler.start();
    const b = await RefusingScheduler.start();
    const c = client([a.address, b.address], { min: 100, max: 400 });
    cleanups.push(() => c.stop('test over'));
    c.start();
    await a.waitFor((m) => m.msg?.$case === 'register', 3_000, 'register at a');

    // a dies; b is still a standby for a moment, then takes over on the same address.
    await a.stop();
    await waitFor(() => (b.attempts >= 2 ? true : undefined), 5_000, 'tries at b while it stands by');
    const port = Number(b.address.split(':')[1]);
    b.stop();
    const newLeader = await FakeScheduler.start(port);
    cleanups.push(() => newLeader.stop());
    await newLeader.waitFor((m) => m.msg?.$case === 'register', 5_000, 'register at the new leader');
    assert.ok(c.attached);
  });
});
