import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { CatalogueModel, parsePoolModelField, poolSchema, PRIORITY_RANGE, prioritizedScoreRange, Queues, RedisKeys } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { MODEL_CATALOGUE } from '../config/catalogue';
import { LUA_NOW_MS, REDIS } from '@switchyard/redis';

/** One read of one `(pool, model)` queue. */
export interface QueueStats {
  pool: string;
  model: string;
  /** wait + prioritized + paused */
  waiting: number;
  /** Of `waiting`, jobs of the interactive class (jobs added without a priority count here: BullMQ runs them first). */
  interactiveWaiting: number;
  /** Of `waiting`, jobs of the bulk class. */
  bulkWaiting: number;
  active: number;
  delayed: number;
  /** Creation time (unix ms) of the oldest waiting job; undefined when none waits. */
  oldestCreatedMs?: number;
  /** The same for the interactive class. */
  oldestInteractiveCreatedMs?: number;
  /** Jobs added since the previous read (from the queue's event stream). */
  added: number;
  /** Of `added`, bulk jobs (by the job's priority; a job already gone counts as interactive). */
  addedBulk: number;
  /** Jobs that left `active` (completed or failed) since the previous read (from the same stream). */
  finished: number;
  /**
   * Interactive requests the edge refused for their expected wait and told to come back, whose time
   * has not come (`RedisKeys.deferred`, libs/redis DeferredDemand): demand waiting at its clients.
   */
  deferred: number;
}

/**
 * Jobs scanned at the head of each class's priority range for the oldest waiting job (see below).
 * Exact while fewer keys than this have jobs waiting in one class of one model.
 */
export const OLDEST_SCAN = 32;

/**
 * Reads, in one atomic script per queue: the BullMQ counts (wait, prioritized, paused, active,
 * delayed), the waiting jobs of each priority class, the oldest waiting job's timestamp per class,
 * and how many jobs were added and finished since the last read.
 *
 * Classes: each class owns a range of BullMQ priorities (`PRIORITY_RANGE`; in the `prioritized`
 * sorted set, score = priority × 2^32 + insertion counter, so `prioritizedScoreRange(cls)`), passed
 * as ARGV. Jobs without a priority (the `wait` and `paused` lists) run before any prioritized job:
 * they count as interactive.
 *
 * The oldest waiting job of a class: within its range a job's priority is its fair-share tag, not
 * its arrival, so the head of the range is the next to run, not necessarily the oldest. But tags
 * are start-time fair queuing tags (libs/redis FairShare): one key's jobs are tagged in its arrival
 * order, and the k-th waiting job of every key is ahead of the (k+1)-th of any, so every key's
 * oldest job — hence the class's oldest — is among the first (keys waiting) entries of the range.
 * The script reads the timestamps of the first `OLDEST_SCAN` and takes the least: exact while fewer
 * keys wait in the class (with unequal shares, a little fewer), else the oldest of those, a lower
 * bound on the oldest wait. Plus the tail of the `wait` and `paused` lists (FIFO: the oldest).
 *
 * Arrivals and departures: `added`, and `completed` + `failed`, entries of the queue's event stream
 * after the last id seen; an added job is bulk when its `priority` field is in the bulk range.
 *
 * Deferred: the entries of the queue's deferred set (refusals told to come back) whose return time,
 * by Redis's clock as the edge wrote it, is still to come.
 */
