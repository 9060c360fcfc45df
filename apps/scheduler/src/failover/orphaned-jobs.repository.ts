import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { inferenceJobSchema, RedisKeys, type RelayLost } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { InferenceQueues, REDIS, requeueJob } from '@switchyard/redis';

/** A job a dead worker process was running. */
export interface OrphanedJob {
  job: Job;
  requestId: string;
  edgeId: string;
  /** Times a worker took it (this run included). */
  runs: number;
}

/**
 * The BullMQ and relay side of resolving a lost worker's jobs: finds the active jobs a worker took
 * (BullMQ records the taker's name, our WORKER_ID, as `processedBy`), puts one back in its queue
 * without spending an attempt, or fails it, and tells the job's edge.
 */
@Injectable()
export class OrphanedJobsRepository implements BeforeApplicationShutdown {
  private readonly queues: InferenceQueues;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) private readonly config: Pick<SchedulerConfig, 'SWITCHYARD_PREFIX'>,
  ) {
    this.queues = new InferenceQueues(redis, config.SWITCHYARD_PREFIX);
  }

  /** Active jobs of the queue taken by `workerId` before `takenBefore` (unix ms). */
  async takenBy(pool: string, model: string, workerId: string, takenBefore: number): Promise<OrphanedJob[]> {
    const active = await this.queue(pool, model).getActive(0, -1);
    const out: OrphanedJob[] = [];
    for (const job of active) {
      if (job.processedBy !== workerId || (job.processedOn ?? 0) >= takenBefore) continue;
      const data = inferenceJobSchema.safeParse(job.data);
      out.push({ job, requestId: data.success ? data.data.requestId : String(job.id), edgeId: data.success ? data.data.edgeId : '', runs: job.attemptsStarted ?? 1 });
    }
    return out;
  }

  /** Back to its queue for another worker, without spending an attempt; false when it was no longer active. */
  async requeue(o: OrphanedJob): Promise<boolean> {
    try {
      await requeueJob(o.job, await this.lockToken(o), this.redis);
      return true;
    } catch {
      return false;
    }
  }

  /** Fails the job for good (it keeps losing its workers). */
  async fail(o: OrphanedJob, reason: string): Promise<boolean> {
    try {
      await o.job.moveToFailed(new Error(reason), await this.lockToken(o), false);
      return true;
    } catch {
      return false;
    }
  }

  /** Tells the job's edge that its run on `workerId` will send nothing more. */
  async notifyEdge(o: OrphanedJob, lost: Omit<RelayLost, 'type' | 'requestId'>): Promise<void> {
    if (!o.edgeId) return;
    const msg: RelayLost = { type: 'lost', requestId: o.requestId, ...lost };
    await this.redis.publish(RedisKeys.relayChannel(this.config.SWITCHYARD_PREFIX, o.edgeId), JSON.stringify(msg));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.queues.closeAll();
  }

  /** The dead process's lock token ("0", which skips the check, once the lock has expired). */
  private async lockToken(o: OrphanedJob): Promise<string> {
    return (await this.redis.get(`${o.job.queueQualifiedName}:${o.job.id}:lock`)) ?? '0';
  }

  private queue(pool: string, model: string): Queue {
    return this.queues.get(pool, model);
  }
}
