import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@switchyard/contracts';
import { REDIS } from '@switchyard/redis';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RedisUsageTransport, USAGE_TRANSPORT, UsageRecorder } from './usage.client';

@Module({
  providers: [
    {
      provide: USAGE_TRANSPORT,
      inject: [WORKER_CONFIG, REDIS],
      useFactory: (config: WorkerConfig, redis: Redis) => (config.AUTH_GRPC_URL ? new RedisUsageTransport(redis, RedisKeys.usageStream(config.SWITCHYARD_PREFIX)) : null),
    },
    UsageRecorder,
  ],
  exports: [UsageRecorder],
})
export class UsageModule {}
