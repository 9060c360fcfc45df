import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys, ResidencyEntry } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { FencedWriter } from '../leadership/fenced-writer';
import { REDIS } from '@switchyard/redis';

/** Hash `RedisKeys.residency(prefix)`: model -> JSON `ResidencyEntry`, read by edges. Writes are fenced by the leader lease. */
@Injectable()
export class ResidencyRepository {
  private readonly key: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly writer: FencedWriter,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
  ) {
    this.key = RedisKeys.residency(config.SWITCHYARD_PREFIX);
  }

  async write(entries: ResidencyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.writer.hset(this.key, Object.fromEntries(entries.map((e) => [e.model, JSON.stringify(e)])));
  }

  /** Removes fields of models that are no longer in the catalogue. */
  async keepOnly(models: string[]): Promise<void> {
    const keep = new Set(models);
    const stale = (await this.redis.hkeys(this.key)).filter((m) => !keep.has(m));
    if (stale.length > 0) await this.writer.hdel(this.key, stale);
  }
}
