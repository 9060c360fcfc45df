import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys, residencyEntrySchema, type ResidencyEntry } from '@switchyard/contracts';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { REDIS } from '@switchyard/redis';

/** Reads what the scheduler publishes about residency (hash `RedisKeys.residency`, field = model). */
@Injectable()
export class ResidencyRepository {
  private readonly key: string;
  private snapshot: { at: number; entries: Promise<Map<string, ResidencyEntry>> } | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) config: EdgeConfig,
  ) {
    this.key = RedisKeys.residency(config.SWITCHYARD_PREFIX);
  }

  async all(): Promise<Map<string, ResidencyEntry>> {
    const raw = await this.redis.hgetall(this.key);
    const out = new Map<string, ResidencyEntry>();
    for (const [model, json] of Object.entries(raw)) {
      const entry = parse(json);
      if (entry) out.set(model, entry);
    }
    return out;
  }

  /**
   * The model's entry as read at most `maxAgeMs` ago: one HGETALL a second serves every request's
   * admission check, however many arrive.
   */
  async recent(model: string, maxAgeMs = 1000): Promise<ResidencyEntry | undefined> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.at > maxAgeMs) {
      const entries = this.all();
      this.snapshot = { at: now, entries };
      entries.catch(() => {
        if (this.snapshot?.entries === entries) this.snapshot = undefined;
      });
    }
    return (await this.snapshot.entries).get(model);
  }

  async get(model: string): Promise<ResidencyEntry | undefined> {
    const json = await this.redis.hget(this.key, model);
    return json === null ? undefined : parse(json);
  }
}

function parse(json: string): ResidencyEntry | undefined {
  try {
    const r = residencyEntrySchema.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
