import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { InferenceJob } from '@switchyard/contracts';
import { InferenceQueues, type JobPresence, REDIS } from '@switchyard/redis';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';

/**
 * The batch lines' side of the data plane: puts a line's InferenceJob on its `(pool, model)` queue
 * as the edge does (job id = request id, 3 attempts), but at bulk priority; says where a job is;
 * takes a job back (queued: removed; running: a cancel message for its worker).
 */
@Injectable()
export class LineQueue implements OnApplicationShutdown {
  private readonly queues: InferenceQueues;

  constructor(@Inject(REDIS) redis: Redis, @Inject(BATCH_CONFIG) config: BatchConfig) {
    this.queues = new InferenceQueues(redis, config.SWITCHYARD_PREFIX);
  }

  async enqueue(job: InferenceJob): Promise<void> {
    // Every batch line's job is of the bulk class (the runner builds it so): it waits behind interactive work.
    await this.queues.add({ ...job, priority: 'bulk' });
  }

  /** Enqueues again a job found gone (a failed job is kept an hour under its id: remove it first). */
  async reenqueue(job: InferenceJob): Promise<void> {
    const q = this.queues.get(job.pool, job.model);
    const state = await q.getJobState(job.requestId);
    if (state === 'failed' || state === 'completed') await q.remove(job.requestId);
    await this.enqueue({ ...job, createdAt: Date.now() });
  }

  place(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>): Promise<JobPresence> {
    return this.queues.presence(job);
  }

  /** Removes a queued job; true when it was still queued (a running one is locked and stays). */
  remove(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>): Promise<boolean> {
    return this.queues.remove(job);
  }

  cancelRunning(requestId: string, reason: string): Promise<void> {
    return this.queues.cancelRunning(requestId, reason);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queues.closeAll();
  }
}
