import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { authEventSchema, RedisKeys, type AuthEvent } from '@switchyard/contracts';
import { ReadinessService, ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { createRedisConnection } from '@switchyard/redis';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';

export type AuthEventListener = (event: AuthEvent) => void;

const SUBSCRIBE_WAIT_MS = 3000;
const PUBLISH_TIMEOUT_MS = 2000;

/**
 * Publishes auth events (`authEventSchema` of the contracts: `{type, keyId?, userId?}`, ids only,
 * never key material) on `RedisKeys.authEventsChannel(prefix)` after a revocation or policy change
 * is committed, so every edge (and every auth replica) drops cached verdicts at once.
 *
 * Publishes auth events on Redis and delivers events to in-process listeners (the verify
 * cache). A local change reaches local listeners synchronously, before the Redis round trip;
 * events from other auth replicas arrive through the subscription.
 */
@Injectable()
export class AuthEventsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger: Logger;
  private readonly channel: string;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Set<AuthEventListener>();
  private readonly resyncListeners = new Set<() => void>();
  private subscribedOnce = false;

  constructor(
    @Inject(AUTH_CONFIG) config: AuthConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
    private readonly readiness: ReadinessService,
  ) {
    this.logger = rootLogger.child({ context: AuthEventsService.name });
    this.channel = RedisKeys.authEventsChannel(config.SWITCHYARD_PREFIX);
    this.pub = createRedisConnection(config.REDIS_URL, { name: 'switchyard-auth', role: 'background', lazyConnect: true });
    this.sub = createRedisConnection(config.REDIS_URL, { name: 'switchyard-auth:sub', role: 'subscriber', lazyConnect: true });
    for (const [name, client] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      client.on('error', (err: Error) => this.logger.warn({ client: name, err: { message: err.message } }, 'redis connection error'));
    }
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // Events published while the subscriber was disconnected are lost: after a reconnect, caches
    // must forget everything rather than trust verdicts that may have been revoked meanwhile.
    this.sub.on('ready', () => {
      if (this.subscribedOnce) this.resync();
      this.subscribedOnce = true;
    });
  }

  async onModuleInit(): Promise<void> {
    this.readiness.register('redis', async () => {
      await this.pub.ping();
    });
    const subscribed = Promise.all([this.pub.connect(), this.sub.connect()]).then(() => this.sub.subscribe(this.channel));
    // Boot does not wait for a Redis that is down: /readyz reports it, and ioredis reconnects
    // (re-subscribing) in the background.
    const outcome = await Promise.race([
      subscribed.then(() => 'ok' as const),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SUBSCRIBE_WAIT_MS).unref()),
    ]).catch((err: Error) => err);
    if (outcome === 'ok') this.logger.info({ channel: this.channel }, 'subscribed to auth events');
    else this.logger.warn({ channel: this.channel, problem: outcome === 'timeout' ? 'timeout' : outcome.message }, 'redis not reachable yet; auth events will flow once it is');
  }

  onEvent(listener: AuthEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `listener` runs when events may have been missed (the subscription reconnected). */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /**
   * Tells local listeners at once, then every other process through Redis. A Redis failure is
   * logged, not thrown: the change is already committed, and edges' short cache TTL bounds how
   * long they may act on the old verdict.
   */
  async publish(event: AuthEvent): Promise<void> {
    this.deliver(event);
    try {
      await withTimeout(this.pub.publish(this.channel, JSON.stringify(event)), PUBLISH_TIMEOUT_MS);
    } catch (err) {
      this.logger.error({ event, err: { message: err instanceof Error ? err.message : String(err) } }, 'could not publish auth event');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.sub.quit().catch(() => this.sub.disconnect()), this.pub.quit().catch(() => this.pub.disconnect())]);
  }

  private receive(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      this.logger.warn('ignored an auth event that is not JSON');
      return;
    }
    const result = authEventSchema.safeParse(parsed);
    if (!result.success) {
      this.logger.warn('ignored an auth event of unknown shape');
      return;
    }
    this.deliver(result.data);
  }

  private resync(): void {
    this.logger.info('auth events subscription reconnected; dropping cached verdicts');
    for (const listener of this.resyncListeners) listener();
  }

  private deliver(event: AuthEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err }, 'auth event listener failed');
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
