import type { Redis } from 'ioredis';
import { DEFAULT_SHARE, PRIORITY_RANGE, type PriorityClass } from '@switchyard/contracts';

/**
 * Fair share within one `(pool, model)` queue and priority class, on BullMQ's open-source
 * primitives: start-time fair queuing, where a job's BullMQ priority is its tag.
 *
 * - The queue's virtual time `v` is the tag of the job at the head of the class (the next to run);
 *   with none waiting, the last one seen.
 * - A key's job starts at `max(v, f)`, where `f` is where the key's previous job ended, and ends
 *   `cost` later; `cost` is `FAIR_COST_UNIT / share`, so a key with twice the share advances half
 *   as fast.
 *
 * So the k-th waiting job of every key runs before the (k+1)-th of any, in arrival order among
 * equal tags (BullMQ scores priority × 2^32 + an insertion counter): a key that floods a model only
 * queues behind itself, and another key's request waits about one round. Classes keep their own
 * priority ranges, so every interactive job still runs before any bulk one.
 *
 * The same script checks the queue's bounds and claims the place only when admitted, so a refused
 * request does not advance its key: the count bound (a memory guard) and the number of jobs that
 * would run before this one (what its expected wait is computed from).
 */
const CLAIM_PLACE_LUA = `
local SH = 4294967296
local function n(x) return string.format('%.0f', x) end
local pmin, pmax = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, maxAhead, bound, reserved = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local span = pmax - pmin
local v
local head = redis.call('ZRANGEBYSCORE', KEYS[1], n(pmin * SH), n((pmax + 1) * SH - 1), 'WITHSCORES', 'LIMIT', 0, 1)
if #head > 0 then
  v = math.floor(tonumber(head[2]) / SH) - pmin
else
  v = tonumber(redis.call('HGET', KEYS[5], '~v') or '0')
  if v > span / 2 then
    redis.call('DEL', KEYS[5])
    v = 0
  end
end
local tag = math.max(v, tonumber(redis.call('HGET', KEYS[5], ARGV[3]) or '0'))
if tag > span then tag = span end
local prio = pmin + tag
local waitLen = redis.call('LLEN', KEYS[2])
local others = waitLen + redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4])
local inClass
if ARGV[9] == '1' then
  inClass = redis.call('ZCARD', KEYS[1])
else
  inClass = redis.call('ZCOUNT', KEYS[1], n(pmin * SH), n((pmax + 1) * SH - 1))
end
local queued = inClass + others + reserved
local ahead = redis.call('ZCOUNT', KEYS[1], '-inf', n((prio + 1) * SH - 1)) + waitLen + reserved
if bound >= 0 and queued >= bound then return {0, prio, ahead, queued} end
if maxAhead >= 0 and ahead > maxAhead then return {2, prio, ahead, queued} end
redis.call('HSET', KEYS[5], ARGV[3], tag + cost, '~v', v)
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[8]))
return {1, prio, ahead, queued}
`;

/**
 * A key with share 1 advances this many priority steps per job (a key with share s: this ÷ s, at
 * least 1, so shares above it are served alike). It also sets how deep a class's tags go before
 * they reach the top of its range (2^20 steps) and queue in arrival order: 50,000 jobs of one key.
 */
export const FAIR_COST_UNIT = 20;
/** A queue class's fair-share state is forgotten after this long without a new job. */
const FAIR_STATE_TTL_MS = 3_600_000;

export interface PlaceRequest {
  priority: PriorityClass;
  /** Who shares: the API key. */
  key: string;
  /** The key's weight (1 = an equal share). */
  share?: number;
  /**
   * Refuse when more than this many jobs would run before this one (the most an expected-wait bound
   * allows); undefined = no limit.
   */
  maxAhead?: number;
  /** Refuse when the class already holds this many jobs (for bulk: the whole queue); undefined = no limit. */
  bound?: number;
  /** Jobs the caller admitted but has not added yet, counted as queued and ahead. */
  reserved?: number;
}

export interface Place {
  /** 'full': over the count bound; 'wait': too many jobs ahead for the expected-wait bound. */
  outcome: 'admitted' | 'full' | 'wait';
  /** The BullMQ priority to add the job with (its fair-share tag within its class's range). */
  bullPriority: number;
  /** Jobs that would run before this one. */
  ahead: number;
  /** Jobs queued in the class (for bulk: the whole queue). */
  queued: number;
}

export interface QueueKeys {
  prioritized: string;
  wait: string;
  paused: string;
  delayed: string;
  fair: string;
}

type Reply = [number, number, number, number];

interface ClaimCommand {
  syClaimPlace(...args: string[]): Promise<Reply>;
}

const defined = new WeakSet<Redis>();

export async function claimPlace(redis: Redis, keys: QueueKeys, req: PlaceRequest): Promise<Place> {
  if (!defined.has(redis)) {
    redis.defineCommand('syClaimPlace', { numberOfKeys: 5, lua: CLAIM_PLACE_LUA });
    defined.add(redis);
  }
  const range = PRIORITY_RANGE[req.priority];
  const share = req.share !== undefined && req.share > 0 ? req.share : DEFAULT_SHARE;
  const cost = Math.max(1, Math.round(FAIR_COST_UNIT / share));
  const [code, bullPriority, ahead, queued] = await (redis as unknown as ClaimCommand).syClaimPlace(
    keys.prioritized,
    keys.wait,
    keys.paused,
    keys.delayed,
    keys.fair,
    String(range.min),
    String(range.max),
    req.key,
    String(cost),
    String(req.maxAhead ?? -1),
    String(req.bound ?? -1),
    String(req.reserved ?? 0),
    String(FAIR_STATE_TTL_MS),
    req.priority === 'bulk' ? '1' : '0',
  );
  return { outcome: code === 1 ? 'admitted' : code === 0 ? 'full' : 'wait', bullPriority, ahead, queued };
}
