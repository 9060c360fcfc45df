import type { Redis } from 'ioredis';
import { DEFAULT_SHARE, PRIORITY_RANGE, type PriorityClass } from '@switchyard/contracts';

/** Where the claim script finds its keys and arguments (Lua expressions such as `KEYS[1]`). */
export interface ClaimSlots {
  prioritized: string;
  wait: string;
  paused: string;
  delayed: string;
  fair: string;
  /** The script's first claim argument is ARGV[argBase + 1]. */
  argBase: number;
}

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
 *
 * The claim is a Lua function `syClaim()` returning `code, prio, ahead, queued` (code 1 admitted, 0
 * full, 2 too many ahead), so that bullmq-add.ts can run it and BullMQ's add in one script.
 */
export function claimPlaceLua(s: ClaimSlots): string {
  const a = (i: number) => `ARGV[${s.argBase + i}]`;
  return `
local function syClaim()
  local SH = 4294967296
  local function n(x) return string.format('%.0f', x) end
  local pmin, pmax = tonumber(${a(1)}), tonumber(${a(2)})
  local cost, maxAhead, bound, reserved = tonumber(${a(4)}), tonumber(${a(5)}), tonumber(${a(6)}), tonumber(${a(7)})
  local span = pmax - pmin
  local v
  local head = redis.call('ZRANGEBYSCORE', ${s.prioritized}, n(pmin * SH), n((pmax + 1) * SH - 1), 'WITHSCORES', 'LIMIT', 0, 1)
  if #head > 0 then
    v = math.floor(tonumber(head[2]) / SH) - pmin
  else
    v = tonumber(redis.call('HGET', ${s.fair}, '~v') or '0')
    if v > span / 2 then
      redis.call('DEL', ${s.fair})
      v = 0
    end
  end
  local tag = math.max(v, tonumber(redis.call('HGET', ${s.fair}, ${a(3)}) or '0'))
  if tag > span then tag = span end
  local prio = pmin + tag
  local waitLen = redis.call('LLEN', ${s.wait})
  local others = waitLen + redis.call('LLEN', ${s.paused}) + redis.call('ZCARD', ${s.delayed})
  local inClass
  if ${a(9)} == '1' then
    inClass = redis.call('ZCARD', ${s.prioritized})
  else
    inClass = redis.call('ZCOUNT', ${s.prioritized}, n(pmin * SH), n((pmax + 1) * SH - 1))
  end
  local queued = inClass + others + reserved
  local ahead = redis.call('ZCOUNT', ${s.prioritized}, '-inf', n((prio + 1) * SH - 1)) + waitLen + reserved
  if bound >= 0 and queued >= bound then return 0, prio, ahead, queued end
  if maxAhead >= 0 and ahead > maxAhead then return 2, prio, ahead, queued end
  redis.call('HSET', ${s.fair}, ${a(3)}, tag + cost, '~v', v)
  redis.call('PEXPIRE', ${s.fair}, tonumber(${a(8)}))
  return 1, prio, ahead, queued
end
`;
}

const CLAIM_PLACE_LUA = `${claimPlaceLua({ prioritized: 'KEYS[1]', wait: 'KEYS[2]', paused: 'KEYS[3]', delayed: 'KEYS[4]', fair: 'KEYS[5]', argBase: 0 })}
local code, prio, ahead, queued = syClaim()
return {code, prio, ahead, queued}
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

/** The claim script's reply: code (1 admitted, 0 full, 2 wait), priority, ahead, queued. */
export type ClaimReply = [number, number, number, number];

interface ClaimCommand {
  syClaimPlace(...args: string[]): Promise<ClaimReply>;
}

const defined = new WeakSet<Redis>();

/** The claim script's arguments (ARGV[argBase + 1 ...]) for `req`. */
export function claimArgs(req: PlaceRequest): string[] {
  const range = PRIORITY_RANGE[req.priority];
  const share = req.share !== undefined && req.share > 0 ? req.share : DEFAULT_SHARE;
  const cost = Math.max(1, Math.round(FAIR_COST_UNIT / share));
  return [
    String(range.min),
    String(range.max),
    req.key,
    String(cost),
    String(req.maxAhead ?? -1),
    String(req.bound ?? -1),
    String(req.reserved ?? 0),
    String(FAIR_STATE_TTL_MS),
    req.priority === 'bulk' ? '1' : '0',
  ];
}

export function toPlace([code, bullPriority, ahead, queued]: ClaimReply): Place {
  return { outcome: code === 1 ? 'admitted' : code === 0 ? 'full' : 'wait', bullPriority, ahead, queued };
}

export async function claimPlace(redis: Redis, keys: QueueKeys, req: PlaceRequest): Promise<Place> {
  if (!defined.has(redis)) {
    redis.defineCommand('syClaimPlace', { numberOfKeys: 5, lua: CLAIM_PLACE_LUA });
    defined.add(redis);
  }
  const reply = await (redis as unknown as ClaimCommand).syClaimPlace(keys.prioritized, keys.wait, keys.paused, keys.delayed, keys.fair, ...claimArgs(req));
  return toPlace(reply);
}
