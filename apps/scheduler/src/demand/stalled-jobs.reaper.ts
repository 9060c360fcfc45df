import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisConnection } from '@switchyard/redis';
import { poolModelField, Queues } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';

/**
 * Returns the jobs of a dead worker to their queue.
 *
 * BullMQ's own mechanism does it: a worker holds a lock on each job it runs (`lockDuration`, renewed
 * every `lockDuration / 2`); a stalled-job check, run every `stalledInterval` by every BullMQ
 * `Worker` of the queue, moves active jobs whose lock has expired back to waiting (or to failed
 * after `maxStalledCount` stalls). When the dead worker was the only one pulling a model, though,
 * no one else runs that check on its queue. So for every queue that has active jobs but no connected
 * worker pulling it, the scheduler runs the check itself, with a BullMQ `Worker` that never takes
 * jobs (`autorun: false` + `startStalledCheckTimer()`), and closes it when the queue has a puller
 * again or nothing is active. The check never touches a job whose lock is alive, so running it next
 * to live workers is harmless.
 */
@Injectable()
export class StalledJobsReaper implements BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly checkers = new Map<string, Worker>();
  private connection: Redis | undefined;

  constructor(
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
    private readonly metrics: SchedulerMetrics,
  ) {
    this.logger = rootLogger.child({ context: StalledJobsReaper.name });
  }

  /** Runs the check exactly on the given queues. */
  async sync(units: { pool: string; model: string }[]): Promise<void> {
    const wanted = new Map(units.map((u) => [poolModelField(u.pool, u.model), u]));
    for (const [key, checker] of this.checkers) {
      if (wanted.has(key)) continue;
      this.checkers.delete(key);
      await checker.close().catch((err) => this.logger.warn({ err }, 'closing a stalled-job checker failed'));
    }
    for (const [key, u] of wanted) {
      if (this.checkers.has(key)) continue;
      const checker = new Worker(Queues.inference(u.pool, u.model), undefined, {
        connection: this.sharedConnection(),
        prefix: Queues.bullPrefix(this.config.SWITCHYARD_PREFIX),
        autorun: false,
        stalledInterval: this.config.SCHEDULER_STALLED_INTERVAL_MS,
        maxStalledCount: this.config.SCHEDULER_MAX_STALLED_COUNT,
        name: 'scheduler-stalled-check',
      });
      checker.on('stalled', (jobId) => {
        this.metrics.stalledJobsRecovered.inc({ pool: u.pool, model: u.model });
        this.logger.warn({ pool: u.pool, model: u.model, jobId }, 'returned a stalled job to its queue');
      });
      checker.on('error', (err) => this.logger.warn({ err, pool: u.pool, model: u.model }, 'stalled-job check failed'));
      this.checkers.set(key, checker);
      this.logger.info({ pool: u.pool, model: u.model }, 'running the stalled-job check on a queue with no live puller');
      await checker.startStalledCheckTimer();
    }
  }

  active(): string[] {
    return [...this.checkers.keys()];
  }

  async beforeApplicationShutdown(): Promise<void> {
    const checkers = [...this.checkers.values()];
    this.checkers.clear();
    await Promise.allSettled(checkers.map((c) => c.close()));
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }

  /** BullMQ workers need a connection that retries forever; it is made on first need. */
  private sharedConnection(): Redis {
    this.connection ??= createRedisConnection(this.config.REDIS_URL, { name: 'switchyard-scheduler-stalled', role: 'blocking' });
    return this.connection;
  }
}
