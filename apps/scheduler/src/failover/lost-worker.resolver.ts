import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { DemandService } from '../demand/demand.service';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { WorkerRegistry } from '../placement/worker-registry.service';
import { OrphanedJobsRepository, type OrphanedJob } from './orphaned-jobs.repository';

/** A job whose workers died this many times is failed instead of requeued (it may be what kills them). */
export const MAX_RUNS = 3;

/**
 * Resolves the running jobs of a worker process that is gone, as soon as the scheduler knows it
 * (DESIGN decision 5), instead of waiting for BullMQ's lock to expire and its stalled check to run
 * (a minute and more). Gone means: the registry declared the worker lost (stream closed and no
 * status within SCHEDULER_WORKER_TIMEOUT_MS), or a new process registered under its id (a crash and
 * a restart, faster than the timeout) — then only the jobs taken before the new process started.
 *
 * Each such job's edge is told first (`lost`), then the job goes back to its queue without spending
 * an attempt. The edge decides what its client sees: a request that has received no text yet simply
 * waits for the rerun; a stream that has text ends with an in-band `worker_lost` error (the rerun is
 * taken back). The edge is told before the job is requeued, so a rerun (even on a restarted worker of
 * the same id) can never be mistaken for the lost run. BullMQ's stalled-job check stays as the
 * safety net for anything missed here.
 */
@Injectable()
export class LostWorkerResolver implements OnApplicationBootstrap {
  private readonly logger: Logger;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly demand: DemandService,
    private readonly jobs: OrphanedJobsRepository,
    private readonly metrics: SchedulerMetrics,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: LostWorkerResolver.name });
  }

  onApplicationBootstrap(): void {
    this.registry.on('change', (e) => {
      if (e.kind === 'lost') void this.resolve(e.workerId, Number.POSITIVE_INFINITY, e.reason);
      else if (e.kind === 'restarted') void this.resolve(e.workerId, e.startedAtMs, 'worker process restarted');
    });
  }

  /** Resolves every active job `workerId` took before `takenBefore`; returns how many. */
  async resolve(workerId: string, takenBefore: number, reason: string): Promise<number> {
    let resolved = 0;
    for (const d of this.demand.demand(Date.now())) {
      let orphans: OrphanedJob[];
      try {
        orphans = await this.jobs.takenBy(d.pool, d.model, workerId, takenBefore);
      } catch (err) {
        this.logger.warn({ err, workerId, pool: d.pool, model: d.model }, 'could not list the active jobs of a queue');
        continue;
      }
      for (const o of orphans) {
        if (await this.resolveOne(o, workerId, reason, d.pool, d.model)) resolved++;
      }
    }
    if (resolved > 0) this.logger.warn({ workerId, reason, jobs: resolved }, 'resolved the running jobs of a lost worker');
    return resolved;
  }

  private async resolveOne(o: OrphanedJob, workerId: string, reason: string, pool: string, model: string): Promise<boolean> {
    const requeue = o.runs < MAX_RUNS;
    await this.jobs.notifyEdge(o, { workerId, requeued: requeue, reason }).catch((err) => this.logger.warn({ err, requestId: o.requestId }, 'could not tell the edge'));
    const ok = requeue ? await this.jobs.requeue(o) : await this.jobs.fail(o, `its worker was lost ${o.runs} times (${reason})`);
    if (!ok) return false;
    if (requeue) this.metrics.stalledJobsRecovered.inc({ pool, model });
    this.logger.info({ requestId: o.requestId, workerId, pool, model, runs: o.runs, outcome: requeue ? 'requeued' : 'failed' }, 'resolved a job of a lost worker');
    return true;
  }
}
