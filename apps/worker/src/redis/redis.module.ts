import { Global, Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import IORedis, { type Redis } from 'ioredis';
import { ReadinessService } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { REDIS_BULL, REDIS_COMMANDS } from './redis.tokens';

/** Registers the Redis readiness check and closes the connections last, after the BullMQ workers. */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(REDIS_COMMANDS) private readonly commands: Redis,
    @Inject(REDIS_BULL) private readonly bull: Redis,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('redis', async () => {
      await this.commands.ping();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.bull.quit()]);
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS_COMMANDS,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig) => new IORedis(config.REDIS_URL, { connectionName: `sy-worker-${config.WORKER_ID}` }),
    },
    {
      provide: REDIS_BULL,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig) =>
        new IORedis(config.REDIS_URL, { maxRetriesPerRequest: null, connectionName: `sy-worker-bull-${config.WORKER_ID}` }),
    },
    RedisConnections,
  ],
  exports: [REDIS_COMMANDS, REDIS_BULL],
})
export class RedisModule {}
