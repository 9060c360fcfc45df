import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { poolModelField, RedisKeys } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { FencedWriter } from '../leadership/fenced-writer';
import { REDIS } from '@switchyard/redis';

/** What the scheduler saves about each worker, so a restarted scheduler knows the cluster at once. */
export const savedWorkerSchema = z.object({
  id: z.string().min(1),
  pool: z.string().min(1),
  ollamaUrl: z.string(),
  slots: z.number().int().nonnegative(),
  memoryTotalBytes: z.number().nonnegative(),
  memoryUsedBytes: z.number().nonnegative(),
  degraded: z.boolean(),
  resident: z.array(
    z.object({
      model: z.string(),
      sizeBytes: z.number().nonnegative(),
      numCtx: z.number().int().nonnegative(),
      busySlots: z.number().int().nonnegative(),
      pulling: z.boolean(),
      loadedAtMs: z.number(),
    }),
  ),
  loadTimes: z.record(z.string(), z.number()),
  lastSeenMs: z.number(),
});
export type SavedWorker = z.infer<typeof savedWorkerSchema>;

/** Hash `RedisKeys.workers(prefix)`: worker id -> JSON snapshot; and the load-time hash for edges. Writes are fenced by the leader lease. */
@Injectable()
export class WorkerSnapshotRepository {
  private readonly workersKey: string;
  private readonly loadTimesKey: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly writer: FencedWriter,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
  ) {
    this.workersKey = RedisKeys.workers(config.SWITCHYARD_PREFIX);
    this.loadTimesKey = RedisKeys.loadTimes(config.SWITCHYARD_PREFIX);
  }

  /** Every saved worker that parses; broken entries are returned by id so they can be dropped. */
  async loadAll(): Promise<{ workers: SavedWorker[]; broken: string[] }> {
    const raw = await this.redis.hgetall(this.workersKey);
    const workers: SavedWorker[] = [];
    const broken: string[] = [];
    for (const [id, json] of Object.entries(raw)) {
      try {
        workers.push(savedWorkerSchema.parse(JSON.parse(json)));
      } catch {
        broken.push(id);
      }
    }
    return { workers, broken };
  }

  async save(...workers: SavedWorker[]): Promise<void> {
    await this.writer.hset(this.workersKey, Object.fromEntries(workers.map((w) => [w.id, JSON.stringify(w)])));
  }

  async remove(ids: string[]): Promise<void> {
    await this.writer.hdel(this.workersKey, ids);
  }

  /** Load seconds by `poolModelField(pool, model)`. */
  async saveLoadTimes(seconds: Map<string, number>): Promise<void> {
    await this.writer.hset(this.loadTimesKey, Object.fromEntries([...seconds].map(([unit, s]) => [unit, s.toFixed(3)])));
  }

  async saveLoadTime(pool: string, model: string, seconds: number): Promise<void> {
    await this.saveLoadTimes(new Map([[poolModelField(pool, model), seconds]]));
  }
}
