import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DATABASE, type Database } from '@switchyard/database';
import { BULK_DEMAND_TTL_MS, poolModelField, RedisKeys } from '@switchyard/contracts';
import { REDIS } from '@switchyard/redis';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';

/** Publications closer together than this are skipped (a pass may run on every answered line). */
const MIN_INTERVAL_MS = 250;

/**
 * Publishes each `(pool, model)`'s pending bulk demand — lines of running batches (`in_progress`,
 * not being stopped) that are not in a queue yet — to `RedisKeys.bulkDemand(prefix)`, so the
 * scheduler can plan for work the window keeps out of the queues. The count is read from the
 * database, so it is the same whichever replica writes it: each write replaces the whole hash
 * (fields at 0 disappear) and renews its expiry, so a dead batch service's demand does not linger.
 */
@Injectable()
export class BulkDemandPublisher {
  private readonly key: string;
  private lastMs = 0;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(BATCH_CONFIG) config: BatchConfig,
  ) {
    this.key = RedisKeys.bulkDemand(config.SWITCHYARD_PREFIX);
  }

  /** Pending lines per `poolModelField(pool, model)`, from the database. */
  async pending(): Promise<Map<string, number>> {
    const r = await this.db.query<{ pool: string | null; model: string; n: number }>(
      `select l.job->>'pool' as pool, l.model, count(*)::bigint as n
       from batch_lines l join batch_batches b on b.id = l.batch_id
       where b.status = 'in_progress' and b.ending is null and l.state = 'pending'
       group by 1, 2`,
    );
    const out = new Map<string, number>();
    for (const row of r.rows) {
      const n = Number(row.n);
      if (!row.pool || n <= 0) continue;
      const field = poolModelField(row.pool, row.model);
      out.set(field, (out.get(field) ?? 0) + n);
    }
    return out;
  }

  /** Rewrites the hash (at most every MIN_INTERVAL_MS unless `force`). */
  async publish(now = Date.now(), force = false): Promise<void> {
    if (!force && now - this.lastMs < MIN_INTERVAL_MS) return;
    this.lastMs = now;
    const pending = await this.pending();
    const tx = this.redis.multi().del(this.key);
    if (pending.size > 0) {
      tx.hset(this.key, Object.fromEntries([...pending].map(([f, n]) => [f, String(n)])));
      tx.pexpire(this.key, BULK_DEMAND_TTL_MS);
    }
    await tx.exec();
  }
}
