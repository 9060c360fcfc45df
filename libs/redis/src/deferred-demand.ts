import type { Redis } from 'ioredis';
import { Queues, RedisKeys } from '@switchyard/contracts';

/**
 * Life of a queue's deferred set after its last refusal. Every entry's own score ends its count
 * (Retry-After is minutes at most), so this only drops sets nobody writes any more.
 */
export const DEFERRED_TTL_MS = 600_000;
/**
 * How long after its time a refusal's place is kept for its client's return (see `honor`): the
 * `openai` SDK sends its retry as soon as the wait it was given has passed, so a returning client
 * arrives within its own request's latency of its time.
 */
export const PROMISE_GRACE_MS = 2_000;
/**
 * How long a refusal counts before its return time is written (the second step of `defer`, a few
 * milliseconds later); also what it counts for if that write is lost.
 */
const PROVISIONAL_MS = 60_000;

/** Lua that sets `now` to Redis's clock in unix ms: the one clock deferred demand is kept and read by. */
export const LUA_NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * One step of a refusal, atomic so that concurrent refusals (of every edge) count each other: the
 * entries past their grace are dropped, those whose time is still to come counted, and this refusal
 * entered provisionally. Time is Redis's, so that edges and the scheduler on other machines agree.
 */
const DEFER_LUA = `
${LUA_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[4])))
local outstanding = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {outstanding, now}
`;

/**
 * Takes the place of one refusal whose time has come, within its grace, the earliest first: 1 if
 * there was one. With an owner (ARGV[2], non-empty), only a place of that owner's refusals.
 */
const HONOR_LUA = `
${LUA_NOW_MS}
local owner = ARGV[2]
local due
if owner == '' then
  due = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), now, 'LIMIT', 0, 1)
else
  due = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), now)
end
for _, member in ipairs(due) do
  if owner == '' or string.sub(member, 1, #owner) == owner then
    redis.call('ZREM', KEYS[1], member)
    return 1
  end
end
return 0
`;

/** The refusals whose time is still to come. */
const OUTSTANDING_LUA = `
${LUA_NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/**
 * Whose a refusal is: the API key's id and, when known, a fingerprint of the request's content (the
 * same request sent again has the same one). Neither holds a space.
 */
export interface DeferredOwner {
  keyId: string;
  fingerprint?: string;
}

/** What the entries of `owner`'s refusals begin with: of its key, or of its key and fingerprint. */
function ownerPrefix(owner: DeferredOwner): string {
  return owner.fingerprint === undefined ? `${owner.keyId} ` : `${owner.keyId} ${owner.fingerprint} `;
}

/** A refusal's entry in the deferred set: its key's id, its fingerprint (`-` if none), its request id. */
function deferredMember(owner: DeferredOwner, requestId: string): string {
  return `${ownerPrefix({ keyId: owner.keyId, fingerprint: owner.fingerprint ?? '-' })}${requestId}`;
}

interface DeferCommand {
  syDefer(key: string, member: string, provisionalMs: string, ttlMs: string, graceMs: string): Promise<[number, number]>;
  syHonor(key: string, graceMs: string, owner: string): Promise<number>;
  syOutstanding(key: string): Promise<number>;
}

/**
 * Demand the edge deferred: requests refused for their expected wait and told to come back
 * (`Retry-After`), per `(pool, model)` queue, in `RedisKeys.deferred` with the time they were given.
 * Such a request waits at its client, where the queue cannot show it. The edge counts the ones
 * still to come back in the next refusal's `Retry-After` (they take the places that free first, so a
 * burst refused at once is spread over the rounds in which places free); the scheduler counts them
 * as waiting demand of the queue (apps/scheduler QueueStatsRepository), so a burst the edge holds
 * back still asks for the replicas that would serve it. And the place is kept: for
 * `PROMISE_GRACE_MS` after its time, a refusal's place is given to the first request of the queue
 * that would be refused again (`honor`): the returning client, which would otherwise be refused when
 * the estimate was short, and lost once its retries are spent. A retry carries nothing that names its
 * first attempt (the `openai` SDK sends no idempotency key), so places are kept by count, not by name;
 * each refusal records its owner (the API key's id and a fingerprint of the request), so that a
 * request can be given a place of its own key's refusals only, or of the same request's (see `honor`).
 */
export class DeferredDemand {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('syDefer', { numberOfKeys: 1, lua: DEFER_LUA });
    redis.defineCommand('syHonor', { numberOfKeys: 1, lua: HONOR_LUA });
    redis.defineCommand('syOutstanding', { numberOfKeys: 1, lua: OUTSTANDING_LUA });
  }

  key(pool: string, model: string): string {
    return RedisKeys.deferred(this.prefix, Queues.inference(pool, model));
  }

  /**
   * Records the refusal of `requestId`, a request of `owner`, and returns when it is told to come
   * back (ms from now): `retryAfterMs(outstanding)`, given the refusals of the queue still to come
   * back before it.
   */
  async defer(pool: string, model: string, owner: DeferredOwner, requestId: string, retryAfterMs: (outstanding: number) => number): Promise<number> {
    const key = this.key(pool, model);
    const member = deferredMember(owner, requestId);
    const [outstanding, now] = await (this.redis as unknown as DeferCommand).syDefer(key, member, String(PROVISIONAL_MS), String(DEFERRED_TTL_MS), String(PROMISE_GRACE_MS));
    const retryMs = Math.max(1, Math.ceil(retryAfterMs(outstanding)));
    await this.redis.zadd(key, 'XX', now + retryMs, member);
    return retryMs;
  }

  /**
   * Takes the place kept for one refusal of the queue whose time has come (within `PROMISE_GRACE_MS`),
   * the earliest: of anyone's refusals or, given `owner`, of that owner's only (its key's, or with a
   * fingerprint, the same request's). True if there was one, and the request asking may then be
   * admitted past the expected-wait bound.
   */
  async honor(pool: string, model: string, owner?: DeferredOwner): Promise<boolean> {
    const prefix = owner === undefined ? '' : ownerPrefix(owner);
    return (await (this.redis as unknown as DeferCommand).syHonor(this.key(pool, model), String(PROMISE_GRACE_MS), prefix)) === 1;
  }

  /** Refusals of the queue still to come back (by Redis's clock). */
  outstanding(pool: string, model: string): Promise<number> {
    return (this.redis as unknown as DeferCommand).syOutstanding(this.key(pool, model));
  }
}
