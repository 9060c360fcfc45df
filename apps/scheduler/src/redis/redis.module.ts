import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { ReadinessService } from '@switchyard/observability';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';

/** The scheduler's Redis connection (queue statistics, the worker registry, residency). */
export const REDIS = Symbol('REDIS');

@Injectable()
export class RedisLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('redis', async () => {
      const pong = await this.redis.ping();
      if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
    });
  }

  /** Last of all: everything else has stopped writing by now. */
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [SCHEDULER_CONFIG],
      useFactory: (config: SchedulerConfig) => new Redis(config.REDIS_URL, { connectionName: 'switchyard-scheduler', maxRetriesPerRequest: 3 }),
    },
    RedisLifecycle,
  ],
  exports: [REDIS],
})
export class RedisModule {}
