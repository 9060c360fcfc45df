import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  BULLMQ_PRIORITY,
  INFERENCE_JOB_NAME,
  Queues,
  RedisKeys,
  type CancelMessage,
  type InferenceJob,
} from '@switchyard/contracts';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { REDIS } from '../redis/redis.module';

export interface QueueDepth {
  /** Jobs not yet taken by a worker (waiting, prioritized, delayed for a retry). */
  queued: number;
  /** Jobs a worker runs now. */
  active: number;
}

/**
 * Puts `InferenceJob`s on their `(pool, model)` BullMQ queue exactly as the data-plane protocol
 * says (job id = request id, priority from the class, 3 attempts), and takes them back when a
 * client goes away. All queues share the edge's one command connection.
 */
@Injectable()
export class InferenceProducer implements OnApplicationShutdown {
  private readonly queues = new Map<string, Queue>();
  private readonly bullPrefix: string;
  private readonly cancelChannel: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) config: EdgeConfig,
  ) {
    this.bullPrefix = Queues.bullPrefix(config.SWITCHYARD_PREFIX);
    this.cancelChannel = RedisKeys.cancelChannel(config.SWITCHYARD_PREFIX);
  }

  private queue(pool: string, model: string): Queue {
    const name = Queues.inference(pool, model);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.bullPrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async enqueue(job: InferenceJob): Promise<void> {
    await this.queue(job.pool, job.model).add(INFERENCE_JOB_NAME, job, {
      jobId: job.requestId,
      priority: BULLMQ_PRIORITY[job.priority],
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: true,
      removeOnFail: { age: 3600 },
    });
  }

  async depth(pool: string, model: string): Promise<QueueDepth> {
    const c = await this.queue(pool, model).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'paused');
    return { queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.paused ?? 0), active: c.active ?? 0 };
  }

  /**
   * Cancels a job: removed if still waiting; if a worker holds it (BullMQ refuses to remove a
   * locked job), the cancel message makes that worker abort the Ollama request. The message is
   * published either way, which also covers a worker taking the job between the two steps.
   */
  async cancel(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>, reason: string): Promise<'removed' | 'signalled'> {
    let removed = 0;
    try {
      removed = await this.queue(job.pool, job.model).remove(job.requestId);
    } catch {
      removed = 0;
    }
    const msg: CancelMessage = { requestId: job.requestId, reason };
    await this.redis.publish(this.cancelChannel, JSON.stringify(msg));
    return removed === 1 ? 'removed' : 'signalled';
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
