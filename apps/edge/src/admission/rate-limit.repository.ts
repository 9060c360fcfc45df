import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@switchyard/contracts';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { REDIS } from '@switchyard/redis';

export const RATE_WINDOW_MS = 60_000;

/**
 * Sliding one-minute windows per key, in Redis so every edge shares them: a sorted set of the key's
 * requests (member = request id) and one of its tokens (member = "requestId:tokens"), both scored
 * by Redis's own clock. Check and add happen in one script, so concurrent edges cannot overshoot.
 * Returns: allowed, requests in window, ms until a request slot frees (when full), ms until the
 * oldest request leaves, tokens in window, ms until enough tokens free (-1: never fits), ms until
 * the oldest token entry leaves.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local member = ARGV[4]
local tokens = tonumber(ARGV[5])
local floor = now - window
local function toks(m) return tonumber(string.match(m, ':(%d+)$')) or 0 end
local reqCount, reqRetry, tokUsed, tokRetry = 0, 0, 0, 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', floor)
  reqCount = redis.call('ZCARD', KEYS[1])
  if reqCount >= rpm then
    local e = redis.call('ZRANGE', KEYS[1], reqCount - rpm, reqCount - rpm, 'WITHSCORES')
    reqRetry = tonumber(e[2]) + window - now
  end
end
local entries = {}
if tpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', floor)
  entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do tokUsed = tokUsed + toks(entries[i]) end
  if tokUsed + tokens > tpm then
    tokRetry = -1
    if tokens <= tpm then
      local need, freed = tokUsed + tokens - tpm, 0
      for i = 1, #entries, 2 do
        freed = freed + toks(entries[i])
        if freed >= need then tokRetry = tonumber(entries[i + 1]) + window - now break end
      end
    end
  end
end
local ok = 1
if (rpm > 0 and reqCount >= rpm) or (tpm > 0 and tokUsed + tokens > tpm) then ok = 0 end
if ok == 1 then
  if rpm > 0 then
    redis.call('ZADD', KEYS[1], now, member)
    redis.call('PEXPIRE', KEYS[1], window)
    reqCount = reqCount + 1
  end
  if tpm > 0 then
    redis.call('ZADD', KEYS[2], now, member .. ':' .. tokens)
    redis.call('PEXPIRE', KEYS[2], window)
    tokUsed = tokUsed + tokens
  end
end
local reqOldest, tokOldest = 0, 0
if rpm > 0 then
  local e = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if e[2] then reqOldest = tonumber(e[2]) + window - now end
end
if tpm > 0 then
  local e = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if e[2] then tokOldest = tonumber(e[2]) + window - now end
end
return {ok, reqCount, reqRetry, reqOldest, tokUsed, tokRetry, tokOldest}
`;

/** Replaces a request's reserved token count by what it really used (same position in the window). */
const SETTLE = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[1], s, ARGV[2])
end
return 1
`;

export interface RateLimitResult {
  allowed: boolean;
  requests: { limit: number; used: number; retryMs: number; resetMs: number };
  /** `retryMs` -1: the request alone is larger than the limit. */
  tokens: { limit: number; used: number; retryMs: number; resetMs: number };
}

@Injectable()
export class RateLimitRepository {
  private readonly prefix: string;
  private readonly shas = new Map<string, string>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EDGE_CONFIG) config: EdgeConfig,
  ) {
    this.prefix = config.SWITCHYARD_PREFIX;
  }

  async admit(keyId: string, requestId: string, rpm: number, tpm: number, tokens: number): Promise<RateLimitResult> {
    const keys = [RedisKeys.rateRequests(this.prefix, keyId), RedisKeys.rateTokens(this.prefix, keyId)];
    const r = (await this.run(ADMIT, keys, [RATE_WINDOW_MS, rpm, tpm, requestId, Math.max(0, Math.round(tokens))])) as number[];
    return {
      allowed: r[0] === 1,
      requests: { limit: rpm, used: r[1], retryMs: r[2], resetMs: r[3] },
      tokens: { limit: tpm, used: r[4], retryMs: r[5], resetMs: r[6] },
    };
  }

  async settle(keyId: string, requestId: string, reserved: number, actual: number): Promise<void> {
    if (reserved === actual) return;
    const key = RedisKeys.rateTokens(this.prefix, keyId);
    await this.run(SETTLE, [key], [`${requestId}:${reserved}`, `${requestId}:${Math.max(0, Math.round(actual))}`]);
  }

  /** Takes a request back out of the windows (it was admitted but could not be queued). */
  async refund(keyId: string, requestId: string, reserved: number): Promise<void> {
    await this.redis
      .multi()
      .zrem(RedisKeys.rateRequests(this.prefix, keyId), requestId)
      .zrem(RedisKeys.rateTokens(this.prefix, keyId), `${requestId}:${reserved}`)
      .exec();
  }

  private async run(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    let sha = this.shas.get(script);
    if (!sha) {
      sha = createHash('sha1').update(script).digest('hex');
      this.shas.set(script, sha);
    }
    try {
      return await this.redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return this.redis.eval(script, keys.length, ...keys, ...args);
    }
  }
}
