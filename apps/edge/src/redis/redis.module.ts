import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { ReadinessService, ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';

/** The edge's one command connection (rate limits, residency, cancel publishes, BullMQ producers). */
export const REDIS = Symbol('REDIS');

export type MessageHandler = (message: string) => void;

/**
 * The edge's one subscriber connection, shared by every channel it listens on (its relay channel,
 * auth events): never a Redis connection per request. ioredis re-subscribes after a reconnect; those
 * who may have missed messages meanwhile (the auth cache) are told through `onReconnect`.
 */
@Injectable()
export class RedisSubscriber implements OnModuleInit, OnApplicationShutdown {
  private readonly conn: Redis;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly reconnectListeners: Array<() => void> = [];
  private everReady = false;

  constructor(
    @Inject(EDGE_CONFIG) config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {
    this.conn = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: `${config.EDGE_ID}:sub` });
    this.conn.on('message', (channel: string, message: string) => this.handlers.get(channel)?.(message));
    this.conn.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'redis subscriber error'));
    this.conn.on('ready', () => {
      if (this.everReady) for (const l of this.reconnectListeners) l();
      this.everReady = true;
    });
  }

  async onModuleInit(): Promise<void> {
    await this.conn.connect();
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<void> {
    this.handlers.set(channel, handler);
    await this.conn.subscribe(channel);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async onApplicationShutdown(): Promise<void> {
    this.conn.disconnect();
  }
}

@Injectable()
class RedisLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly readiness: ReadinessService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.redis.connect();
    this.readiness.register('redis', async () => {
      await this.redis.ping();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [EDGE_CONFIG, ROOT_LOGGER],
      useFactory: (config: EdgeConfig, logger: Logger) => {
        const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: `${config.EDGE_ID}:cmd` });
        redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis error'));
        return redis;
      },
    },
    RedisSubscriber,
    RedisLifecycle,
  ],
  exports: [REDIS, RedisSubscriber],
})
export class RedisModule {}
