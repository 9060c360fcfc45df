import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys, type CatalogueModel } from '@switchyard/contracts';
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

export interface WaitEstimate {
  waitMs: number;
  resident: boolean;
  slots: number;
  loadMs: number;
  serviceMs: number;
}

/**
 * Estimates how long until `jobsAhead` jobs of a (pool, model) queue have left it: the model's load
 * time if no worker holds it (from the scheduler's residency entry, else the measured load times,
 * else a guess from its size), plus jobsAhead × the mean service time of one job ÷ the slots serving
 * it. The mean service time is the edge's moving average from final messages.
 */
@Injectable()
export class RetryEstimator {
  constructor(
    private readonly residency: ResidencyRepository,
    private readonly serviceTimes: ServiceTimeTracker,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
  ) {}

  async estimate(pool: string, model: CatalogueModel, jobsAhead: number): Promise<WaitEstimate> {
    const entry = await this.residency.get(model.name);
    const resident = !!entry && entry.workers.length > 0 && entry.slots > 0;
    const slots = resident ? entry.slots : DEFAULT_SLOTS;
    let loadMs = 0;
    if (!resident) {
      let seconds = entry?.loadSeconds;
      if (!seconds) {
        const measured = await this.redis.hget(RedisKeys.loadTimes(this.config.SWITCHYARD_PREFIX), `${pool}|${model.name}`);
        seconds = measured !== null && Number(measured) > 0 ? Number(measured) : guessLoadSeconds(model.sizeBytes);
      }
      loadMs = seconds * 1000;
    }
    const serviceMs = this.serviceTimes.get(model.name) ?? this.config.EDGE_DEFAULT_SERVICE_MS;
    return { waitMs: Math.round(loadMs + (Math.max(0, jobsAhead) * serviceMs) / slots), resident, slots, loadMs, serviceMs };
  }
}

/** `Retry-After` (whole seconds, at least 1) and `retry-after-ms` for a wait. */
export function retryHeaders(waitMs: number): Record<string, string> {
  const ms = Math.max(1, Math.ceil(waitMs));
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), 'retry-after-ms': String(ms) };
}
