import { Module } from '@nestjs/common';
import { RelayModule } from '../relay/relay.module';
import { InferenceProducer } from './inference.producer';
import { JobRunner } from './job-runner.service';
import { ServiceTimeTracker } from './service-time.tracker';

@Module({
  imports: [RelayModule],
  providers: [InferenceProducer, JobRunner, ServiceTimeTracker],
  exports: [InferenceProducer, JobRunner, ServiceTimeTracker],
})
export class QueueModule {}
