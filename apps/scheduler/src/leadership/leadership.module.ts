import { Module } from '@nestjs/common';
import { SchedulerMetricsModule } from '../metrics/scheduler.metrics';
import { FencedWriter } from './fenced-writer';
import { LeaderElection } from './leader-election.service';
import { LeaseRepository } from './lease.repository';

/** Which scheduler replica leads (a Redis lease with a fencing token), and writes fenced by it. */
@Module({
  imports: [SchedulerMetricsModule],
  providers: [LeaseRepository, LeaderElection, FencedWriter],
  exports: [LeaderElection, FencedWriter],
})
export class LeadershipModule {}