const QUEUE_STATS_LUA = `
local waitLen = redis.call('LLEN', KEYS[1])
local prioLen = redis.call('ZCARD', KEYS[2])
local pausedLen = redis.call('LLEN', KEYS[3])
local active = redis.call('LLEN', KEYS[4])
local delayed = redis.call('ZCARD', KEYS[5])
local scan = tonumber(ARGV[7])
local function timestamp(jobId)
  local ts = redis.call('HGET', ARGV[1] .. jobId, 'timestamp')
  if ts then return tonumber(ts) end
  return nil
end
local function older(a, b)
  if a and (b < 0 or a < b) then return a end
  return b
end
local oldestInt = -1
if waitLen > 0 then oldestInt = older(timestamp(redis.call('LINDEX', KEYS[1], -1)), oldestInt) end
if pausedLen > 0 then oldestInt = older(timestamp(redis.call('LINDEX', KEYS[3], -1)), oldestInt) end
local function classOldest(min, max, oldest)
  local ids = redis.call('ZRANGEBYSCORE', KEYS[2], min, max, 'LIMIT', 0, scan)
  for _, id in ipairs(ids) do oldest = older(timestamp(id), oldest) end
  return oldest
end
local bulk = 0
local oldestBulk = -1
if prioLen > 0 then
  oldestInt = classOldest(ARGV[3], ARGV[4], oldestInt)
  bulk = redis.call('ZCOUNT', KEYS[2], ARGV[5], ARGV[6])
  if bulk > 0 then oldestBulk = classOldest(ARGV[5], ARGV[6], -1) end
end
local added = 0
local addedBulk = 0
local finished = 0
local lastId = ARGV[2]
if lastId == '' then
  local last = redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1)
  if #last > 0 then lastId = last[1][1] else lastId = '0-0' end
else
  local bulkPriority = tonumber(ARGV[8])
  local entries = redis.call('XRANGE', KEYS[6], '(' .. lastId, '+', 'COUNT', 10000)
  for _, e in ipairs(entries) do
    lastId = e[1]
    local f = e[2]
    local ev, jobId
    for j = 1, #f, 2 do
      if f[j] == 'event' then ev = f[j + 1] elseif f[j] == 'jobId' then jobId = f[j + 1] end
    end
    if ev == 'added' then
      added = added + 1
      local p = jobId and tonumber(redis.call('HGET', ARGV[1] .. jobId, 'priority') or '0')
      if p and p >= bulkPriority then addedBulk = addedBulk + 1 end
    elseif ev == 'completed' or ev == 'failed' then
      finished = finished + 1
    end
  end
end
${LUA_NOW_MS}
local deferred = redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf')
local total = waitLen + prioLen + pausedLen
return {total, total - bulk, bulk, active, delayed, oldestInt, oldestBulk, added, addedBulk, finished, lastId, deferred}
`;

type StatsReply = [number, number, number, number, number, number, number, number, number, number, string, number];

/** ZRANGEBYSCORE bounds of each class's scores in `prioritized`, as the script's ARGV 3–6. */
const CLASS_SCORES = (['interactive', 'bulk'] as const).flatMap((cls) => {
  const r = prioritizedScoreRange(cls);
  return [r.min.toFixed(0), r.max.toFixed(0)];
});

interface StatsCommand {
  syQueueStats(
    wait: string,
    prioritized: string,
    paused: string,
    active: string,
    delayed: string,
    events: string,
    deferred: string,
    jobPrefix: string,
    lastId: string,
    ...classScoresAndScan: string[]
  ): Promise<StatsReply>;
}

interface WatchedQueue {
  pool: string;
  model: string;
  queue: Queue;
  deferredKey: string;
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
    this.redis.defineCommand('syQueueStats', { numberOfKeys: 7, lua: QUEUE_STATS_LUA });
    this.bulkDemandKey = RedisKeys.bulkDemand(config.SWITCHYARD_PREFIX);
    const prefix = Queues.bullPrefix(config.SWITCHYARD_PREFIX);
    this.queues = poolSchema.options.flatMap((pool) =>
      catalogue.map((m) => {
        const queue = new Queue(Queues.inference(pool, m.name), { connection: redis, prefix });
        return { pool, model: m.name, queue, deferredKey: RedisKeys.deferred(config.SWITCHYARD_PREFIX, queue.name), lastEventId: '' };
      }),
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
      pipeline.syQueueStats(k.wait, k.prioritized, k.paused, k.active, k.delayed, k.events, q.deferredKey, q.queue.toKey(''), q.lastEventId, ...CLASS_SCORES, String(OLDEST_SCAN), String(PRIORITY_RANGE.bulk.min));
    }
    const replies = (await pipeline.exec()) ?? [];
    const out: QueueStats[] = [];
    replies.forEach(([err, reply], i) => {
      const q = this.queues[i];
      if (err) throw err;
      const [waiting, interactiveWaiting, bulkWaiting, active, delayed, oldestInt, oldestBulk, added, addedBulk, finished, lastId, deferred] = reply as StatsReply;
      const first = q.lastEventId === '';
      q.lastEventId = lastId;
      const known = (ts: number) => (ts >= 0 ? ts : undefined);
      const oldest = [oldestInt, oldestBulk].filter((ts) => ts >= 0);
      out.push({
        pool: q.pool,
        model: q.model,
        waiting,
        interactiveWaiting,
        bulkWaiting,
        active,
        delayed,
        oldestCreatedMs: waiting > 0 && oldest.length > 0 ? Math.min(...oldest) : undefined,
        oldestInteractiveCreatedMs: interactiveWaiting > 0 ? known(oldestInt) : undefined,
        added: first ? 0 : added,
        addedBulk: first ? 0 : addedBulk,
        finished: first ? 0 : finished,
        deferred,
      });
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
