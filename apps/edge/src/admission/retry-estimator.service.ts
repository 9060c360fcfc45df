import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { poolModelField, RedisKeys, type CatalogueModel, type ResidencyEntry } from '@switchyard/contracts';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { ResidencyRepository } from '../models/residency.repository';
import { ServiceTimeTracker } from '../queue/service-time.tracker';
import { REDIS } from '@switchyard/redis';

/** Parallel slots assumed for a model no worker holds yet (Ollama's NUM_PARALLEL as deployed). */
export const DEFAULT_SLOTS = 4;
/** Load-time guess from size when nothing was measured: page-cache read at ~2 GB/s plus start-up. */
export function guessLoadSeconds(sizeBytes: number): number {
  return 2 + sizeBytes / 2e9;
}

/** What a (pool, model) queue's wait is computed from. */
export class WaitEstimate {
  constructor(
    readonly resident: boolean,
    /** Parallel slots serving the model (across the workers holding it). */
    readonly slots: number,
    /** Load time still to pay before the first job runs (0 when resident). */
    readonly loadMs: number,
    /** Mean service time of one job. */
    readonly serviceMs: number,
    /**
     * The most slots it could have once replicated (the residency entry's `hostSlots`, 0 when
     * unknown). Return times are spaced on these, or on `slots` if more: see `startedAfterMs`.
     */
    readonly peakSlots: number,
    /**
     * Tail rotation: how much longer than the load a cold model's first job waits for its round
     * (0 unless the scheduler holds it back). Told in the expected-wait header; admission does not
     * count it, as refusing such a request would empty the queue whose oldest job starts its round.
     */
    readonly roundMs = 0,
  ) {}

  /** The expected wait told to an admitted client (`x-switchyard-expected-wait-ms`): `waitMs` and the wait for its round. */
  toldMs(jobsAhead: number): number {
    return this.waitMs(jobsAhead) + Math.round(this.roundMs);
  }

  /**
   * Time (ms) by which `jobs` more of the queued jobs will have started: the rounds (one service time
   * on every slot) that free that many places, and half a round more. Jobs that started together
   * (a burst) end together, so places free a round at a time, and around a round's expected end about
   * half of its places are still held: a client told to come back then would be refused about as
   * often as admitted. Counted on the slots the model could have once replicated, not the ones it
   * has: a refused client comes back at the earliest its place could free. Early, its kept place
   * admits it past the bound (libs/redis DeferredDemand) and it waits in the queue; late, the
   * replicas the scheduler adds for the demand it left behind idle while it waits at its client.
   */
  startedAfterMs(jobs: number): number {
    return (Math.ceil(Math.max(0, jobs) / Math.max(this.slots, this.peakSlots)) + 0.5) * this.serviceMs;
  }

  /** Expected wait (ms) of a job with `jobsAhead` jobs to run before it. */
  waitMs(jobsAhead: number): number {
    return Math.round(this.loadMs + (Math.max(0, jobsAhead) * this.serviceMs) / this.slots);
  }

  /**
   * The most jobs that may run before a new one for its expected wait to stay within `boundMs`; at
   * least a round's worth (`slots - 1`: the new one runs in the first round), so a model whose load
   * alone takes longer is still loaded and served.
   */
  maxAhead(boundMs: number): number {
    return Math.max(this.slots - 1, Math.floor(((boundMs - this.loadMs) * this.slots) / this.serviceMs));
  }
}

/**
 * Estimates the wait of a (pool, model) queue: the model's load time if no worker holds it (from
 * the scheduler's residency entry, else the measured load times, else a guess from its size), plus
 * jobs ahead × the mean service time of one job ÷ the slots serving it. The mean service time is the
 * edge's moving average from final messages. The residency entry is the edge's one-second snapshot,
 * so a warm model's estimate costs no Redis call.
 */
@Injectable()
export class RetryEstimator {
  constructor(
    private readonly residency: ResidencyRepository,
    private readonly serviceTimes: ServiceTimeTracker,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
  ) {}

  async estimate(pool: string, model: CatalogueModel, entry?: ResidencyEntry): Promise<WaitEstimate> {
    entry ??= await this.residency.recent(model.name).catch(() => undefined);
    const slots = entry && entry.workers.length > 0 && entry.slots > 0 ? entry.slots : 0;
    const resident = slots > 0;
    let loadMs = 0;
    if (!resident) {
      let seconds = entry?.loadSeconds;
      if (!seconds) {
        const measured = await this.redis.hget(RedisKeys.loadTimes(this.config.SWITCHYARD_PREFIX), poolModelField(pool, model.name));
        seconds = measured !== null && Number(measured) > 0 ? Number(measured) : guessLoadSeconds(model.sizeBytes);
      }
      loadMs = seconds * 1000;
    }
    const serviceMs = this.serviceTimes.get(model.name) ?? this.config.EDGE_DEFAULT_SERVICE_MS;
    return new WaitEstimate(resident, slots || DEFAULT_SLOTS, loadMs, serviceMs, entry?.hostSlots ?? 0, resident ? 0 : roundBeyondLoadMs(entry, loadMs, Date.now()));
  }
}

/**
 * How long after the load a model held back by tail rotation starts its first job: its round is
 * due when its oldest waiting request (with none waiting, this one) plus the load has waited the
 * round wait; 0 for a model the scheduler does not hold back. An upper estimate: free room can
 * bring it in before its round.
 */
export function roundBeyondLoadMs(entry: ResidencyEntry | undefined, loadMs: number, now: number): number {
  if (!entry?.tailRoundMs) return 0;
  const startsAt = (entry.waitingSince ?? now) + entry.tailRoundMs;
  return Math.max(0, startsAt - now - loadMs);
}

/** `Retry-After` (whole seconds, at least 1) and `retry-after-ms` for a wait. */
export function retryHeaders(waitMs: number): Record<string, string> {
  const ms = Math.max(1, Math.ceil(waitMs));
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), 'retry-after-ms': String(ms) };
}
