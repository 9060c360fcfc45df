import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Queues, type InferenceJob } from '@switchyard/contracts';
import { assertRedisReady, DeferredDemand, type DeferredOwner, InferenceQueues, type JobPresence, type Place, type PlaceRequest, REDIS } from '@switchyard/redis';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';

const RESERVATION_TTL_MS = 10_000;

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
  private readonly queues: InferenceQueues;
  private readonly deferred: DeferredDemand;
  /** Per queue: when requests this edge admitted but has not enqueued yet were admitted (ms). */
  private readonly reserved = new Map<string, number[]>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) config: EdgeConfig,
  ) {
    this.queues = new InferenceQueues(redis, config.SWITCHYARD_PREFIX);
    this.deferred = new DeferredDemand(redis, config.SWITCHYARD_PREFIX);
  }

  private queue(pool: string, model: string): Queue {
    // BullMQ readies a queue by waiting for the connection: during a Redis outage that would be a
    // hang, and a request must get its 503 at once instead.
    assertRedisReady(this.redis, 'enqueue');
    return this.queues.get(pool, model);
  }

  /** Adds the job at the place `claim` gave it (`bullPriority`), and releases the claim. */
  async enqueue(job: InferenceJob, bullPriority?: number): Promise<void> {
    try {
      assertRedisReady(this.redis, 'enqueue');
      await this.queues.add(job, bullPriority);
    } finally {
      this.unreserve(job.pool, job.model);
    }
  }

  /**
   * Claims the job's place (as `claim`) and, when admitted, adds it there, in one script and one
   * round trip (libs/redis bullmq-add.ts); a refused job is not added. The job is in the queue once
   * this returns, so it holds no reservation; the reservations of this edge's other claims in flight
   * are counted as in `claim`.
   */
  async claimAndEnqueue(job: InferenceJob, req: Omit<PlaceRequest, 'reserved'>): Promise<Place> {
    assertRedisReady(this.redis, 'admission');
    const live = this.liveClaims(job.pool, job.model);
    return this.queues.claimAndAdd(job, { ...req, reserved: live.length });
  }

  /**
   * Claims a job's place in its queue: fair share between keys and the queue's bounds, checked and
   * claimed in one script (libs/redis fair-share.ts). Counted with the depth in Redis are this
   * edge's requests admitted but not yet enqueued: without them a burst of concurrent requests would
   * all read the same depth and all be admitted past the bound. An admitted claim is released when
   * its job is enqueued (or `unreserve` is called), and lapses after RESERVATION_TTL_MS in any case.
   */
  async claim(pool: string, model: string, req: Omit<PlaceRequest, 'reserved'>): Promise<Place> {
    const now = Date.now();
    const live = this.liveClaims(pool, model, now);
    assertRedisReady(this.redis, 'admission');
    // Claimed before the script runs, so concurrent claims of this edge count each other.
    live.push(now);
    let place: Place | undefined;
    try {
      place = await this.queues.claimPlace(pool, model, { ...req, reserved: live.length - 1 });
      return place;
    } finally {
      if (place?.outcome !== 'admitted') {
        const i = live.lastIndexOf(now);
        if (i >= 0) live.splice(i, 1);
      }
    }
  }

  /** This edge's claims of the queue admitted and not yet enqueued (lapsed ones dropped). */
  private liveClaims(pool: string, model: string, now = Date.now()): number[] {
    const key = Queues.inference(pool, model);
    let live = this.reserved.get(key);
    if (!live) this.reserved.set(key, (live = []));
    // One array per queue, changed in place: a claim still awaiting Redis holds the same one.
    while (live.length > 0 && now - live[0] >= RESERVATION_TTL_MS) live.shift();
    return live;
  }

  /** Releases the oldest claim made by `claim` for this queue. */
  unreserve(pool: string, model: string): void {
    this.reserved.get(Queues.inference(pool, model))?.shift();
  }

  /**
   * Records a refusal for expected wait of a request of `owner` (its key, its fingerprint), told to
   * come back after `retryAfterMs(outstanding)` ms given the refusals of the queue (of every edge)
   * still to come back before it; returns that time. The scheduler counts such refusals as the
   * queue's demand (libs/redis DeferredDemand).
   */
  async defer(pool: string, model: string, owner: DeferredOwner, requestId: string, retryAfterMs: (outstanding: number) => number): Promise<number> {
    assertRedisReady(this.redis, 'admission');
    return this.deferred.defer(pool, model, owner, requestId, retryAfterMs);
  }

  /**
   * Takes the place kept for a refusal of the queue whose time has come (libs/redis DeferredDemand),
   * of anyone's refusals or, given `owner`, of that key's (and fingerprint's) only: true if there was
   * one, and the request may be admitted past the expected-wait bound.
   */
  async honor(pool: string, model: string, owner?: DeferredOwner): Promise<boolean> {
    assertRedisReady(this.redis, 'admission');
    return this.deferred.honor(pool, model, owner);
  }

  async depth(pool: string, model: string): Promise<QueueDepth> {
    const c = await this.queue(pool, model).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'paused');
    return { queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.paused ?? 0), active: c.active ?? 0 };
  }

  /** Where the job is: still queued, running on a worker, or gone (finished, failed, or lost with Redis's data). */
  presence(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>): Promise<JobPresence> {
    assertRedisReady(this.redis, 'job presence');
    return this.queues.presence(job);
  }

  /**
   * Cancels a job: removed if still waiting; if a worker holds it (BullMQ refuses to remove a
   * locked job), the cancel message makes that worker abort the Ollama request. The message is
   * published either way, which also covers a worker taking the job between the two steps.
   */
  async cancel(job: Pick<InferenceJob, 'requestId' | 'pool' | 'model'>, reason: string): Promise<'removed' | 'signalled'> {
    const removed = await this.queues.remove(job);
    await this.queues.cancelRunning(job.requestId, reason);
    return removed ? 'removed' : 'signalled';
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queues.closeAll();
  }
}
