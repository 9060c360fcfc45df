import { Module } from '@nestjs/common';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
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
        createPolicy(c.SCHEDULER_POLICY, {
          minResidencyMs: c.SCHEDULER_MIN_RESIDENCY_MS,
          maxWaitMs: c.SCHEDULER_MAX_WAIT_MS,
          replicateWaitMs: c.SCHEDULER_REPLICATE_WAIT_MS,
          batchMinJobs: c.SCHEDULER_BATCH_MIN_JOBS,
          memoryReserveFraction: c.SCHEDULER_MEMORY_RESERVE_FRACTION,
          loadBandwidthBytesPerSec: c.SCHEDULER_LOAD_BANDWIDTH_GBPS * 1e9,
          loadOverheadSeconds: c.SCHEDULER_LOAD_OVERHEAD_S,
          maxModelsPerWorker: c.SCHEDULER_MAX_MODELS_PER_WORKER,
          idleAfterMs: c.SCHEDULER_IDLE_AFTER_MS,
          keepHorizonMs: c.SCHEDULER_KEEP_HORIZON_MS,
          ollamaFitFraction: c.SCHEDULER_OLLAMA_FIT_FRACTION,
        }),
    },
    SchedulerService,
  ],
  exports: [SchedulerService],
})
export class SchedulingModule {}
