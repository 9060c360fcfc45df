import { Inject, Injectable } from '@nestjs/common';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { poolModelField } from '@switchyard/contracts';
import type { ModelDemand } from '../policy';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { QueueStatsRepository, QueueStats } from './queue-stats.repository';

interface UnitState {
  stats: QueueStats;
  rate: number;
  lastActivityMs: number;
  readAtMs: number;
  /** Lines of running batches not yet in the queue (the batch service's `bulkDemand` hash). */
  bulkPending: number;
}

/**
 * What waits on every `(pool, model)` queue: depth, oldest wait, arrival rate (an exponential
 * average of jobs added per second), how long the queue has been idle, and the bulk lines the batch
 * service holds back for it (`RedisKeys.bulkDemand`: lines of running batches not yet enqueued, which
 * the policy plans for — see `ModelDemand.bulkPending`). Read once per tick.
 */
@Injectable()
export class DemandService {
  private readonly units = new Map<string, UnitState>();
  /** Queues seen idle since our start count as active at our start: nothing looks idle right after a restart. */
  private startedAtMs = Date.now();

  constructor(
    private readonly repository: QueueStatsRepository,
    private readonly metrics: SchedulerMetrics,
    @Inject(SCHEDULER_CONFIG) private readonly config: Pick<SchedulerConfig, 'SCHEDULER_RATE_TAU_MS'>,
  ) {}

  async poll(now: number): Promise<void> {
    const [all, bulk] = await Promise.all([this.repository.readAll(), this.repository.readBulkPending()]);
    const bulkPending = new Map(bulk.map((b) => [poolModelField(b.pool, b.model), b.pending]));
    for (const stats of all) {
      const key = poolModelField(stats.pool, stats.model);
      const prev = this.units.get(key);
      let rate = prev?.rate ?? 0;
      if (prev) {
        const dt = Math.max(1, now - prev.readAtMs);
        const alpha = 1 - Math.exp(-dt / this.config.SCHEDULER_RATE_TAU_MS);
        rate += alpha * ((stats.added * 1000) / dt - rate);
      }
      const busy = stats.waiting > 0 || stats.active > 0 || stats.added > 0;
      const lastActivityMs = busy ? now : (prev?.lastActivityMs ?? this.startedAtMs);
      this.units.set(key, { stats, rate, lastActivityMs, readAtMs: now, bulkPending: bulkPending.get(key) ?? 0 });
      const labels = { pool: stats.pool, model: stats.model };
      this.metrics.queueDepth.set(labels, stats.waiting);
      this.metrics.queueOldestWait.set(labels, stats.oldestCreatedMs !== undefined ? Math.max(0, now - stats.oldestCreatedMs) / 1000 : 0);
      this.metrics.queueArrivalRate.set(labels, rate);
    }
  }

  /** The policy's view of every queue, as of the last poll. */
  demand(now: number): ModelDemand[] {
    return [...this.units.values()].map(({ stats, rate, lastActivityMs, bulkPending }) => ({
      pool: stats.pool,
      model: stats.model,
      waiting: stats.waiting,
      active: stats.active,
      delayed: stats.delayed,
      oldestWaitMs: stats.oldestCreatedMs !== undefined ? Math.max(0, now - stats.oldestCreatedMs) : 0,
      arrivalRate: rate,
      idleMs: Math.max(0, now - lastActivityMs),
      bulkPending,
    }));
  }

  /** Last counts of one queue. */
  stats(pool: string, model: string): QueueStats | undefined {
    return this.units.get(poolModelField(pool, model))?.stats;
  }

  polled(): boolean {
    return this.units.size > 0;
  }

  /** Forgets every queue, as at a start (a new term as leader: the counts and rates are read afresh). */
  reset(now: number): void {
    this.units.clear();
    this.startedAtMs = now;
  }
}
