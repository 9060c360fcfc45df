import { Module } from '@nestjs/common';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { GrpcUsageTransport, USAGE_TRANSPORT, UsageRecorder } from './usage.client';

@Module({
  providers: [
    {
      provide: USAGE_TRANSPORT,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig) => (config.AUTH_GRPC_URL ? new GrpcUsageTransport(config.AUTH_GRPC_URL) : null),
    },
    UsageRecorder,
  ],
  exports: [UsageRecorder],
})
export class UsageModule {}
