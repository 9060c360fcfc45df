import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BULLMQ_PRIORITY, INFERENCE_JOB_NAME, RedisKeys, type CancelMessage, type InferenceJob } from '@switchyard/contracts';
import { InferenceQueues, REDIS } from '@switchyard/redis';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';

export type JobPlace = 'queued' | 'running' | 'gone';

/**
 * The batch lines' side of the data plane: puts a line's InferenceJob on its `(pool, model)` queue
 * as the edge does (job id = request id, 3 attempts), but at bulk priority; says where a job is;
 * takes a job back (queued: removed; running: a cancel message for its worker).
 */
@Injectable()
export class LineQueue implements OnApplicationShutdown {
  private readonly queues: InferenceQueues;
  private readonly cancelChannel: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(BATCH_CONFIG) config: BatchConfig,
  ) {
    this.queues = new InferenceQueues(redis, config.SWITCHYARD_PREFIX);
    this.cancelChannel = RedisKeys.cancelChannel(config.SWITCHYARD_PREFIX);
  }

  async enqueue(job: InferenceJob): Promise<void> {
    await this.queues.get(job.pool, job.model).add(INFERENCE_JOB_NAME, job, {
      jobId: job.requestId,
      priority: BULLMQ_PRIORITY.bulk,
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: true,
      removeOnFail: { age: 3600 },
    });
  }

  /** Enqueues again a job found gone (a failed job is kept an hour under its id: remove it first). */
  async reenqueue(job: InferenceJob): Promise<void> {
    const q = this.queues.get(job.pool, job.model);
    const state = await q.getJobState(job.requestId);
    if (state === 'failed' || state === 'completed') await q.remove(job.requestId);
    await this.enqueue({ ...job, createdAt: Date.now() });
  }

  async place(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>): Promise<JobPlace> {
    const state = await this.queues.get(job.pool, job.model).getJobState(job.requestId);
    if (state === 'active') return 'running';
    if (state === 'completed' || state === 'failed' || state === 'unknown') return 'gone';
    return 'queued';
  }

  /** Removes a queued job; true when it was still queued (a running one is locked and stays). */
  async remove(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>): Promise<boolean> {
    return (await this.queues.get(job.pool, job.model).remove(job.requestId)) === 1;
  }

  async cancelRunning(requestId: string, reason: string): Promise<void> {
    const msg: CancelMessage = { requestId, reason };
    await this.redis.publish(this.cancelChannel, JSON.stringify(msg));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queues.closeAll();
  }
}
