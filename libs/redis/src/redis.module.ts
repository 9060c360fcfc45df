import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { ReadinessService, ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { createRedisConnection, type RedisRole } from './connection';
import { RedisSubscriber } from './subscriber';

/** The service's command connection. */
export const REDIS = Symbol('REDIS');
/** The connection BullMQ workers share (blocking commands); only where `blocking` was asked for. */
export const REDIS_BLOCKING = Symbol('REDIS_BLOCKING');

export interface RedisModuleOptions {
  url: string;
  /** Connection names start with it (CLIENT LIST shows who is who). */
  name: string;
  /** Role of the command connection: `request` on a client's request path, else `background`. */
  commands: Extract<RedisRole, 'request' | 'background'>;
  /** The command connection pipelines the commands of one event-loop turn into one write (see `createRedisConnection`). */
  autoPipelining?: boolean;
  /** Also a connection for BullMQ workers. */
  blocking?: boolean;
  /** Also a shared pub/sub connection (`RedisSubscriber`). */
  subscriber?: boolean;
}

const OPTIONS = Symbol('REDIS_MODULE_OPTIONS');

/** Registers the readiness check, and closes every connection last of all. */
@Injectable()
class RedisLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly extra: Array<Redis | RedisSubscriber> = [];

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly readiness: ReadinessService,
  ) {}

  track(conn: Redis | RedisSubscriber | undefined): void {
    if (conn) this.extra.push(conn);
  }

  onModuleInit(): void {
    this.readiness.register('redis', async () => {
      const pong = await this.redis.ping();
      if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.extra) {
      if (c instanceof RedisSubscriber) c.close();
      else await c.quit().catch(() => c.disconnect());
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The one Redis module of every service: `RedisModule.forRoot({...})` in the app module, then inject
 * `REDIS` (and `REDIS_BLOCKING`, `RedisSubscriber` where asked for). Behaviour during an outage and
 * after it is the connection role's (see `createRedisConnection`).
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(opts: RedisModuleOptions): DynamicModule {
    const warnOn = (logger: Logger, what: string) => {
      let last = 0;
      return (err: Error) => {
        // One line per 5 s per connection, not one per reconnect attempt.
        if (Date.now() - last < 5000) return;
        last = Date.now();
        logger.warn({ err: err.message }, `redis ${what} connection error`);
      };
    };
    const providers = [
      { provide: OPTIONS, useValue: opts },
      {
        provide: REDIS,
        inject: [ROOT_LOGGER],
        // Connected before any other provider's onModuleInit can use it.
        useFactory: async (logger: Logger) => {
          const r = createRedisConnection(opts.url, { name: `${opts.name}:cmd`, role: opts.commands, lazyConnect: true, autoPipelining: opts.autoPipelining });
          r.on('error', warnOn(logger, 'command'));
          await r.connect();
          return r;
        },
      },
      {
        provide: REDIS_BLOCKING,
        inject: [ROOT_LOGGER],
        useFactory: (logger: Logger) => {
          if (!opts.blocking) return undefined;
          const r = createRedisConnection(opts.url, { name: `${opts.name}:bull`, role: 'blocking' });
          r.on('error', warnOn(logger, 'BullMQ'));
          return r;
        },
      },
      {
        provide: RedisSubscriber,
        inject: [ROOT_LOGGER],
        useFactory: async (logger: Logger) => {
          if (!opts.subscriber) return undefined;
          const sub = new RedisSubscriber(opts.url, `${opts.name}:sub`, warnOn(logger, 'subscriber'));
          await sub.connect();
          return sub;
        },
      },
      {
        provide: RedisLifecycle,
        inject: [REDIS, ReadinessService, REDIS_BLOCKING, RedisSubscriber],
        useFactory: (redis: Redis, readiness: ReadinessService, blocking?: Redis, subscriber?: RedisSubscriber) => {
          const lifecycle = new RedisLifecycle(redis, readiness);
          lifecycle.track(blocking);
          lifecycle.track(subscriber);
          return lifecycle;
        },
      },
    ];
    return { module: RedisModule, providers, exports: [REDIS, REDIS_BLOCKING, RedisSubscriber] };
  }
}
