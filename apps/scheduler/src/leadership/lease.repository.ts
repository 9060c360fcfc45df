import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@switchyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { REDIS } from '@switchyard/redis';

/** Takes the lease when nobody holds it: the value is `<replica id>:<INCR of the fence counter>`. */
const ACQUIRE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local value = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then return value end
return false`;

/**
 * Extends our lease (1). When the key is gone (it expired, or Redis restarted empty) and nobody took
 * the lease since we did — the fence counter still holds our token, or is gone too — takes it back
 * with the same value (2), restoring the counter. Anything else: lost (0).
 */
const RENEW_LUA = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
local fence = redis.call('GET', KEYS[2])
if fence and fence ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if not fence then redis.call('SET', KEYS[2], ARGV[3]) end
return 2`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** HSET / HDEL on KEYS[2] only while the lease (KEYS[1]) holds ARGV[1]; 0 when refused. */
const FENCED_HSET_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1`;

const FENCED_HDEL_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[2], unpack(ARGV, 2))
return 1`;

interface LeaseCommands {
  syLeaseAcquire(leader: string, fence: string, replicaId: string, ttlMs: number): Promise<string | null>;
  syLeaseRenew(leader: string, fence: string, value: string, ttlMs: number, token: string): Promise<number>;
  syLeaseRelease(leader: string, value: string): Promise<number>;
  syFencedHset(leader: string, key: string, value: string, ...fieldsAndValues: string[]): Promise<number>;
  syFencedHdel(leader: string, key: string, value: string, ...fields: string[]): Promise<number>;
}

export type RenewResult = 'renewed' | 'reacquired' | 'lost';

/**
 * The scheduler lease in Redis (`RedisKeys.schedulerLeader`, value `<replica id>:<fencing token>`,
 * token from INCR of `RedisKeys.schedulerFence`), and writes fenced by it: each is a script that
 * first checks the lease still holds the writer's value, so a replica that lost the lease (paused,
 * cut off) cannot overwrite what the new leader wrote.
 */
@Injectable()
export class LeaseRepository {
  private readonly leaderKey: string;
  private readonly fenceKey: string;
  private readonly commands: LeaseCommands;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) config: Pick<SchedulerConfig, 'SWITCHYARD_PREFIX'>,
  ) {
    this.leaderKey = RedisKeys.schedulerLeader(config.SWITCHYARD_PREFIX);
    this.fenceKey = RedisKeys.schedulerFence(config.SWITCHYARD_PREFIX);
    redis.defineCommand('syLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    redis.defineCommand('syLeaseRenew', { numberOfKeys: 2, lua: RENEW_LUA });
    redis.defineCommand('syLeaseRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    redis.defineCommand('syFencedHset', { numberOfKeys: 2, lua: FENCED_HSET_LUA });
    redis.defineCommand('syFencedHdel', { numberOfKeys: 2, lua: FENCED_HDEL_LUA });
    this.commands = redis as unknown as LeaseCommands;
  }

  /** Takes the lease if it is free: resolves with our value, or undefined when another replica holds it. */
  async acquire(replicaId: string, ttlMs: number): Promise<string | undefined> {
    return (await this.commands.syLeaseAcquire(this.leaderKey, this.fenceKey, replicaId, ttlMs)) ?? undefined;
  }

  async renew(value: string, ttlMs: number): Promise<RenewResult> {
    const r = await this.commands.syLeaseRenew(this.leaderKey, this.fenceKey, value, ttlMs, fencingToken(value));
    return r === 1 ? 'renewed' : r === 2 ? 'reacquired' : 'lost';
  }

  /** Gives the lease up if it is still ours (a standby takes over at its next try). */
  async release(value: string): Promise<boolean> {
    return (await this.commands.syLeaseRelease(this.leaderKey, value)) === 1;
  }

  /** The current holder's value, if any. */
  async holder(): Promise<string | undefined> {
    return (await this.redis.get(this.leaderKey)) ?? undefined;
  }

  /** HSET of `fields` into `key` if the lease holds `value`; false when refused. */
  async hsetIfLeader(value: string, key: string, fields: Record<string, string>): Promise<boolean> {
    const args = Object.entries(fields).flat();
    if (args.length === 0) return true;
    return (await this.commands.syFencedHset(this.leaderKey, key, value, ...args)) === 1;
  }

  /** HDEL of `fields` from `key` if the lease holds `value`; false when refused. */
  async hdelIfLeader(value: string, key: string, fields: string[]): Promise<boolean> {
    if (fields.length === 0) return true;
    return (await this.commands.syFencedHdel(this.leaderKey, key, value, ...fields)) === 1;
  }

  /** Calls `listener` each time the connection is ready again after being lost (Redis may have restarted empty). */
  onReconnect(listener: () => void): () => void {
    let lost = false;
    const onClose = () => {
      lost = true;
    };
    const onReady = () => {
      if (!lost) return;
      lost = false;
      listener();
    };
    this.redis.on('close', onClose);
    this.redis.on('ready', onReady);
    return () => {
      this.redis.off('close', onClose);
      this.redis.off('ready', onReady);
    };
  }
}

/** The fencing token of a lease value `<replica id>:<token>` (the replica id may hold ':'). */
export function fencingToken(value: string): string {
  return value.slice(value.lastIndexOf(':') + 1);
}
