import { createHash } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { authEventSchema, RedisKeys, type AuthEvent } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { Errors } from '@switchyard/openai';
import { RedisSubscriber } from '@switchyard/redis';
import { AuthClient, AuthUnavailableError, type Verdict } from './auth.client';
import { VerdictCache } from './verdict-cache';

/** A verified caller: the verdict plus the cache handle used to account its spending locally. */
export interface AuthContext extends Verdict {
  cacheKey: string;
}

/**
 * Authenticates `Authorization: Bearer` keys through `auth.v1.VerifyKey`, with an in-process cache
 * (short TTL) that auth events on Redis empty at once, so a revoked key stops working on every edge
 * within a second. Concurrent requests with one key share one VerifyKey call.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  readonly cache: VerdictCache;
  private readonly inflight = new Map<string, Promise<Verdict | null>>();

  constructor(
    private readonly client: AuthClient,
    private readonly subscriber: RedisSubscriber,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {
    this.cache = new VerdictCache(config.EDGE_AUTH_CACHE_TTL_MS);
  }

  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(RedisKeys.authEventsChannel(this.config.SWITCHYARD_PREFIX), (message) => this.onEvent(message));
    // Events published while the subscriber was reconnecting are lost: forget everything.
    this.subscriber.onReconnect(() => this.cache.drop(undefined));
  }

  onEvent(message: string): void {
    let event: AuthEvent | undefined;
    try {
      const parsed = authEventSchema.safeParse(JSON.parse(message));
      event = parsed.success ? parsed.data : undefined;
    } catch {
      event = undefined;
    }
    const dropped = this.cache.drop(event);
    this.logger.debug({ event: event?.type ?? 'unparsable', dropped }, 'auth event');
  }

  async authenticate(authorization: string | string[] | undefined): Promise<AuthContext> {
    const apiKey = bearerKey(authorization);
    if (!apiKey) throw Errors.missingKey();
    const cacheKey = createHash('sha256').update(apiKey).digest('base64url');
    let verdict = this.cache.get(cacheKey);
    if (!verdict) {
      let pending = this.inflight.get(cacheKey);
      if (!pending) {
        const generation = this.cache.generation;
        pending = this.client.verifyKey(apiKey).then((v) => {
          if (v) this.cache.set(cacheKey, v, generation);
          return v;
        });
        this.inflight.set(cacheKey, pending);
        void pending.then(
          () => this.inflight.delete(cacheKey),
          () => this.inflight.delete(cacheKey),
        );
      }
      let result: Verdict | null;
      try {
        result = await pending;
      } catch (err) {
        if (err instanceof AuthUnavailableError) {
          this.logger.warn({ err: err.message }, 'auth unavailable');
          throw Errors.authUnavailable();
        }
        throw err;
      }
      if (!result) throw Errors.invalidKey();
      verdict = result;
    }
    if (verdict.expiresAtMs > 0 && verdict.expiresAtMs <= Date.now()) throw Errors.invalidKey();
    return { ...verdict, cacheKey };
  }

  recordUsage(ctx: AuthContext, tokens: number): void {
    this.cache.addUsage(ctx.cacheKey, tokens);
  }
}

/** The key from `Authorization: Bearer <key>` (the only place a key is read from). */
export function bearerKey(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value.trim());
  return m ? m[1] : undefined;
}
