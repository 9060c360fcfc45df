import { Module } from '@nestjs/common';
import { policyOptions, SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { DemandModule } from '../demand/demand.module';
import { LeadershipModule } from '../leadership/leadership.module';
import { SchedulerMetricsModule } from '../metrics/scheduler.metrics';
import { PlacementModule } from '../placement/placement.module';
import { createPolicy } from '../policy';
import { ResidencyModule } from '../residency/residency.module';
import { PLACEMENT_POLICY, SchedulerService } from './scheduler.service';

/** The control loop and the placement policy it runs (SCHEDULER_POLICY). */
@Module({
  imports: [LeadershipModule, PlacementModule, DemandModule, ResidencyModule, SchedulerMetricsModule],
  providers: [
    {
      provide: PLACEMENT_POLICY,
      inject: [SCHEDULER_CONFIG],
      useFactory: (c: SchedulerConfig) =>
        createPolicy(c.SCHEDULER_POLICY, policyOptions(c)),
    },
    SchedulerService,
  ],
  exports: [SchedulerService],
})
export class SchedulingModule {}
