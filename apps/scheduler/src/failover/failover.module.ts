import { Module } from '@nestjs/common';
import { DemandModule } from '../demand/demand.module';
import { SchedulerMetricsModule } from '../metrics/scheduler.metrics';
import { PlacementModule } from '../placement/placement.module';
import { LostWorkerResolver } from './lost-worker.resolver';
import { OrphanedJobsRepository } from './orphaned-jobs.repository';

/** Resolving the running jobs of a worker that died. */
@Module({
  imports: [PlacementModule, DemandModule, SchedulerMetricsModule],
  providers: [OrphanedJobsRepository, LostWorkerResolver],
  exports: [LostWorkerResolver],
})
export class FailoverModule {}
