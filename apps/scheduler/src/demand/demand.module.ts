import { Module } from '@nestjs/common';
import { SchedulerMetricsModule } from '../metrics/scheduler.metrics';
import { DemandService } from './demand.service';
import { QueueStatsRepository } from './queue-stats.repository';
import { StalledJobsReaper } from './stalled-jobs.reaper';

/** Watching every (pool, model) queue, and returning a dead worker's jobs to them. */
@Module({
  imports: [SchedulerMetricsModule],
  providers: [QueueStatsRepository, DemandService, StalledJobsReaper],
  exports: [DemandService, StalledJobsReaper, QueueStatsRepository],
})
export class DemandModule {}
