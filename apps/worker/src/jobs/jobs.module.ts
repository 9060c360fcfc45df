import { Module } from '@nestjs/common';
import { OllamaModule } from '../ollama/ollama.module';
import { RelayModule } from '../relay/relay.module';
import { UsageModule } from '../usage/usage.module';
import { CancelSubscriber } from './cancel.subscriber';
import { InferenceProcessor } from './inference.processor';
import { JobPullers } from './job-pullers.service';
import { RunningJobs } from './running-jobs.registry';

@Module({
  imports: [OllamaModule, RelayModule, UsageModule],
  providers: [RunningJobs, InferenceProcessor, JobPullers, CancelSubscriber],
  exports: [RunningJobs, JobPullers, CancelSubscriber, UsageModule],
})
export class JobsModule {}
