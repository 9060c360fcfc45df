import { Inject, Injectable } from '@nestjs/common';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { poolModelField } from '@switchyard/contracts';
import type { ModelDemand } from '../policy';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { QueueStatsRepository, QueueStats } from './queue-stats.repository';

interface UnitState {
  stats: QueueStats;
  /** Interactive arrivals per second, smoothed. */
  rate: number;
  /** Jobs finishing per second, smoothed. */
  finishRate: number;
  /** Jobs running, smoothed alike (with finishRate: the mean service time, by Little's law). */
  activeAvg: number;
  lastActivityMs: number;
  readAtMs: number;
  /** Lines of running batches not yet in the queue (the batch service's `bulkDemand` hash). */
  bulkPending: number;
}

/**
 * What waits on every `(pool, model)` queue: depth and oldest wait per priority class, the
 * interactive arrival rate (an exponential average of interactive jobs added per second), the mean
 * service time of one job (Little's law: the average of jobs running ÷ the average of jobs finishing
 * per second, both over SCHEDULER_RATE_TAU_MS; measured once at least one job per
 * `MIN_FINISHED_FOR_SERVICE` finished), how long the queue has been idle, and the bulk lines the batch
 * service holds back for it (`RedisKeys.bulkDemand`: lines of running batches not yet enqueued, which
 * the policy plans for — see `ModelDemand.bulkPending`). Read once per tick.
 */
/** Jobs finished within one SCHEDULER_RATE_TAU_MS before the queue's service time counts as measured. */
export const MIN_FINISHED_FOR_SERVICE = 3;

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
      let finishRate = prev?.finishRate ?? 0;
      let activeAvg = prev?.activeAvg ?? stats.active;
      if (prev) {
        const dt = Math.max(1, now - prev.readAtMs);
        const alpha = 1 - Math.exp(-dt / this.config.SCHEDULER_RATE_TAU_MS);
        rate += alpha * (((stats.added - stats.addedBulk) * 1000) / dt - rate);
        finishRate += alpha * ((stats.finished * 1000) / dt - finishRate);
        activeAvg += alpha * (stats.active - activeAvg);
      }
      const busy = stats.waiting > 0 || stats.active > 0 || stats.added > 0;
      const lastActivityMs = busy ? now : (prev?.lastActivityMs ?? this.startedAtMs);
      this.units.set(key, { stats, rate, finishRate, activeAvg, lastActivityMs, readAtMs: now, bulkPending: bulkPending.get(key) ?? 0 });
      const labels = { pool: stats.pool, model: stats.model };
      this.metrics.queueDepth.set(labels, stats.waiting);
      this.metrics.queueOldestWait.set(labels, stats.oldestCreatedMs !== undefined ? Math.max(0, now - stats.oldestCreatedMs) / 1000 : 0);
      this.metrics.queueArrivalRate.set(labels, rate);
    }
  }

  /** The policy's view of every queue, as of the last poll. */
  demand(now: number): ModelDemand[] {
    const age = (createdMs: number | undefined) => (createdMs !== undefined ? Math.max(0, now - createdMs) : 0);
    return [...this.units.values()].map(({ stats, rate, finishRate, activeAvg, lastActivityMs, bulkPending }) => ({
      pool: stats.pool,
      model: stats.model,
      waiting: stats.waiting,
      interactiveWaiting: stats.interactiveWaiting,
      bulkWaiting: stats.bulkWaiting,
      active: stats.active,
      delayed: stats.delayed,
      oldestWaitMs: age(stats.oldestCreatedMs),
      oldestInteractiveWaitMs: age(stats.oldestInteractiveCreatedMs),
      arrivalRate: rate,
      ...(finishRate * (this.config.SCHEDULER_RATE_TAU_MS / 1000) >= MIN_FINISHED_FOR_SERVICE && activeAvg > 0 ? { serviceMs: (1000 * activeAvg) / finishRate } : {}),
      idleMs: Math.max(0, now - lastActivityMs),
      bulkPending,
      deferred: stats.deferred,
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
