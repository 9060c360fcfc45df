import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type CancelMessage, INFERENCE_JOB_NAME, type InferenceJob, Queues, RedisKeys } from '@switchyard/contracts';
import { claimAndAdd } from './bullmq-add';
import { claimPlace, type Place, type PlaceRequest } from './fair-share';

/** Where a job is, as its queue tells it: waiting, taken by a worker, or gone (finished, failed, or lost with Redis's data). */
export type JobPresence = 'queued' | 'running' | 'gone';

type JobRef = Pick<InferenceJob, 'requestId' | 'pool' | 'model'>;

/**
 * The producer side of the data plane (libs/contracts/README.md), for every service that enqueues
 * `InferenceJob`s (the edge, the batch service): the BullMQ `Queue` of each `(pool, model)`, made
 * once on one shared connection, and the one way a job is added (job id = request id, priority
 * from its class, 3 attempts), found, removed, and cancelled.
 */
export class InferenceQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly bullPrefix: string;
  private readonly cancelChannel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.bullPrefix = Queues.bullPrefix(prefix);
    this.cancelChannel = RedisKeys.cancelChannel(prefix);
  }

  get(pool: string, model: string): Queue {
    const name = Queues.inference(pool, model);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.bullPrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * Claims the job's place in its queue (fair share between keys, bounds; see fair-share.ts). The
   * place's `bullPriority` is what `add` must be given.
   */
  claimPlace(pool: string, model: string, req: PlaceRequest): Promise<Place> {
    const q = this.get(pool, model);
    return claimPlace(this.redis, {
      prioritized: q.keys.prioritized,
      wait: q.keys.wait,
      paused: q.keys.paused,
      delayed: q.keys.delayed,
      fair: RedisKeys.fairShare(this.prefix, q.name, req.priority),
    }, req);
  }

  /**
   * Adds a job exactly as the protocol says at the place `claimPlace` gave it (`bullPriority`); a
   * job id already present is not added twice. Without `bullPriority`, its place is claimed as it
   * is added, with no bound, at the job's `share`.
   */
  async add(job: InferenceJob, bullPriority?: number): Promise<void> {
    if (bullPriority === undefined) {
      await this.claimAndAdd(job, { priority: job.priority, key: job.keyId, share: job.share });
      return;
    }
    const { name, data, opts } = this.bullJob(job);
    await this.get(job.pool, job.model).add(name, data, { ...opts, priority: bullPriority });
  }

  /**
   * Claims the job's place (as `claimPlace`) and, when admitted, adds it there, in one round trip
   * (bullmq-add.ts); a refused job is not added.
   */
  claimAndAdd(job: InferenceJob, req: PlaceRequest): Promise<Place> {
    const q = this.get(job.pool, job.model);
    const extra = { wait: q.keys.wait, paused: q.keys.paused, fair: RedisKeys.fairShare(this.prefix, q.name, req.priority) };
    return claimAndAdd(this.redis, q, extra, req, this.bullJob(job));
  }

  private bullJob(job: InferenceJob) {
    return {
      name: INFERENCE_JOB_NAME,
      data: job,
      opts: {
        jobId: job.requestId,
        attempts: 3,
        backoff: { type: 'exponential' as const, delay: 500 },
        removeOnComplete: true,
        removeOnFail: { age: 3600 },
      },
    };
  }

  async presence(job: JobRef): Promise<JobPresence> {
    const state = await this.get(job.pool, job.model).getJobState(job.requestId);
    if (state === 'active') return 'running';
    if (state === 'completed' || state === 'failed' || state === 'unknown') return 'gone';
    return 'queued';
  }

  /** Removes a job still waiting; true when it was (a running job is locked and stays). */
  async remove(job: JobRef): Promise<boolean> {
    try {
      return (await this.get(job.pool, job.model).remove(job.requestId)) === 1;
    } catch {
      return false;
    }
  }

  /** Tells the workers to abort the job if one runs it. */
  async cancelRunning(requestId: string, reason: string): Promise<void> {
    const msg: CancelMessage = { requestId, reason };
    await this.redis.publish(this.cancelChannel, JSON.stringify(msg));
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
