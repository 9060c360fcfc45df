import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { CatalogueModel, parsePoolModelField, poolSchema, Queues, RedisKeys } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { MODEL_CATALOGUE } from '../config/catalogue';
import { REDIS } from '@switchyard/redis';

/** One read of one `(pool, model)` queue. */
export interface QueueStats {
  pool: string;
  model: string;
  /** wait + prioritized + paused */
  waiting: number;
  active: number;
  delayed: number;
  /** Creation time (unix ms) of the oldest waiting job; undefined when none waits. */
  oldestCreatedMs?: number;
  /** Jobs added since the previous read (from the queue's event stream). */
  added: number;
}

/**
 * Reads, in one atomic script per queue: the BullMQ counts (wait, prioritized, paused, active,
 * delayed), the oldest waiting job's timestamp, and how many jobs were added since the last read.
 *
 * The oldest waiting job: the tail of the `wait` (and `paused`) list, and the head of each priority
 * band of the `prioritized` sorted set (score = priority × 2^32 + insertion counter, so each band is
 * FIFO and the oldest job of a low-priority band is found too). Arrivals: `added` entries of the
 * queue's event stream after the last id seen.
 */
const QUEUE_STATS_LUA = `
local waitLen = redis.call('LLEN', KEYS[1])
local prioLen = redis.call('ZCARD', KEYS[2])
local pausedLen = redis.call('LLEN', KEYS[3])
local active = redis.call('LLEN', KEYS[4])
local delayed = redis.call('ZCARD', KEYS[5])
local oldest = -1
local function consider(jobId)
  if jobId then
    local ts = redis.call('HGET', ARGV[1] .. jobId, 'timestamp')
    if ts then
      ts = tonumber(ts)
      if ts and (oldest < 0 or ts < oldest) then oldest = ts end
    end
  end
end
if waitLen > 0 then consider(redis.call('LINDEX', KEYS[1], -1)) end
if pausedLen > 0 then consider(redis.call('LINDEX', KEYS[3], -1)) end
if prioLen > 0 then
  local from = '-inf'
  for _ = 1, 32 do
    local head = redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #head == 0 then break end
    consider(head[1])
    local band = math.floor(tonumber(head[2]) / 4294967296)
    from = string.format('%.0f', (band + 1) * 4294967296)
  end
end
local added = 0
local lastId = ARGV[2]
if lastId == '' then
  local last = redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1)
  if #last > 0 then lastId = last[1][1] else lastId = '0-0' end
else
  local entries = redis.call('XRANGE', KEYS[6], '(' .. lastId, '+', 'COUNT', 10000)
  for _, e in ipairs(entries) do
    lastId = e[1]
    local f = e[2]
    for j = 1, #f, 2 do
      if f[j] == 'event' and f[j + 1] == 'added' then added = added + 1 end
    end
  end
end
return {waitLen + prioLen + pausedLen, active, delayed, oldest, added, lastId}
`;

type StatsReply = [number, number, number, number, number, string];

interface StatsCommand {
  syQueueStats(wait: string, prioritized: string, paused: string, active: string, delayed: string, events: string, jobPrefix: string, lastId: string): Promise<StatsReply>;
}

interface WatchedQueue {
  pool: string;
  model: string;
  queue: Queue;
  lastEventId: string;
}

/** BullMQ `Queue` objects for every catalogue model in every pool, and the script that reads them. */
@Injectable()
export class QueueStatsRepository implements BeforeApplicationShutdown {
  private readonly queues: WatchedQueue[];
  private readonly bulkDemandKey: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
    @Inject(MODEL_CATALOGUE) catalogue: CatalogueModel[],
  ) {
    this.redis.defineCommand('syQueueStats', { numberOfKeys: 6, lua: QUEUE_STATS_LUA });
    this.bulkDemandKey = RedisKeys.bulkDemand(config.SWITCHYARD_PREFIX);
    const prefix = Queues.bullPrefix(config.SWITCHYARD_PREFIX);
    this.queues = poolSchema.options.flatMap((pool) =>
      catalogue.map((m) => ({
        pool,
        model: m.name,
        queue: new Queue(Queues.inference(pool, m.name), { connection: redis, prefix }),
        lastEventId: '',
      })),
    );
  }

  /** The BullMQ queue of a `(pool, model)`, if watched. */
  queue(pool: string, model: string): Queue | undefined {
    return this.queues.find((q) => q.pool === pool && q.model === model)?.queue;
  }

  units(): { pool: string; model: string }[] {
    return this.queues.map(({ pool, model }) => ({ pool, model }));
  }

  /** Reads every watched queue in one round trip. */
  async readAll(): Promise<QueueStats[]> {
    const pipeline = this.redis.pipeline() as ChainableCommander & { [K in keyof StatsCommand]: (...args: Parameters<StatsCommand[K]>) => ChainableCommander };
    for (const q of this.queues) {
      const k = q.queue.keys;
      pipeline.syQueueStats(k.wait, k.prioritized, k.paused, k.active, k.delayed, k.events, q.queue.toKey(''), q.lastEventId);
    }
    const replies = (await pipeline.exec()) ?? [];
    const out: QueueStats[] = [];
    replies.forEach(([err, reply], i) => {
      const q = this.queues[i];
      if (err) throw err;
      const [waiting, active, delayed, oldest, added, lastId] = reply as StatsReply;
      const first = q.lastEventId === '';
      q.lastEventId = lastId;
      out.push({ pool: q.pool, model: q.model, waiting, active, delayed, oldestCreatedMs: oldest >= 0 && waiting > 0 ? oldest : undefined, added: first ? 0 : added });
    });
    return out;
  }

  /**
   * Pending bulk lines per `(pool, model)` (`RedisKeys.bulkDemand`, written by the batch service;
   * absent, hence empty, when no batch runs or the batch service has been gone past its expiry).
   */
  async readBulkPending(): Promise<Array<{ pool: string; model: string; pending: number }>> {
    const raw = await this.redis.hgetall(this.bulkDemandKey);
    const out: Array<{ pool: string; model: string; pending: number }> = [];
    for (const [field, value] of Object.entries(raw)) {
      const unit = parsePoolModelField(field);
      const pending = Number(value);
      if (unit && Number.isFinite(pending) && pending > 0) out.push({ ...unit, pending });
    }
    return out;
  }

  async beforeApplicationShutdown(): Promise<void> {
    // The connection is shared (RedisLifecycle quits it later); closing a Queue leaves it open.
    await Promise.allSettled(this.queues.map((q) => q.queue.close()));
  }
}
